"""Every task of routing, registered under its old name: Celery's autodiscovery imports this module;
each task lives with its package."""

from routing.batches.tasks import example_search_backfill_run, example_search_index_run  # noqa: F401
from routing.judging.tasks import judge_chunk, judge_verdict  # noqa: F401
from routing.monitoring.tasks import batch_input_drift_run  # noqa: F401
from routing.training.tasks import batch_backtest, router_retrain, router_retrain_check  # noqa: F401
