import pytest

from hybridqc.flows.batches import batch_route
from reviewers.services import review_label_submit, review_task_claim
from tests import factories
from tests.support.webhook_receiver import webhook_receiver  # noqa: F401 - a fixture for these tests

# Two orders that disagree: a tied vote, so every item goes to a human (no judge-kept item, so
# the release gate needs only the human work done).
TIED = [{"judge": "judge-x", "order": "ab", "choice": 1}, {"judge": "judge-x", "order": "ba", "choice": 2}]


@pytest.fixture
def tied_batch(db, settings, reviewer_user):
    """Make a routed batch of ``n`` items, all waiting for ``reviewer_user`` (one reviewer: no
    second reviews nobody else could take)."""
    settings.REVIEW_SECOND_SHARE = 0.0

    def make(name, n):
        items = [factories.pairwise_item(i, judgments=TIED) for i in range(n)]
        batch = factories.batch(name, items=items, audit_rate=0.0, audit_min_per_domain=0).batch
        batch_route(batch=batch)
        return batch

    return make


@pytest.fixture
def label_all(reviewer_user):
    """Label every item in ``reviewer_user``'s queue (choice 1) through the review services."""

    def run():
        profile = reviewer_user.reviewer
        while (task := review_task_claim(reviewer=profile)) is not None:
            review_label_submit(task=task, reviewer=profile, choice=1)

    return run
