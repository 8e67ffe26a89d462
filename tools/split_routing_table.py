"""The tables of ``tools/split_routing.py``: where each module of ``routing/`` goes.

Edit these, not the code, when another branch added a module: a file not listed is moved by
DIR_RULES (and printed), a definition not listed goes to its split's default file.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PACKAGES = {
    "routing/batches": "Batches, examples and domains: the rows every stage shares, the label port and the events.",
    "routing/ingest": "Import format v1 (JSONL and JSON), its validation, the COPY path and import jobs.",
    "routing/judging": "Judges (a live OpenAI-compatible endpoint), judge runs, verdicts, confidence signals and "
                       "the fake judge server.",
    "routing/scoring": "The router: features, candidate scores, the learned model, certification (Learn-then-Test), "
                       "power, selection and budgets, and the stored router versions.",
    "routing/decisions": "Routing a batch: decisions, audits, risk groups, the stored routing runs and the sweeper.",
    "routing/training": "Training, promoting and backtesting the router.",
    "routing/monitoring": "Input drift, alarms and the rate figures (intervals, agreement, calibration).",
    "routing/web": "The lead's pages and API of routing: the judge panel, the model page, the backtest.",
}

_SERVICES = {
    "import_v1": "ingest", "import_json": "ingest", "import_rules": "ingest", "import_validation": "ingest",
    "ingest_copy": "ingest", "import_jobs": "ingest", "judging": "judging/services", "judge_runs": "judging",
    "signals": "judging", "route": "decisions", "audit": "decisions", "routing_runs": "decisions",
    "risk_groups": "decisions", "sweeper": "decisions", "input_drift": "monitoring",
    "router_training": "training", "router_promotion": "training", "backtest_jobs": "training",
}
_JUDGES = ["base", "fewshot", "guards", "limit_stores", "limits", "openai_backend", "prompts", "runner", "transport"]
_ROUTER = ["vectorized", "candidates", "model", "scoring", "certify", "power", "selection", "budget", "items"]


def _service_target(name: str, where: str) -> str:
    return f"routing/{where}.py" if "/" in where else f"routing/{where}/{name}.py"


# old file -> new file (None: delete; its package has a new home)
MOVES: dict[str, str | None] = {
    "routing/domains.py": "routing/batches/domains.py",
    "routing/labels.py": "routing/batches/labels.py",
    "routing/events.py": "routing/batches/events.py",
    "routing/models/batch.py": "routing/batches/models.py",
    "routing/models/imports.py": "routing/ingest/models.py",
    "routing/selectors_imports.py": "routing/ingest/selectors.py",
    "routing/models/judge.py": "routing/judging/models.py",
    "routing/judges/__init__.py": "routing/judging/__init__.py",
    "routing/admin_judge.py": "routing/judging/admin.py",
    "routing/router/__init__.py": "routing/scoring/__init__.py",
    "routing/router/backtest.py": "routing/training/backtest.py",
    "routing/admin_core.py": "routing/decisions/admin.py",
    "routing/metrics.py": "routing/monitoring/metrics.py",
    "routing/models/alarms.py": "routing/monitoring/models.py",
    "routing/views_judge.py": "routing/web/views_judge.py",
    "routing/views_router.py": "routing/web/views_router.py",
    "routing/apis_judge.py": "routing/web/apis_judge.py",
    "routing/forms.py": "routing/web/forms.py",
    "routing/services/__init__.py": None,
    **{f"routing/services/{n}.py": _service_target(n, w) for n, w in _SERVICES.items()},
    **{f"routing/judges/{n}.py": f"routing/judging/{n}.py" for n in _JUDGES},
    **{f"routing/router/{n}.py": f"routing/scoring/{n}.py" for n in _ROUTER},
}
# New files under an old directory that MOVES does not list (another branch added them).
DIR_RULES = {
    "routing/judges": "routing/judging",
    "routing/fake_judge": "routing/judging/fake_judge",
    "routing/router": "routing/scoring",
    "routing/services": "routing/decisions",
}
TOP_LEVEL_RULES = [(re.compile(r"^routing/(views|apis)_\w+\.py$"), "routing/web")]

# Modules cut by definition: old file -> ({definition: new file}, default new file, docstrings of new files)
SPLITS: dict[str, tuple[dict[str, str], str]] = {
    "routing/selectors.py": ({
        **dict.fromkeys(["example_references", "labeled_examples", "human_label_count",
                         "examples_first_labeled_after", "batch_domains"], "routing/batches/selectors.py"),
        **dict.fromkeys(["example_inputs", "router_active", "router_models", "router_latest",
                         "router_previous_active"], "routing/scoring/selectors.py"),
    }, "routing/decisions/selectors.py"),
    "routing/judges/selectors.py": ({"batch_judge_coverage": "routing/decisions/selectors.py"},
                                    "routing/judging/selectors.py"),
    "routing/services/pipeline.py": (dict.fromkeys(["BUSY_STATUSES", "batch_status_set"],
                                                   "routing/batches/services.py"), "routing/decisions/pipeline.py"),
    "routing/models/router.py": ({"RouterModel": "routing/scoring/models.py"}, "routing/decisions/models.py"),
    "routing/models/runs.py": ({}, "routing/decisions/models.py"),
    "routing/tasks.py": ({
        **dict.fromkeys(["judge_chunk", "judge_verdict"], "routing/judging/tasks.py"),
        **dict.fromkeys(["router_retrain_check", "router_retrain", "batch_backtest"], "routing/training/tasks.py"),
        "batch_input_drift_run": "routing/monitoring/tasks.py",
    }, "routing/decisions/tasks.py"),
}
NEW_DOCSTRINGS = {
    "routing/batches/selectors.py": "Reads of batches, domains and the human reference labels (through the "
                                    "``routing.batches.labels`` port).\n\nRouting never reads reviewer rows "
                                    "itself: labels come through the port.",
    "routing/batches/services.py": "Writes of a batch's own state: its pipeline stage.",
    "routing/scoring/selectors.py": "Reads for the router: the stored router versions and the router's view of "
                                    "stored examples.",
    "routing/scoring/models.py": "The stored router versions.",
    "routing/decisions/selectors.py": "Reads of the stored decisions and the routing runs behind them.",
    "routing/decisions/models.py": "Routing decisions and the stored routing runs that made them.",
    "routing/judging/tasks.py": "Judge tasks. Their names are the ones they had in ``routing/tasks.py``: queued "
                                "messages, routes (``hybridqc/queues.py``) and annotations use them.",
    "routing/training/tasks.py": "Router training and backtest tasks (names kept from ``routing/tasks.py``).",
    "routing/monitoring/tasks.py": "Monitoring tasks (names kept from ``routing/tasks.py``).",
    "routing/decisions/tasks.py": "Routing tasks (names kept from ``routing/tasks.py``).",
}
TASKS_REGISTRY = "routing/tasks.py"
TASK_NAME_PREFIX = "routing.tasks."

TEST_PACKAGES = {
    "ingest": ["import_bounds", "import_copy", "import_fuzz", "import_jobs", "import_v1"],
    "judging": ["judge_admin", "judge_faults", "judge_guards", "judge_leaks", "judge_limits", "judge_parsing",
                "judge_service", "judge_variants", "judge_worker"],
    "web": ["judge_views"],
    "batches": ["domains"],
    "decisions": ["audit", "audit_defaults", "pipeline_worker", "router_routing", "routing_runs", "signals_and_route"],
    "scoring": ["router_candidates", "router_certify", "router_model"],
    "training": ["router_promotion", "backtest_command"],
    "monitoring": ["metrics"],
}
TEST_MOVES = {f"tests/routing/test_{n}.py": f"tests/routing/{pkg}/test_{n}.py"
              for pkg, names in TEST_PACKAGES.items() for n in names}
# Tests of routing's top-level modules stay in tests/routing/.
TEST_KEEP = {"tests/routing/test_tasks.py"}
TEST_RULES = [("test_import", "ingest"), ("test_judge", "judging"), ("test_router", "scoring"),
              ("test_backtest", "training"), ("test_routing", "decisions"), ("test_audit", "decisions"),
              ("test_signals", "judging"), ("test_drift", "monitoring"), ("test_alarm", "monitoring")]

# Old packages as a whole (dotted and directory references in prose)
PACKAGE_MOVES = {"routing.judges": "routing.judging", "routing.router": "routing.scoring",
                 "routing.fake_judge": "routing.judging.fake_judge"}

TEXT_SUFFIXES = {".py", ".md", ".toml", ".cfg", ".ini", ".txt", ".yml", ".yaml", ".html", ".js", ".sh"}
TEXT_NAMES = {"Makefile", "run"}
SKIP_PARTS = {".git", ".venv", "migrations", "node_modules", "data", "static_root"}
SELF = re.compile(r"^(tools/split_routing\w*|tests/tools/test_split_routing)\.py$")  # the codemod names the old paths


def mod(path: str) -> str:
    """routing/judging/models.py -> routing.judging.models (a package's __init__ -> the package)."""
    p = path[:-3] if path.endswith(".py") else path
    p = p[: -len("/__init__")] if p.endswith("/__init__") else p
    return p.replace("/", ".")


def wrapped(text: str) -> str:
    """A docstring of the tables, wrapped to the house's line length."""
    return "\n\n".join(textwrap.fill(p, width=100) for p in text.split("\n\n"))
