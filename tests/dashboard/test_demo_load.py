import os
import shutil
import subprocess
import sys

from django.contrib.auth import authenticate
from django.core.management import call_command
from django.utils.html import escape

from dashboard.gate import batch_gate
from dashboard.selectors import batch_report
from reviewers.models import ReviewTask
from routing.batches.models import Batch
from routing.scoring.models import RouterModel
from tests import factories


def test_demo_load_builds_batches_users_and_played_back_work(db, capsys):
    call_command("demo_load", "--limit", "40")
    out = capsys.readouterr().out
    assert "admin    / hybridqc-demo" in out
    assert [authenticate(username=u, password="hybridqc-demo") is not None for u in ("admin", "lead", "reviewer")] == [
        True, True, True]
    assert sorted(Batch.objects.values_list("name", flat=True)) == [
        "llmbar-adversarial", "llmbar-natural", "mtbench-experts", "pandalm-part1", "pandalm-part2"]
    tasks = ReviewTask.objects.count()
    done = ReviewTask.objects.filter(status="done").count()
    assert tasks > 0 and 0 < done < tasks
    reports = [batch_report(b) for b in Batch.objects.all()]
    assert sum(r["examples"] for r in reports) == 200
    assert any(r["override_rate"] is not None for r in reports)

    assert RouterModel.objects.filter(is_active=True).count() == 1


def test_demo_load_shows_a_gate_that_passes_and_gates_that_hold_with_reasons(db, client, capsys):
    call_command("demo_load", "--limit", "40")
    gates = {b.name: batch_gate(b) for b in Batch.objects.all()}
    assert [name for name, g in gates.items() if g["release"]] == ["llmbar-natural"]
    assert gates["llmbar-natural"]["reasons"] == []
    held = {name: g["reasons"] for name, g in gates.items() if not g["release"]}
    assert sorted(held) == ["llmbar-adversarial", "mtbench-experts", "pandalm-part1", "pandalm-part2"]
    assert all(held.values())  # every held batch says why
    client.force_login(factories.User.objects.get(username="lead"))
    control = client.get("/control/").content.decode()
    assert control.count('data-gate="pass"') == 1 and control.count('data-gate="hold"') == 4
    for reasons in held.values():
        assert all(f"<li>{escape(reason)}</li>" in control for reason in reasons)
    natural = Batch.objects.get(name="llmbar-natural")
    assert '<span class="badge ok">pass</span>' in client.get(f"/control/batch/{natural.pk}/").content.decode()
    adversarial = client.get(f"/control/batch/{Batch.objects.get(name='llmbar-adversarial').pk}/").content.decode()
    assert all(f"<li>{escape(reason)}</li>" in adversarial for reason in held["llmbar-adversarial"])


def test_demo_runs_on_the_embedded_sqlite_default(tmp_path):
    """`make demo` has no services: the same commands with DATABASE_URL and CELERY_BROKER_URL
    cleared (as the Makefile does), on a fresh copy of the project so the SQLite file is new."""

    root = tmp_path / "project"
    shutil.copytree(factories.DATA.parent, root, ignore=shutil.ignore_patterns(
        ".venv", ".git", "db.sqlite3", "var", "__pycache__", "node_modules", ".mypy_cache", ".ruff_cache"))
    env = {**os.environ, "HYBRIDQC_DEMO": "1", "DATABASE_URL": "", "CELERY_BROKER_URL": ""}
    for args in (["migrate", "--noinput"], ["demo_load", "--limit", "25"]):
        proc = subprocess.run([sys.executable, "manage.py", *args], env=env, capture_output=True, text=True,
                              cwd=root, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
    assert "reviewer / hybridqc-demo" in proc.stdout
    assert (root / "db.sqlite3").is_file()
    gates = {name: subprocess.run([sys.executable, "manage.py", "release_gate", name], env=env, capture_output=True,
                                  text=True, cwd=root, timeout=120) for name in ("llmbar-natural", "pandalm-part1")}
    assert gates["llmbar-natural"].returncode == 0, gates["llmbar-natural"].stdout
    assert gates["pandalm-part1"].returncode == 1 and "- " in gates["pandalm-part1"].stdout  # held, with reasons
