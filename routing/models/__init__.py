from .alarms import Alarm
from .batch import Batch, Domain, Example
from .imports import ImportJob
from .jobs import RetrainJob
from .judge import JudgeConfig, JudgeRun, JudgeSignals, Judgment
from .router import RouterModel, RoutingDecision
from .runs import RoutingRun

__all__ = [
    "Alarm",
    "Batch",
    "Domain",
    "Example",
    "ImportJob",
    "JudgeConfig",
    "JudgeRun",
    "JudgeSignals",
    "Judgment",
    "RetrainJob",
    "RouterModel",
    "RoutingDecision",
    "RoutingRun",
]
