"""The live judge against the fake OpenAI-compatible server over real HTTP: faults, retries,
parsing and logprob probabilities. The chunk service runs in-process; the server counts calls."""

from __future__ import annotations

import math

import pytest

from routing.judging.judge_runs import judge_run_start
from routing.judging.models import JudgeRun, JudgeSignals, Judgment
from routing.judging.services import judge_chunk_run
from routing.judging.signals import batch_signals_compute
from tests import factories
from tests.support import fake_server
from tests.support.fake_server import stats

pytestmark = pytest.mark.django_db
fake_judge = fake_server.fake_judge  # the fixture


def _run(fake, prompts: list[str], **config_fields):
    items = [factories.pairwise_item(i, prompt=p) for i, p in enumerate(prompts)]
    batch = factories.batch("faults", items=items).batch
    config = factories.judge_config(fake.url, **config_fields)
    run = judge_run_start(batch=batch, config=config)
    ids = list(batch.examples.order_by("pk").values_list("pk", flat=True))
    written = judge_chunk_run(run=run, example_ids=ids)
    return batch, config, run, written


def _judgments(config, external_id: str) -> list[Judgment]:
    return list(Judgment.objects.filter(judge=config.key, example__external_id=external_id).order_by("order"))


@pytest.mark.parametrize(
    ("directive", "reason"),
    [
        ("{{fault:500}}", "judge failed: server error 500 after 3 tries"),
        ("{{fault:503}}", "judge failed: server error 503 after 3 tries"),
        ("{{fault:timeout}}", "judge failed: timeout after 3 tries"),
        ("{{fault:reset}}", "judge failed: connection error after 3 tries"),
        ("{{fault:malformed}}", "judge failed: malformed JSON response after 3 tries"),
        ("{{fault:empty}}", "judge failed: empty content after 3 tries"),
    ],
)
def test_judge_transient_fault_exhausts_budget_then_stores_error(fake_judge, directive, reason):
    batch, config, run, written = _run(fake_judge, [f"Q0 {directive}", "Q1 fine"], timeout_s=0.4)
    bad, good = _judgments(config, "item-0"), _judgments(config, "item-1")
    assert written == 4
    assert [j.error for j in bad] == [reason, reason]
    assert [j.attempts for j in bad] == [3, 3]
    assert all(j.usable for j in good)
    # 2 orders x 3 tries for the broken example, 2 calls for the good one.
    assert stats(fake_judge.url)["requests"] == 8
    run.refresh_from_db()
    assert (run.done, run.failed, run.status) == (2, 2, JudgeRun.Status.DONE)


def test_judge_transient_fault_recovers_within_budget(fake_judge):
    _, config, _, _ = _run(fake_judge, ["Q0 {{fault:503:2}}"])
    judgments = _judgments(config, "item-0")
    # The per-request counter is per exact prompt: each order fails twice, then succeeds.
    assert [j.error for j in judgments] == ["", ""]
    assert [j.attempts for j in judgments] == [3, 3]
    assert stats(fake_judge.url)["requests"] == 6


def test_judge_429_honours_retry_after(fake_judge):
    _, config, _, _ = _run(fake_judge, ["Q0 {{fault:429:1}}"], swap_orders=False, backoff_s=0.0)
    [judgment] = _judgments(config, "item-0")
    arrivals = next(iter(stats(fake_judge.url, detail=True)["arrivals"].values()))
    assert judgment.usable and judgment.attempts == 2
    assert len(arrivals) == 2
    assert arrivals[1] - arrivals[0] >= 0.3  # the fake's Retry-After: 0.3


def test_judge_refusal_is_not_retried_and_goes_to_humans(fake_judge):
    batch, config, _, _ = _run(fake_judge, ["Q0 {{fault:refusal}}"], swap_orders=False)
    [judgment] = _judgments(config, "item-0")
    assert judgment.error == "judge failed: the judge refused to answer"
    assert judgment.attempts == 1
    batch_signals_compute(examples=list(batch.examples.all()), judge=config.key)
    signals = JudgeSignals.objects.get(example__external_id="item-0", judge_key=config.key)
    assert signals.n_usable == 0
    assert signals.failure_reason == judgment.error


def test_judge_json_mode_verdict_and_logprob_probability(fake_judge):
    _, config, run, _ = _run(fake_judge, ["Q0"], swap_orders=True)
    judgments = _judgments(config, "item-0")
    assert all(j.choice in (0, 1, 2) and j.error == "" for j in judgments)
    # The fake puts p on the verdict token and (1-p)*0.8, (1-p)*0.2 on the two other verdicts:
    # renormalised over valid verdicts that is p itself.
    assert all(j.probability is not None and 0.5 <= j.probability <= 0.99 for j in judgments)
    assert all(j.rationale == "Fake deterministic judgement." for j in judgments)
    assert all(j.prompt_tokens > 0 and j.completion_tokens == 12 for j in judgments)
    run.refresh_from_db()
    assert run.prompt_tokens == sum(j.prompt_tokens for j in judgments)
    assert run.completion_tokens == 24


def test_judge_falls_back_to_text_format_without_json_mode(fake_judge):
    fake_judge.server.configure(json_mode=False, logprobs=False)
    _, config, _, _ = _run(fake_judge, ["Q0", "Q1"], max_concurrency=1)
    judgments = list(Judgment.objects.filter(judge=config.key))
    assert len(judgments) == 4
    assert all(j.usable and j.probability is None and j.attempts == 1 for j in judgments)
    # 1 rejected json_object request, 1 rejected logprobs request, then 4 verdicts.
    assert stats(fake_judge.url)["requests"] == 6


def test_judge_swap_maps_verdict_back_to_response_numbering(fake_judge):
    _, config, _, _ = _run(fake_judge, ["Q0", "Q1", "Q2", "Q3", "Q4", "Q5"])
    for i in range(6):
        ab, ba = _judgments(config, f"item-{i}")
        assert (ab.order, ba.order) == ("ab", "ba")
        assert ab.choice in (0, 1, 2) and ba.choice in (0, 1, 2)
    assert not math.isnan(sum(j.probability for j in Judgment.objects.filter(judge=config.key)))


def test_judge_rating_task_gets_rating_within_scale(fake_judge):
    item = {"id": "r-0", "task": "rating", "domain": "test/rating", "prompt": "Rate me", "responses": ["An answer"],
            "scale": {"min": 1, "max": 7}}
    batch = factories.batch("rating", items=[item]).batch
    config = factories.judge_config(fake_judge.url)
    run = judge_run_start(batch=batch, config=config)
    judge_chunk_run(run=run, example_ids=[batch.examples.get().pk])
    [judgment] = Judgment.objects.filter(judge=config.key)
    assert judgment.order == "ab" and judgment.choice is None  # no swap for a single response
    assert judgment.rating in {1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0}
    assert judgment.probability is not None and judgment.error == ""
    run.refresh_from_db()
    assert (run.total, run.done, run.status) == (1, 1, JudgeRun.Status.DONE)
