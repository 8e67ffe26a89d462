import json

import pytest
from django.core.management import call_command

from reviewers.models import ReviewTask
from routing.batches.models import Batch
from routing.decisions.models import RoutingDecision
from tests import factories
from tests.conftest import wait_until

pytestmark = pytest.mark.worker


def test_import_llmbar_through_real_worker_routes_every_example(celery_worker, capsys):
    factories.reviewer("worker-rev", prefixes=["llmbar", "mtbench"])
    call_command("import_examples", str(factories.DATA / "llmbar.jsonl"), "--batch", "llmbar-worker")
    batch = Batch.objects.get(name="llmbar-worker")

    def routed():
        batch.refresh_from_db()
        return batch.status == Batch.Status.READY

    wait_until(routed, timeout=120, what="the worker to route the batch")
    decisions = RoutingDecision.objects.filter(example__batch=batch)
    human = decisions.filter(route="human").count()
    audited = decisions.filter(audit=True).count()
    assert decisions.count() == 619
    assert ReviewTask.objects.filter(example__batch=batch).count() == human + audited
    assert human > 0 and audited > 0
    capsys.readouterr()
    call_command("batch_report", "llmbar-worker", "--json")
    report = json.loads(capsys.readouterr().out)
    assert (report["examples"], report["judge_kept"] + report["routed_to_human"]) == (619, 619)
