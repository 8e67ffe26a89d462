from .batch import Batch, Domain, Example
from .judge import JudgeConfig, Judgment, JudgeRun, JudgeSignals
from .router import RouterModel, RoutingDecision

__all__ = [
    "Batch",
    "Domain",
    "Example",
    "JudgeConfig",
    "JudgeRun",
    "JudgeSignals",
    "Judgment",
    "RouterModel",
    "RoutingDecision",
]
