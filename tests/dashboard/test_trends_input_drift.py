import io
import json
import random
import re

import pytest
from celery.signals import task_prerun
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from dashboard.selectors import batch_report
from hybridqc.celery import app as celery_app
from hybridqc.flows.batches import batch_drifted_slice_to_humans, batch_reroute, batch_route
from hybridqc.flows.imports import batch_import as flows_batch_import
from hybridqc.flows.tasks import import_job_run
from routing.batches.models import Batch, Example
from routing.decisions.models import RoutingDecision
from routing.ingest.import_jobs import import_job_create
from routing.ingest.import_v1 import batch_import
from routing.monitoring.input_drift import batch_input_drift_compute, routing_router
from routing.scoring.models import RouterModel
from routing.training.router_promotion import router_model_activate
from tests import factories


def _batch(name, lines):
    batch = batch_import(batch_name=name, lines=lines, source_name=name).batch
    batch_route(batch=batch)
    return batch


@pytest.fixture
def llmbar_reference(db):
    return _batch("llmbar-ref", factories.shuffled_lines("llmbar.jsonl", seed=1)[:150])


def test_input_drift_same_source_is_not_flagged(llmbar_reference):
    batch = _batch("llmbar-new", factories.shuffled_lines("llmbar.jsonl", seed=1)[150:300])
    drift = batch_input_drift_compute(batch=batch)
    assert (drift["flagged"], drift["n_reference"], drift["n_batch"], drift["reference"]) == (
        False, 150, 150, "earlier batches")
    assert drift["score"] < 0.65 and drift["p_value"] > 0.01
    assert batch_report(batch)["input_drift"]["flagged"] is False


def test_input_drift_other_source_is_flagged_and_its_slice_goes_to_humans(llmbar_reference):
    batch = _batch("pandalm-new", factories.shuffled_lines("pandalm.jsonl", seed=1)[:150])
    drift = batch_input_drift_compute(batch=batch)
    assert drift["flagged"] is True and drift["score"] > 0.9 and drift["p_value"] < 1e-6
    assert {"score", "p_value", "flagged", "method"} <= set(batch_report(batch)["input_drift"])
    n = batch_drifted_slice_to_humans(batch=batch)
    assert n == len(drift["drifted_example_ids"]) > 100
    routes = set(RoutingDecision.objects.filter(example_id__in=drift["drifted_example_ids"])
                 .values_list("route", flat=True))
    assert routes == {"human"}
    assert Example.objects.filter(batch=batch, flagged=True).count() == n


def test_input_drift_needs_enough_reference(db):
    batch = _batch("alone", factories.shuffled_lines("llmbar.jsonl", seed=1)[:30])
    drift = batch_input_drift_compute(batch=batch)
    assert (drift["score"], drift["flagged"]) == (None, False) and "needs 20" in drift["detail"]


def test_batch_page_shows_input_drift_and_routes_the_slice_for_leads_only(db, client, reviewer_user):
    factories.batch("ref", items=[factories.pairwise_item(i) for i in range(25)])
    batch = factories.batch("new", items=[factories.pairwise_item(i, domain="other/x", prompt="x" * (i * 50 + 1))
                                          for i in range(25)]).batch
    batch_route(batch=batch)
    drift = batch_input_drift_compute(batch=batch)
    assert drift["flagged"] is True
    client.force_login(reviewer_user)
    assert client.post(f"/control/batch/{batch.pk}/drift-to-humans/").status_code == 403
    client.force_login(factories.lead())
    page = client.get(f"/control/batch/{batch.pk}/").content.decode()
    assert "drifted" in page and "Route the drifted slice" in page
    url = f"/control/batch/{batch.pk}/drift-to-humans/"
    preview = client.post(url)  # first what it changes (nothing written yet), then the change
    body = preview.content.decode()
    assert preview.status_code == 200 and 'data-confirm-step="batch-drift-to-humans"' in body
    assert not Example.objects.filter(batch=batch, flagged=True).exists()
    humans = RoutingDecision.objects.filter(example__batch=batch, route="human").count()
    assert f'data-figure="routed_to_human" data-before="{humans}" data-after="25"' in body
    token = re.search(r'name="confirm_token" value="([^"]+)"', body).group(1)
    assert client.post(url, {"confirm_token": token}).status_code == 302
    assert set(RoutingDecision.objects.filter(example__batch=batch).values_list("route", flat=True)) == {"human"}


@pytest.fixture
def eager_tasks():
    # Queued tasks run in this process when the transaction's callbacks run (no worker here).
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def test_routing_measures_drift_against_the_router_that_routes_it(db, eager_tasks, django_capture_on_commit_callbacks,
                                                                  client):
    model = factories.router_trained()
    calibration = len(model.calibration["example_ids"])
    other = batch_import(batch_name="pandalm-routed", lines=factories.shuffled_lines("pandalm.jsonl", seed=2)[:150],
                         source_name="p", routing_mode="certified").batch
    # The router learned from the first 400 LLMBar lines (the file is sorted by domain): a sample
    # of those lines is what it learned from, imported again as new examples.
    history = factories.data_lines("llmbar.jsonl", 400)
    random.Random(2).shuffle(history)
    same = batch_import(batch_name="llmbar-routed", lines=history[:150], source_name="l",
                        routing_mode="certified").batch
    with django_capture_on_commit_callbacks(execute=True):
        batch_route(batch=other)
        batch_route(batch=same)
    other.refresh_from_db()
    same.refresh_from_db()
    version = f"router-v{model.version}"
    assert routing_router(other) == model
    for drift in (other.input_drift, same.input_drift):
        assert (drift["reference"], drift["router_versions"], drift["n_reference"]) == (
            f"router v{model.version} calibration", [version], calibration)
    assert other.input_drift["flagged"] is True and other.input_drift["score"] > 0.9
    assert same.input_drift["flagged"] is False and same.input_drift["score"] < 0.65
    assert batch_report(other)["input_drift"]["router_versions"] == [version]
    client.force_login(factories.lead())
    page = client.get(f"/control/batch/{other.pk}/").content.decode()
    assert f"measured after routing by {version}" in page and "drifted" in page


def test_input_drift_is_computed_once_per_import_and_routing(db, eager_tasks, django_capture_on_commit_callbacks,
                                                            tmp_path):
    # Counted from Celery's own signal: the import queues only the routing, the routing the drift.
    runs = []

    def counted(sender=None, **kwargs):
        runs.append(sender.name)

    path = tmp_path / "pandalm.jsonl"
    path.write_text("\n".join(factories.shuffled_lines("pandalm.jsonl", seed=3)[:60]) + "\n")
    task_prerun.connect(counted, weak=False)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            call_command("import_examples", str(path), "--batch", "once", stdout=io.StringIO())
    finally:
        task_prerun.disconnect(counted)
    batch = Batch.objects.get(name="once")
    assert runs.count("routing.tasks.batch_input_drift_run") == 1
    assert runs.count("hybridqc.flows.tasks.batch_pipeline_run") == 1
    assert batch_report(batch)["input_drift"]["router_versions"] == sorted(
        set(RoutingDecision.objects.filter(example__batch=batch).values_list("router_version", flat=True)))
    assert batch_report(batch)["input_drift"]["router_versions"] != []


@pytest.fixture
def task_runs():
    # Counted from Celery's own signal (the tasks run eagerly in this process).
    runs = []

    def counted(sender=None, **kwargs):
        runs.append(sender.name)

    task_prerun.connect(counted, weak=False)
    yield runs
    task_prerun.disconnect(counted)


def _import_no_pipeline(tmp_path, name, lines):
    path = tmp_path / f"{name}.jsonl"
    path.write_text("\n".join(lines) + "\n")
    call_command("import_examples", str(path), "--batch", name, "--no-pipeline", stdout=io.StringIO())
    return Batch.objects.get(name=name)


def test_no_pipeline_import_measures_drift_against_the_active_router(db, eager_tasks, tmp_path, client, task_runs,
                                                                     django_capture_on_commit_callbacks):
    model = factories.router_trained()
    version, calibration = f"router-v{model.version}", len(model.calibration["example_ids"])
    task_runs.clear()
    history = factories.data_lines("llmbar.jsonl", 400)  # what the router learned from, as new examples
    random.Random(2).shuffle(history)
    with django_capture_on_commit_callbacks(execute=True):
        other = _import_no_pipeline(tmp_path, "pandalm-file", factories.shuffled_lines("pandalm.jsonl", seed=2)[:150])
        same = _import_no_pipeline(tmp_path, "llmbar-file", history[:150])
    # Each import measures its drift, then queues its prompts' search indexing (on commit).
    assert task_runs == ["routing.tasks.batch_input_drift_run", "routing.tasks.example_search_index"] * 2
    assert not RoutingDecision.objects.filter(example__batch__in=[other, same]).exists()
    other.refresh_from_db()
    same.refresh_from_db()
    for drift in (other.input_drift, same.input_drift):
        figures = tuple(drift[k] for k in ("router", "router_versions", "reference", "n_reference", "n_batch"))
        assert figures == (version, [], f"router v{model.version} calibration", calibration, 150)
    assert other.input_drift["flagged"] is True and other.input_drift["score"] > 0.9
    assert same.input_drift["flagged"] is False and same.input_drift["score"] < 0.65
    out = io.StringIO()
    call_command("batch_report", "pandalm-file", "--json", stdout=out)
    reported = json.loads(out.getvalue())["input_drift"]
    assert (reported["router"], reported["flagged"], reported["method"]) == (version, True, other.input_drift["method"])
    client.force_login(factories.lead())
    page = client.get(f"/control/batch/{other.pk}/").content.decode()
    assert f"Compared with <strong>{version}</strong>, the active router at import." in page and "drifted" in page


def test_no_pipeline_import_without_a_router_or_judgments_leaves_drift_to_routing(db, eager_tasks, tmp_path,
                                                                                django_capture_on_commit_callbacks,
                                                                                task_runs):
    unjudged = [json.dumps({**json.loads(line), "judgments": []}) for line in factories.data_lines("llmbar.jsonl", 30)]
    with django_capture_on_commit_callbacks(execute=True):
        no_router = _import_no_pipeline(tmp_path, "no-router", factories.shuffled_lines("pandalm.jsonl", seed=4)[:30])
    factories.router_trained()
    task_runs.clear()
    with django_capture_on_commit_callbacks(execute=True):
        no_judgments = _import_no_pipeline(tmp_path, "no-judgments", unjudged)
    assert task_runs == ["routing.tasks.example_search_index"]  # no drift measured, only the search indexing
    assert (no_router.input_drift, Batch.objects.get(pk=no_judgments.pk).input_drift) == (None, None)


def test_drift_is_measured_again_only_when_routing_uses_another_router(db, eager_tasks, task_runs,
                                                                       django_capture_on_commit_callbacks):
    first = factories.router_trained()
    task_runs.clear()
    with django_capture_on_commit_callbacks(execute=True):
        batch = flows_batch_import(batch_name="routed", lines=factories.shuffled_lines("pandalm.jsonl", seed=5)[:60],
                                   source_name="p", routing_mode="certified", route=True).batch
    # Measured at the import's end against the active router, which then routed it: once.
    assert task_runs.count("routing.tasks.batch_input_drift_run") == 1
    assert task_runs.count("hybridqc.flows.tasks.batch_pipeline_run") == 1
    batch.refresh_from_db()
    assert (batch.input_drift["router"], batch.input_drift["router_versions"]) == (f"router-v{first.version}", [])
    assert set(RoutingDecision.objects.filter(example__batch=batch).values_list("router_version", flat=True)) == {
        f"router-v{first.version}"}
    with django_capture_on_commit_callbacks(execute=True):
        batch_reroute(batch=batch)
    assert task_runs.count("routing.tasks.batch_input_drift_run") == 1
    second = RouterModel.objects.get(pk=factories.router_trained(seed=1).pk)
    router_model_activate(model=second, event={"action": "activated", "by": "test"})
    with django_capture_on_commit_callbacks(execute=True):
        batch_reroute(batch=batch)
    assert task_runs.count("routing.tasks.batch_input_drift_run") == 2
    batch.refresh_from_db()
    assert (batch.input_drift["router"], batch.input_drift["router_versions"]) == (
        f"router-v{second.version}", [f"router-v{second.version}"])
    assert batch.input_drift["reference"] == f"router v{second.version} calibration"


def test_import_job_measures_drift_at_its_end_and_routing_by_the_same_router_does_not_again(
        db, eager_tasks, task_runs, settings, tmp_path, django_capture_on_commit_callbacks):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    model = factories.router_trained()
    lines = factories.shuffled_lines("pandalm.jsonl", seed=6)[:60]
    upload = SimpleUploadedFile("pandalm.jsonl", ("\n".join(lines) + "\n").encode())
    job = import_job_create(upload=upload, batch_name="from-job", user=None, batch_fields={})
    task_runs.clear()
    with django_capture_on_commit_callbacks(execute=True):
        import_job_run.delay(job.pk)
    assert sorted(task_runs) == ["hybridqc.flows.tasks.batch_pipeline_run", "hybridqc.flows.tasks.import_job_run",
                                 "routing.tasks.batch_input_drift_run", "routing.tasks.example_search_index"]
    batch = Batch.objects.get(name="from-job")
    assert RoutingDecision.objects.filter(example__batch=batch).count() == 60
    assert (batch.input_drift["router"], batch.input_drift["examples"], batch.input_drift["n_batch"]) == (
        f"router-v{model.version}", 60, 60)
