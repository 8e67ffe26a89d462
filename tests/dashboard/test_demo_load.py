from django.contrib.auth import authenticate
from django.core.management import call_command

from dashboard.selectors import batch_report
from reviewers.models import ReviewTask
from routing.models import Batch


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
