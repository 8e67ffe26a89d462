"""The lead's pages and API of routing: the judge panel, the model page, the backtest."""
