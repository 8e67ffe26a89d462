"""Training, promoting and backtesting the router."""
