"""The stored reviewed reference (``Example.reviewed_reference``) stays the one rule
(``reviewers.references.label_reference``) of the example's review labels through every path that
writes them: submit (adjudications included), undo, correction, the admin's task edits and deletes,
driven in random sequences and one by one; imports never touch it."""

import contextlib
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviewers.models import HumanLabel, ReviewerProfile, ReviewTask
from reviewers.references import label_reference
from reviewers.services import ReviewError, review_label_correct, review_label_submit, review_label_undo
from routing.batches.models import Batch, Example
from routing.ingest.import_v1 import _orm_import
from routing.ingest.import_validation import validated_items
from tests import factories

pytestmark = pytest.mark.django_db

KINDS = ["routed", "audit", "second", "gold", "adjudication"]
STEP = st.one_of(
    st.tuples(st.just("submit"), st.integers(0, 3), st.integers(0, 1), st.sampled_from(KINDS), st.integers(0, 2)),
    st.tuples(st.just("undo"), st.integers(0, 3)),
    st.tuples(st.just("correct"), st.integers(0, 3), st.integers(0, 2)),
)
RATINGS = [2.0, 5.0, 9.0]


@pytest.fixture
def world(db, settings):
    """A pairwise and a rating example (the pairwise one with an imported label, which must not
    count) and four reviewers credentialed up to adjudication."""
    settings.REVIEW_SECOND_SHARE = 0.0
    pairwise = factories.make_examples(1, name="pairs", human_labels=[{"annotator": "ann", "choice": 2}])[0]
    rating = factories.make_examples(1, name="rates", rating=True)[0]
    reviewers = [factories.profile(f"r{i}", level="adjudicator") for i in range(4)]
    return [pairwise, rating], reviewers


def _expected(example: Example) -> float | None:
    labels = list(HumanLabel.objects.filter(example=example, source=HumanLabel.Source.REVIEW)
                  .select_related("task").order_by("created_at", "id"))
    value = label_reference(labels, example.task)
    return None if value is None else float(value)


def _stored(example: Example) -> float | None:
    return Example.objects.get(pk=example.pk).reviewed_reference


def _leased(example: Example, reviewer: ReviewerProfile, kind: str) -> ReviewTask:
    """The reviewer's held task: the one an undo gave back, else a new one of ``kind`` leased to them."""
    held = ReviewTask.objects.filter(assignee=reviewer, status=ReviewTask.Status.LEASED).first()
    if held is not None:
        return held
    now = timezone.now()
    return ReviewTask.objects.create(example=example, kind=kind, status=ReviewTask.Status.LEASED, assignee=reviewer,
                                     claimed_at=now, lease_expires_at=now + timedelta(minutes=10))


def _verdict(example: Example, value: int) -> dict[str, float | int]:
    return {"rating": RATINGS[value]} if example.task == Example.Task.RATING else {"choice": value}


def _step(step: tuple, examples: list[Example], reviewers: list[ReviewerProfile]) -> None:
    reviewer = reviewers[step[1]]
    if step[0] == "submit":
        task = _leased(examples[step[2]], reviewer, step[3])
        example = Example.objects.get(pk=task.example_id)
        review_label_submit(task=task, reviewer=reviewer, **_verdict(example, step[4]))
    elif step[0] == "undo":
        review_label_undo(reviewer=reviewer)
    else:
        label = HumanLabel.objects.filter(reviewer=reviewer).select_related("example").order_by("-id").first()
        if label is not None:
            review_label_correct(label_id=label.pk, reviewer=reviewer, **_verdict(label.example, step[2]))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEP, min_size=1, max_size=10))
def test_stored_reference_is_label_reference_after_every_service_step(world, steps):
    examples, reviewers = world
    # The fixture's rows live for the whole test; each hypothesis example starts without reviews.
    ReviewTask.objects.filter(example__in=examples).delete()
    HumanLabel.objects.filter(example__in=examples, source=HumanLabel.Source.REVIEW).delete()
    Example.objects.filter(pk__in=[e.pk for e in examples]).update(reviewed_reference=None)
    for step in steps:
        # Refused (nothing to undo, adjudicated, ...): nothing was written, and the value must still hold.
        with contextlib.suppress(ReviewError):
            _step(step, examples, reviewers)
        for example in examples:
            assert _stored(example) == _expected(example), step


def _submit(example: Example, reviewer: ReviewerProfile, kind: str, choice: int) -> HumanLabel:
    return review_label_submit(task=_leased(example, reviewer, kind), reviewer=reviewer, choice=choice)


def test_submit_stores_the_majority_then_the_adjudication(world):
    (pairwise, _), (a, b, c, _) = world
    _submit(pairwise, a, "routed", 1)
    assert _stored(pairwise) == 1.0  # the imported 2 does not count
    _submit(pairwise, b, "second", 2)
    assert _stored(pairwise) is None  # 1 against 2: a tie
    _submit(pairwise, c, "adjudication", 2)
    assert _stored(pairwise) == 2.0


def test_undo_takes_the_label_out_of_the_reference(world):
    (pairwise, _), (a, b, _, _) = world
    _submit(pairwise, a, "routed", 1)
    _submit(pairwise, b, "second", 2)
    review_label_undo(reviewer=b)
    assert _stored(pairwise) == 1.0


def test_correction_changes_the_reference(world):
    (_, rating), (a, _, _, _) = world
    label = review_label_submit(task=_leased(rating, a, "routed"), reviewer=a, rating=5.0)
    assert _stored(rating) == 5.0
    review_label_correct(label_id=label.pk, reviewer=a, rating=9.0)
    assert _stored(rating) == 9.0


def _admin_client() -> Client:
    client = Client()
    client.force_login(factories.admin())
    return client


@pytest.fixture
def adjudicated(world):
    """The pairwise example: two reviews say 1, the adjudicator 2; its adjudication task."""
    (pairwise, _), (a, b, c, _) = world
    _submit(pairwise, a, "routed", 1)
    _submit(pairwise, b, "second", 1)
    adjudication = _submit(pairwise, c, "adjudication", 2).task
    assert _stored(pairwise) == 2.0
    return pairwise, adjudication


def test_admin_task_delete_drops_the_adjudication_from_the_reference(adjudicated):
    pairwise, adjudication = adjudicated
    resp = _admin_client().post(f"/admin/reviewers/reviewtask/{adjudication.pk}/delete/", {"post": "yes"})
    assert resp.status_code == 302
    # The label stays, without its task: one of three votes for 2 against two for 1.
    assert HumanLabel.objects.filter(example=pairwise, source="review").count() == 3
    assert _stored(pairwise) == 1.0


def test_admin_bulk_task_delete_refreshes_the_reference(adjudicated):
    pairwise, adjudication = adjudicated
    resp = _admin_client().post("/admin/reviewers/reviewtask/",
                                {"action": "delete_selected", "_selected_action": [adjudication.pk], "post": "yes"})
    assert resp.status_code == 302
    assert not ReviewTask.objects.filter(pk=adjudication.pk).exists()
    assert _stored(pairwise) == 1.0


def test_admin_task_kind_edit_refreshes_the_reference(adjudicated):
    pairwise, adjudication = adjudicated
    form = {"example": pairwise.pk, "kind": "second", "status": "done", "assignee": adjudication.assignee_id,
            "min_level": "", "skip_reason": ""}
    resp = _admin_client().post(f"/admin/reviewers/reviewtask/{adjudication.pk}/change/", form)
    assert resp.status_code == 302
    assert ReviewTask.objects.get(pk=adjudication.pk).kind == "second"
    assert _stored(pairwise) == 1.0  # no adjudication left: two of three say 1


IMPORTED = [{"annotator": "x", "choice": 1}, {"annotator": "y", "choice": 1}]


def test_copy_import_writes_no_review_label_and_no_reference(db):
    [example] = factories.make_examples(1, name="imported", human_labels=IMPORTED)  # PostgreSQL: the COPY path
    assert list(HumanLabel.objects.filter(example=example).values_list("source", flat=True)) == ["import", "import"]
    assert _stored(example) is None


def test_orm_import_writes_no_review_label_and_no_reference(db):
    # The path SQLite takes, run here on PostgreSQL directly.
    batch = Batch.objects.create(name="imported-orm")
    items = list(validated_items(factories.jsonl([factories.pairwise_item(0, human_labels=IMPORTED)])))
    assert _orm_import(batch, items).human_labels == 2
    example = Example.objects.get(batch=batch)
    assert list(HumanLabel.objects.filter(example=example).values_list("source", flat=True)) == ["import", "import"]
    assert _stored(example) is None
