"""The split codemod (tools/split_routing.py) on small inputs: each rewrite it promises, exactly."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))

from split_routing_cut import absolutize, name_tasks, parse_module, split_plan  # noqa: E402
from split_routing_rewrite import Rewriter  # noqa: E402

MODULES = {
    "routing.router": "routing.scoring",
    "routing.router.backtest": "routing.training.backtest",
    "routing.router.power": "routing.scoring.power",
    "routing.services.route": "routing.decisions.route",
    "routing.services.import_jobs": "routing.ingest.import_jobs",
    "routing.admin_core": "routing.decisions.admin",
}
SYMBOLS = {
    "routing.selectors": {"router_active": "routing.scoring.selectors", "*": "routing.decisions.selectors"},
    "routing.tasks": {"judge_chunk": "routing.judging.tasks"},
}


def rewrite(text: str, python: bool = True) -> str:
    return Rewriter(MODULES, SYMBOLS).text(text, python=python)


def test_split_routing_from_import_is_split_by_symbol():
    assert rewrite("from routing.selectors import batch_routing_runs, router_active\n") == (
        "from routing.decisions.selectors import batch_routing_runs\n"
        "from routing.scoring.selectors import router_active\n")


def test_split_routing_parenthesized_import_keeps_its_comments():
    source = "from routing.selectors import (  # noqa: E402\n    router_active,  # noqa: F401\n    x,\n)\n"
    assert rewrite(source) == (
        "from routing.scoring.selectors import (  # noqa: E402\n    router_active,  # noqa: F401\n)\n"
        "from routing.decisions.selectors import x  # noqa: E402\n")


def test_split_routing_module_imported_from_its_package_keeps_its_local_name():
    assert rewrite("from routing.services import import_jobs\n") == "from routing.ingest import import_jobs\n"
    assert rewrite("from routing import admin_core\n") == "from routing.decisions import admin as admin_core\n"


def test_split_routing_dotted_paths_take_the_longest_match():
    assert rewrite("import routing.router.power as p\n") == "import routing.scoring.power as p\n"
    assert rewrite('patch("routing.router.backtest.items")') == 'patch("routing.training.backtest.items")'
    assert rewrite('"routing.router.items"') == '"routing.scoring.items"'
    assert rewrite('"routing.selectors.router_active"') == '"routing.scoring.selectors.router_active"'


def test_split_routing_leaves_task_names_and_partial_words():
    unchanged = ('TASKS = {"routing.tasks.judge_chunk": JUDGE}\n'
                 "x = myrouting.router.power + routing.routerx.power\n")
    assert rewrite(unchanged) == unchanged


def test_split_routing_file_paths_in_prose():
    assert rewrite("see `routing/router/power.py` and `routing/router/`", python=False) == (
        "see `routing/scoring/power.py` and `routing/scoring/`")
    unchanged = "the page /routing/model/ and the template routing/judge_panel.html"
    assert rewrite(unchanged, python=False) == unchanged


def test_split_routing_relative_imports_become_absolute():
    assert absolutize("routing/judges/fewshot.py", "from .base import FewShot\n") == (
        "from routing.judges.base import FewShot\n")
    assert absolutize("routing/fake_judge/__init__.py", "from .server import X\n") == (
        "from routing.fake_judge.server import X\n")


SOURCE = '''"""Doc."""

import logging

log = logging.getLogger(__name__)


def _shared(x):
    return x


def kept(x):
    log.info("kept")
    return _shared(x)


def moved(x):
    log.info("moved")
    return _shared(x) + 1


def other():
    return 2
'''


def test_split_routing_helpers_follow_every_definition_that_uses_them():
    doc, header, body = parse_module(SOURCE)
    owners = split_plan(body, {"moved": "b.py"}, "a.py")
    assert (doc, header) == ("Doc.", ["import logging\n"])
    assert {name: owner for s, owner in zip(body, owners, strict=True) for name in s.names} == {
        "log": {"a.py", "b.py"}, "_shared": {"a.py", "b.py"}, "kept": {"a.py"}, "moved": {"b.py"}, "other": {"a.py"}}


def test_split_routing_moved_tasks_keep_their_old_names():
    assert name_tasks("@shared_task(acks_late=True)\ndef judge_chunk(run_id):\n") == (
        '@shared_task(name="routing.tasks.judge_chunk", acks_late=True)\ndef judge_chunk(run_id):\n')
    assert name_tasks("@shared_task\ndef sweep():\n") == '@shared_task(name="routing.tasks.sweep")\ndef sweep():\n'
    named = '@shared_task(name="housekeeping.sweep")\ndef sweep():\n'
    assert name_tasks(named) == named
