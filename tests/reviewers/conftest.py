"""Helpers for the reviewer tests: examples and review tasks built through the project's services."""

from __future__ import annotations

from typing import Any

import pytest

from reviewers.models import ReviewerProfile, ReviewTask
from reviewers.services import review_tasks_create
from routing.models import Example
from tests import factories


def rating_item(i: int, **over: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": f"rating-{i}",
        "task": "rating",
        "domain": "test/general",
        "prompt": f"Rate answer {i}",
        "responses": [f"Rated answer {i}"],
        "scale": {"min": 1, "max": 10},
        "judgments": [{"judge": "judge-x", "rating": 7}],
        "human_labels": [],
    }
    item.update(over)
    return item


def make_examples(
    n: int, name: str = "b1", domain: str = "test/general", rating: bool = False, **over: Any
) -> list[Example]:
    build = rating_item if rating else factories.pairwise_item
    result = factories.batch(name, items=[build(i, domain=domain, **over) for i in range(n)])
    return list(result.batch.examples.select_related("domain").order_by("line_number"))


def make_tasks(
    n: int, name: str = "b1", domain: str = "test/general", kind: str = "routed", rating: bool = False, **over: Any
) -> list[ReviewTask]:
    return review_tasks_create(examples=make_examples(n, name, domain, rating, **over), kind=kind)


def profile(username: str, prefixes: tuple[str, ...] = ("test",), **kw: Any) -> ReviewerProfile:
    return factories.reviewer(username=username, prefixes=prefixes, **kw).reviewer


@pytest.fixture(autouse=True)
def _review_defaults(settings):
    """Deterministic queues: no random second reviews or gold checks unless a test asks."""
    settings.REVIEW_SECOND_SHARE = 0.0
    settings.REVIEW_GOLD_SHARE = 0.0
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins
