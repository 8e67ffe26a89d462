"""The stored reviewed reference (``example_reference_refresh``), as the control center reads it
(``dashboard.aggregates.reviewed_rows``), is the one rule in Python
(``reviewers.references.label_reference``) on every label set hypothesis makes up: choices and
ratings, ties, adjudications (several, or without a value), empty values, imported labels, labels
without a task, and labels sharing a timestamp. The services that write labels are driven in
random sequences in tests/reviewers/test_reference_store.py."""

import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.aggregates import reviewed_rows
from reviewers.models import HumanLabel, ReviewTask
from reviewers.references import label_reference
from reviewers.services import example_reference_refresh
from routing.batches.models import Batch, Domain, Example
from routing.decisions.models import RoutingDecision

LABEL = st.fixed_dictionaries({
    "source": st.sampled_from(["review", "review", "review", "import"]),
    # None: a review label without a task (its task was deleted); twice "adjudication" so that
    # several adjudications of one example, in either order, come up often.
    "kind": st.sampled_from([None, "routed", "audit", "second", "gold", "adjudication", "adjudication"]),
    "choice": st.sampled_from([None, 0, 1, 2]),
    "rating": st.sampled_from([None, 1.0, 2.5, 4.0]),
    # Few distinct minutes: labels often share a timestamp, and then the id orders them.
    "minute": st.integers(min_value=0, max_value=3),
})
# Two pairwise and two rating examples: the first of each routed to humans, the second an audit.
TASKS = (Example.Task.PAIRWISE, Example.Task.RATING, Example.Task.PAIRWISE, Example.Task.RATING)
T0 = datetime.datetime(2026, 1, 5, 9, 0, tzinfo=datetime.UTC)


@pytest.fixture
def examples(db) -> list[Example]:
    batch = Batch.objects.create(name="reference-agreement")
    domain = Domain.objects.create(path="test/references")
    out = []
    for i, task in enumerate(TASKS):
        example = Example.objects.create(batch=batch, external_id=f"x{i}", domain=domain, task=task,
                                         prompt="p", responses=["a", "b"], scale_min=1, scale_max=5)
        RoutingDecision.objects.create(
            example=example, route="human" if i < 2 else "judge", audit=i >= 2, reason="test",
            router_version="test", judge_verdict=1, judge_rating=2.5)
        out.append(example)
    return out


def _store(example: Example, labels: list[dict]) -> None:
    for n, spec in enumerate(labels):
        task = None
        if spec["source"] == "review" and spec["kind"] is not None:
            task = ReviewTask.objects.create(example=example, kind=spec["kind"], status="done")
        label = HumanLabel.objects.create(example=example, task=task, source=spec["source"], choice=spec["choice"],
                                          rating=spec["rating"], annotator=f"annotator-{n}")
        HumanLabel.objects.filter(pk=label.pk).update(created_at=T0 + datetime.timedelta(minutes=spec["minute"]))
    example_reference_refresh(example_ids=[example.pk])


def _python_references(examples: list[Example]) -> dict[int, float]:
    """The rule in Python on the example's HybridQC review labels, oldest first."""
    out = {}
    for example in examples:
        labels = list(HumanLabel.objects.filter(example=example, source=HumanLabel.Source.REVIEW)
                      .select_related("task").order_by("created_at", "id"))
        if (value := label_reference(labels, example.task)) is not None:
            out[example.pk] = float(value)
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(label_sets=st.lists(st.lists(LABEL, max_size=6), min_size=len(TASKS), max_size=len(TASKS)))
def test_stored_reference_equals_label_reference_for_every_label_set(examples, label_sets):
    # The fixture's rows live for the whole test; each hypothesis example brings its own labels.
    ReviewTask.objects.filter(example__in=examples).delete()
    HumanLabel.objects.filter(example__in=examples).delete()
    Example.objects.filter(pk__in=[e.pk for e in examples]).update(reviewed_reference=None)
    for example, labels in zip(examples, label_sets, strict=True):
        _store(example, labels)
    stored = dict(Example.objects.filter(pk__in=[e.pk for e in examples], reviewed_reference__isnull=False)
                  .values_list("pk", "reviewed_reference"))
    assert stored == _python_references(examples)
    # Every example has a judge verdict and is routed or audited, so the control center reads them all.
    assert {row.example_id: row.reference for row in reviewed_rows([examples[0].batch_id])} == stored


def test_stored_reference_takes_the_latest_adjudication_by_time_then_id(examples):
    # Hand-computed: of three adjudications, the latest (minute 2) wins, though an older one has
    # the highest id; at one timestamp the higher id wins. Review majorities are ignored.
    pairwise, rating = examples[0], examples[1]
    _store(pairwise, [{"source": "review", "kind": "second", "choice": 0, "rating": None, "minute": 0},
                      {"source": "review", "kind": "adjudication", "choice": 2, "rating": None, "minute": 2},
                      {"source": "review", "kind": "adjudication", "choice": 1, "rating": None, "minute": 1}])
    _store(rating, [{"source": "review", "kind": "adjudication", "choice": None, "rating": 1.0, "minute": 3},
                    {"source": "review", "kind": "adjudication", "choice": None, "rating": 4.0, "minute": 3}])
    sql = {row.example_id: row.reference for row in reviewed_rows([pairwise.batch_id])}
    assert sql == {pairwise.pk: 2.0, rating.pk: 4.0}
    assert _python_references(examples) == {pairwise.pk: 2.0, rating.pk: 4.0}
