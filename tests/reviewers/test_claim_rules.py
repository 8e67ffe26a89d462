"""The claim's statements embed the queue's rules compiled from their one ORM form: on generated
rosters they hand out exactly what those rules (and the Python forms: ``Credential.is_valid``,
``path_covered``, ``credential_fits``) allow; and changing a rule changes the claim with it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import Q
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviewers.capacity import today_start, valid_credentials
from reviewers.models import LEVEL_ORDER, Credential, HumanLabel, ReviewerProfile, ReviewTask
from reviewers.services import matching, pool, review_task_claim
from reviewers.services.matching import credential_fits, reviewer_domain_q, reviewer_label_counts, reviewer_task_q
from reviewers.services.pool import QueueState, claim_inputs, gold_candidates, pool_takeable, queue_state
from routing.batches.models import Example
from tests.factories import make_examples, profile

pytestmark = pytest.mark.django_db

PATHS = ["test", "test/general", "test/general/x", "te_t/a", "te%/b", "testx", "other/y"]
PREFIXES = ["test", "/test/", "test/general", "test/gen", "te_t", "te%", "te", "other", "other/y/z", "testx"]
MIN_LEVELS = ["", *LEVEL_ORDER]
CREDENTIAL = st.tuples(st.sampled_from(PREFIXES), st.sampled_from(LEVEL_ORDER), st.booleans(), st.booleans())


@pytest.fixture
def world(db) -> tuple[ReviewerProfile, list[ReviewTask]]:
    """One example per domain (every other one gold), with an open pool task of each minimum level."""
    reviewer = profile("gen", prefixes=())
    tasks = []
    for i, path in enumerate(PATHS):
        [example] = make_examples(1, name=f"b{i}", domain=path)
        Example.objects.filter(pk=example.pk).update(is_gold=i % 2 == 0)
        tasks += ReviewTask.objects.bulk_create(
            [ReviewTask(example=example, kind="routed", status="open", min_level=m) for m in MIN_LEVELS])
    loaded = list(ReviewTask.objects.select_related("example__domain").filter(pk__in=[t.pk for t in tasks]))
    return reviewer, loaded


def _roster(reviewer: ReviewerProfile, credentials: list[tuple[str, str, bool, bool]], now) -> None:
    Credential.objects.filter(reviewer=reviewer).delete()
    Credential.objects.bulk_create([
        Credential(reviewer=reviewer, domain_prefix=prefix, level=level, paused=paused,
                   expires_at=now - timedelta(minutes=1) if expired else None)
        for prefix, level, paused, expired in credentials])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(credentials=st.lists(CREDENTIAL, max_size=4), active=st.booleans())
def test_claim_follows_the_rules_on_generated_rosters(world, credentials, active):
    reviewer, tasks = world
    now = timezone.now()
    ReviewerProfile.objects.filter(pk=reviewer.pk).update(status="active" if active else "paused")
    _roster(reviewer, credentials, now)
    valid, _ = claim_inputs(reviewer, now)
    by_model = [c for c in Credential.objects.filter(reviewer=reviewer).select_related("reviewer") if c.is_valid(now)]
    assert {c.pk for c in valid} == {c.pk for c in by_model} == set(
        valid_credentials(now).filter(reviewer=reviewer).values_list("pk", flat=True))
    takeable = {t.pk for t in tasks if any(credential_fits(c, t.example, t.min_level) for c in by_model)}
    by_orm = set(ReviewTask.objects.filter(reviewer_task_q(valid) or Q(pk__in=[])).values_list("pk", flat=True))
    assert pool_takeable(reviewer=reviewer, credentials=valid, now=now) == len(takeable) == len(by_orm)
    assert takeable == by_orm
    gold = sorted({t.example_id for t in tasks
                   if t.example.is_gold and any(c.covers(t.example.domain) for c in by_model)})
    by_orm_gold = Example.objects.filter(reviewer_domain_q(valid) or Q(pk__in=[]), is_gold=True).order_by("pk")
    assert gold_candidates(reviewer=reviewer, credentials=valid) == gold
    assert gold == list(by_orm_gold.values_list("pk", flat=True))


def test_label_counts_of_the_claim_are_reviewer_label_counts(world):
    reviewer, tasks = world
    gold_task = tasks[0]
    ReviewTask.objects.filter(pk=gold_task.pk).update(kind="gold")
    yesterday = today_start(reviewer.timezone) - timedelta(seconds=1)
    rows = [  # (task, source, created): review today on gold, review today, review yesterday, import today
        (gold_task, "review", None), (tasks[1], "review", None), (tasks[2], "review", yesterday),
        (tasks[3], "import", None)]
    for task, source, created in rows:
        label = HumanLabel.objects.create(example=task.example, task=task, reviewer=reviewer, source=source, choice=1)
        if created is not None:
            HumanLabel.objects.filter(pk=label.pk).update(created_at=created)
    expected = {"today": 2, "total": 3, "gold": 1}
    assert reviewer_label_counts(reviewer) == expected
    assert queue_state(reviewer) == QueueState(today=2, total=3, gold=1, held_id=None)


def test_changing_the_prefix_rule_changes_the_claim(world, monkeypatch):
    """The claim has no copy of domain-prefix coverage: with a rule that covers only the domain of
    the prefix itself, a ``test`` credential no longer reaches ``test/general``."""
    reviewer, tasks = world
    _roster(reviewer, [("test", "adjudicator", False, False)], timezone.now())
    exact_only = lambda prefix, field: Q(**{field: prefix.strip("/")})  # noqa: E731
    monkeypatch.setattr(matching, "prefix_q", exact_only)
    pool._scope_compiled.cache_clear()  # compiled under the real rule
    try:
        in_test = {t.pk for t in tasks if t.example.domain.path == "test"}
        valid, _ = claim_inputs(reviewer, timezone.now())
        assert pool_takeable(reviewer=reviewer, credentials=valid, now=timezone.now()) == len(in_test) == 4
        assert gold_candidates(reviewer=reviewer, credentials=valid) == [tasks[0].example_id]
        assert review_task_claim(reviewer=reviewer).pk in in_test
    finally:
        pool._scope_compiled.cache_clear()
