"""Judge configurations (versioned, key never stored), idempotent chunks, replay of recorded
verdicts, and re-routing when a live run finishes. Real HTTP to the fake judge server."""

from __future__ import annotations

import asyncio
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.forms.models import model_to_dict

from hybridqc.celery import app
from hybridqc.flows.batches import batch_route
from hybridqc.flows.imports import batch_import
from reviewers.models import HumanLabel, ReviewTask
from reviewers.services import review_task_claim
from routing.batches.models import Batch
from routing.decisions.models import RoutingDecision
from routing.judging.fake_judge.replay import Replay
from routing.judging.judge_runs import judge_run_start
from routing.judging.models import JudgeConfig, JudgeRun, Judgment
from routing.judging.services import JudgeSetupError, judge_chunk_run, judge_config_revise, verdict_requests
from tests import factories
from tests.support import fake_server
from tests.support.fake_server import running_fake, stats
from tests.support.recorded_judge import RecordedJudge

pytestmark = pytest.mark.django_db
fake_judge = fake_server.fake_judge  # the fixture
SECRET = "sk-test-secret-4242"


@pytest.fixture
def eager():
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def _ids(batch: Batch) -> list[int]:
    return list(batch.examples.order_by("pk").values_list("pk", flat=True))


def test_judge_config_edit_of_prompt_creates_new_version(fake_judge):
    v1 = factories.judge_config(fake_judge.url, name="gpt-judge")
    v2 = judge_config_revise(config=v1, changes={"pairwise_prompt": "Better prompt {question}", "is_active": True})
    v1.refresh_from_db()
    assert (v1.version, v1.is_active, v1.pairwise_prompt) == (1, False, "")
    assert (v2.version, v2.key, v2.is_active) == (2, "gpt-judge@v2", True)
    assert v2.pairwise_prompt == "Better prompt {question}"
    assert v2.model == v1.model and v2.base_url == v1.base_url
    assert JudgeConfig.objects.filter(name="gpt-judge").count() == 2


def test_judge_config_toggle_active_edits_in_place(fake_judge):
    v1 = factories.judge_config(fake_judge.url, name="gpt-judge")
    same = judge_config_revise(config=v1, changes={"is_active": False, "model": v1.model})
    assert same.pk == v1.pk and same.version == 1 and same.is_active is False
    assert JudgeConfig.objects.filter(name="gpt-judge").count() == 1


def test_judge_verdicts_reference_their_config_version(fake_judge):
    batch = factories.batch("versions", items=[factories.pairwise_item(0)]).batch
    v1 = factories.judge_config(fake_judge.url, name="vj")
    v2 = judge_config_revise(config=v1, changes={"model": "other-model"})
    run = judge_run_start(batch=batch, config=v2)
    judge_chunk_run(run=run, example_ids=_ids(batch))
    live = Judgment.objects.filter(judge_config__isnull=False)
    rows = sorted(live.values_list("judge", "judge_config__version", "order"))
    assert rows == [("vj@v2", 2, "ab"), ("vj@v2", 2, "ba")]


def test_judge_retired_config_cannot_start(fake_judge):
    batch = factories.batch("retired").batch
    v1 = factories.judge_config(fake_judge.url, name="old")
    judge_config_revise(config=v1, changes={"temperature": 0.7})
    v1.refresh_from_db()
    with pytest.raises(JudgeSetupError, match="old@v1 is retired"):
        judge_run_start(batch=batch, config=v1)


def test_judge_api_key_read_from_env_never_stored(fake_judge, monkeypatch):
    monkeypatch.setenv("HYBRIDQC_JUDGE_FAKE_KEY", SECRET)
    batch = factories.batch("keyed", items=[factories.pairwise_item(0)]).batch
    config = factories.judge_config(fake_judge.url, api_key_env="HYBRIDQC_JUDGE_FAKE_KEY")
    run = judge_run_start(batch=batch, config=config)
    judge_chunk_run(run=run, example_ids=_ids(batch))
    assert stats(fake_judge.url, detail=True)["authorization"] == [f"Bearer {SECRET}"]
    run.refresh_from_db()
    stored = [model_to_dict(config), model_to_dict(run)] + [model_to_dict(j) for j in Judgment.objects.all()]
    assert SECRET not in json.dumps(stored, default=str)
    assert not [f.name for f in JudgeConfig._meta.fields if "key" in f.name and f.name != "api_key_env"]


def test_judge_missing_api_key_fails_run_without_calls(fake_judge, monkeypatch):
    monkeypatch.delenv("HYBRIDQC_JUDGE_FAKE_KEY", raising=False)
    batch = factories.batch("nokey", items=[factories.pairwise_item(0)]).batch
    config = factories.judge_config(fake_judge.url, api_key_env="HYBRIDQC_JUDGE_FAKE_KEY")
    run = judge_run_start(batch=batch, config=config)
    assert judge_chunk_run(run=run, example_ids=_ids(batch)) == 0
    run.refresh_from_db()
    assert run.status == JudgeRun.Status.FAILED
    assert run.last_error == "environment variable HYBRIDQC_JUDGE_FAKE_KEY is not set on the worker"
    assert stats(fake_judge.url)["requests"] == 0
    assert not Judgment.objects.filter(judge=config.key).exists()


def test_judge_redelivered_chunk_judges_nothing_twice(fake_judge):
    batch = factories.batch("redeliver", items=[factories.pairwise_item(i) for i in range(6)]).batch
    config = factories.judge_config(fake_judge.url, samples=2)
    run = judge_run_start(batch=batch, config=config)
    first = judge_chunk_run(run=run, example_ids=_ids(batch))
    calls = stats(fake_judge.url)["requests"]
    second = judge_chunk_run(run=run, example_ids=_ids(batch))
    assert (first, second) == (24, 0)
    assert calls == 24 and stats(fake_judge.url)["requests"] == 24
    assert Judgment.objects.filter(judge=config.key).count() == 24


def test_judge_partially_stored_chunk_calls_only_the_rest(fake_judge):
    batch = factories.batch("partial", items=[factories.pairwise_item(i) for i in range(4)]).batch
    config = factories.judge_config(fake_judge.url)
    run = judge_run_start(batch=batch, config=config)
    ids = _ids(batch)
    judge_chunk_run(run=run, example_ids=ids[:1])  # as if the worker died after the first example
    judge_chunk_run(run=run, example_ids=ids)  # the redelivered chunk
    assert stats(fake_judge.url)["requests"] == 8
    assert Judgment.objects.filter(judge=config.key).count() == 8
    run.refresh_from_db()
    assert (run.status, run.done, run.failed, run.total) == (JudgeRun.Status.DONE, 8, 0, 8)


def test_judge_replaying_fake_reproduces_recorded_verdicts():
    lines = factories.data_lines("llmbar.jsonl", 20)
    batch = batch_import(batch_name="llmbar-20", lines=lines).batch
    replay = Replay()
    for line in lines:
        replay.add(json.loads(line))
    with running_fake(replay) as fake:
        config = factories.judge_config(fake.url, name="gpt-4-live", retry_budget=1)
        run = judge_run_start(batch=batch, config=config)
        judge_chunk_run(run=run, example_ids=_ids(batch))
    recorded = RecordedJudge(judge="gpt-4", judgments=Judgment.objects.filter(judge="gpt-4").order_by("pk"))
    live = {(j.example_id, j.order): j for j in Judgment.objects.filter(judge=config.key)}
    requests = verdict_requests(config, batch.examples.all())
    expected = {(r.example_id, r.order): asyncio.run(recorded.judge(r)).choice for r in requests}
    assert len(requests) == 40
    assert {k: live[k].choice for k in expected} == expected
    assert sum(v is not None for v in expected.values()) >= 38


def test_judge_run_finish_makes_live_judge_primary_and_reroutes(fake_judge, eager, django_capture_on_commit_callbacks):
    biased = [{"judge": "r", "variant": f"v{k}", "order": o, "choice": c}
              for k, (o, c) in enumerate([("ab", 1), ("ab", 1), ("ab", 1), ("ba", 2), ("ba", 2), ("ba", 1)])]
    clean = [{"judge": "r", "variant": f"v{k}", "order": o, "choice": 1} for k, o in enumerate(["ab"] * 3 + ["ba"] * 3)]
    items = [factories.pairwise_item(0, judgments=clean), factories.pairwise_item(1, judgments=biased),
             factories.pairwise_item(2, prompt="Q2 {{fault:500}}", judgments=biased)]
    batch = factories.batch("reroute", items=items).batch
    batch_route(batch=batch)
    done_task = ReviewTask.objects.filter(example__external_id="item-1").first()
    assert done_task is not None  # the recorded judge's position bias sent it to humans
    ReviewTask.objects.filter(pk=done_task.pk).update(status=ReviewTask.Status.DONE)
    old_open = set(
        ReviewTask.objects.filter(example__batch=batch).exclude(pk=done_task.pk).values_list("pk", flat=True)
    )
    replay = Replay()
    for item in items:
        replay.add(item)
    fake_judge.server.replay = replay
    config = factories.judge_config(fake_judge.url, name="live", samples=3)
    with django_capture_on_commit_callbacks(execute=True):
        judge_run_start(batch=batch, config=config)
    batch.refresh_from_db()
    assert (batch.primary_judge, batch.judge_backend, batch.status) == ("live@v1", "live", Batch.Status.READY)
    decisions = {d.example.external_id: d for d in RoutingDecision.objects.filter(example__batch=batch)}
    assert decisions["item-0"].judge_verdict == 1
    assert decisions["item-1"].route == RoutingDecision.Route.HUMAN
    assert decisions["item-1"].reason.startswith("position-biased")
    assert decisions["item-2"].route == RoutingDecision.Route.HUMAN
    assert decisions["item-2"].reason == "no usable judge verdict (judge failed: server error 500 after 3 tries)"
    assert len(decisions) == 3
    assert ReviewTask.objects.filter(pk=done_task.pk, status=ReviewTask.Status.DONE).exists()
    # Open tasks of the old routing were deleted; the new routing created its own.
    new_tasks = ReviewTask.objects.filter(example__batch=batch).exclude(pk=done_task.pk)
    assert old_open and not (old_open & set(new_tasks.values_list("pk", flat=True)))
    assert set(new_tasks.values_list("example__external_id", flat=True)) >= {"item-1", "item-2"}


def _rejudge(fake_judge, items, django_capture_on_commit_callbacks) -> None:
    """Judge the batch again with a live judge replaying ``items``, running the re-routing."""
    replay = Replay()
    for item in items:
        replay.add(item)
    fake_judge.server.replay = replay
    config = factories.judge_config(fake_judge.url, name="live", samples=3)
    with django_capture_on_commit_callbacks(execute=True):
        judge_run_start(batch=Batch.objects.get(name="held"), config=config)


def test_judge_rerun_keeps_a_leased_item_and_replaces_an_untaken_one(fake_judge, eager,
                                                                     django_capture_on_commit_callbacks):
    biased = [{"judge": "r", "variant": f"v{k}", "order": o, "choice": c}
              for k, (o, c) in enumerate([("ab", 1), ("ab", 1), ("ab", 1), ("ba", 2), ("ba", 2), ("ba", 1)])]
    items = [factories.pairwise_item(i, judgments=biased) for i in range(3)]
    holder = factories.profile("holder", prefixes=("test",))
    batch = factories.batch("held", items=items, audit_rate=0.0).batch
    batch_route(batch=batch)
    leased = review_task_claim(reviewer=holder)
    assert leased is not None and leased.status == ReviewTask.Status.LEASED
    labeled = batch.examples.exclude(pk=leased.example_id).order_by("line_number").first()
    HumanLabel.objects.create(example=labeled, reviewer=holder, source=HumanLabel.Source.REVIEW, choice=1)
    untaken = ReviewTask.objects.get(example__batch=batch, status=ReviewTask.Status.OPEN,
                                     example__in=batch.examples.exclude(pk__in=[leased.example_id, labeled.pk]))
    before = {d.example_id: d for d in RoutingDecision.objects.filter(example__batch=batch)}
    _rejudge(fake_judge, items, django_capture_on_commit_callbacks)
    after = {d.example_id: d for d in RoutingDecision.objects.filter(example__batch=batch)}
    held = ReviewTask.objects.get(pk=leased.pk)
    assert (held.status, held.assignee_id, held.lease_expires_at) == (
        ReviewTask.Status.LEASED, holder.pk, leased.lease_expires_at)
    for kept in (leased.example_id, labeled.pk):  # started examples keep their routing
        assert (after[kept].pk, after[kept].router_version) == (before[kept].pk, before[kept].router_version)
    assert not ReviewTask.objects.filter(pk=untaken.pk).exists()
    [fresh] = ReviewTask.objects.filter(example_id=untaken.example_id)
    assert (fresh.kind, fresh.status) == (ReviewTask.Kind.ROUTED, ReviewTask.Status.OPEN)
    assert after[untaken.example_id].pk != before[untaken.example_id].pk
    assert after[untaken.example_id].reason.startswith("position-biased")
    assert ReviewTask.objects.filter(example__batch=batch).count() == 3


def test_judge_batch_command_starts_run(fake_judge, eager, django_capture_on_commit_callbacks):
    batch = factories.batch("cli", items=[factories.pairwise_item(0)]).batch
    factories.judge_config(fake_judge.url, name="cli-judge")
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("judge_batch", "--batch", "cli", "--judge", "cli-judge@v1", stdout=out)
    assert out.getvalue().startswith("judge run ") and "cli-judge@v1 over cli, 2 verdicts" in out.getvalue()
    with pytest.raises(CommandError, match="no judge configuration 'cli-judge@v9'"):
        call_command("judge_batch", "--batch", "cli", "--judge", "cli-judge@v9")
    assert Judgment.objects.filter(judge="cli-judge@v1", example__batch=batch).count() == 2
