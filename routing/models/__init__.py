from routing.batches.models import Batch, Domain, Example, ExampleSearch, SearchIndexedBatch
from routing.decisions.models import RoutingDecision, RoutingRun
from routing.ingest.models import ImportJob
from routing.judging.models import JudgeConfig, JudgeRun, JudgeSignals, Judgment
from routing.monitoring.models import Alarm
from routing.scoring.models import RouterModel
from routing.training.models import RetrainJob

__all__ = [
    "Alarm",
    "Batch",
    "Domain",
    "Example",
    "ExampleSearch",
    "ImportJob",
    "JudgeConfig",
    "JudgeRun",
    "JudgeSignals",
    "Judgment",
    "RetrainJob",
    "RouterModel",
    "RoutingDecision",
    "RoutingRun",
    "SearchIndexedBatch",
]
