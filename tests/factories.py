"""Factories for tests: every test builds its rows here, through the project's own services."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.contrib.auth.models import Group, User
from django.utils import timezone

from hybridqc.flows.imports import batch_import
from reviewers.models import Credential, ReviewerProfile, ReviewTask
from reviewers.roles_setup import roles_ensure
from reviewers.services import review_tasks_create
from routing.batches.models import Batch, Example
from routing.ingest.import_v1 import ImportResult
from routing.judging.services import judge_config_create
from routing.scoring.models import RouterModel
from routing.training.backtest import LabeledItem, labeled_item, labeled_items
from routing.training.router_training import Trained, router_train, router_train_items

DATA = Path(__file__).resolve().parent.parent / "data"
PASSWORD = "test-pass-123"


def user(username: str, role: str | None = None, **extra: Any) -> User:
    roles_ensure()
    u = User.objects.create_user(username=username, password=PASSWORD, **extra)
    if role:
        u.groups.add(Group.objects.get(name=role))
    return u


def lead(username: str = "lead") -> User:
    return user(username, "lead")


def admin(username: str = "admin") -> User:
    return user(username, "admin", is_staff=True, is_superuser=True)


def reviewer(
    username: str = "reviewer",
    prefixes: Sequence[str] = ("test",),
    level: str = "practitioner",
    expires_in_days: int | None = 365,
    **profile: Any,
) -> User:
    u = user(username, "reviewer")
    p = ReviewerProfile.objects.create(user=u, display_name=username.title(), **profile)
    expires = timezone.now() + timedelta(days=expires_in_days) if expires_in_days is not None else None
    for prefix in prefixes:
        Credential.objects.create(reviewer=p, domain_prefix=prefix, level=level, expires_at=expires,
                                  verified_at=timezone.now())
    return u


def pairwise_item(i: int, **over: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": f"item-{i}",
        "task": "pairwise",
        "domain": "test/general",
        "prompt": f"Question {i}?",
        "responses": [f"Answer A{i}", f"Answer B{i}"],
        "judgments": [
            {"judge": "judge-x", "variant": "v", "order": "ab", "choice": 1},
            {"judge": "judge-x", "variant": "v", "order": "ba", "choice": 1},
        ],
        "human_labels": [{"annotator": "ann-1", "choice": 1}],
    }
    item.update(over)
    return item


def jsonl(items: Sequence[dict[str, Any]]) -> list[str]:
    return [json.dumps(it) for it in items]


def batch(name: str = "b1", items: Sequence[dict[str, Any]] | None = None, **fields: Any) -> ImportResult:
    items = items if items is not None else [pairwise_item(i) for i in range(5)]
    return batch_import(batch_name=name, lines=jsonl(items), **fields)


def data_lines(name: str, limit: int | None = None) -> list[str]:
    lines = (DATA / name).read_text().splitlines()
    return lines[:limit] if limit else lines


def router_trained(seed: int = 0) -> RouterModel:
    """A router trained (and made active) on the first 400 LLMBar lines, imported once as "history"."""
    if not Batch.objects.filter(name="history").exists():
        batch_import(batch_name="history", lines=data_lines("llmbar.jsonl", 400))
    return router_train(seed=seed)


def llmbar_live(mode: str, **fields: Any) -> Batch:
    """The LLMBar lines after the history (219 examples) as a batch routed in ``mode``."""
    lines = data_lines("llmbar.jsonl")[400:]
    return batch_import(batch_name=f"live-{mode}", lines=lines, routing_mode=mode, **fields).batch


def shuffled_lines(name: str, seed: int = 0) -> list[str]:
    """A data file's lines in a seeded random order (the files are sorted by domain)."""
    lines = data_lines(name)
    random.Random(seed).shuffle(lines)
    return lines


def flipped(items: Sequence[LabeledItem]) -> list[LabeledItem]:
    """Labeled items whose pairwise human reference is the other response: wrong labels."""
    return [labeled_item(it.item, 3 - it.reference if it.reference in (1, 2) else it.reference) for it in items]


def router_trained_items(limit: int = 120, seed: int = 0) -> Trained:
    """A router trained without the database on the first ``limit`` llmbar items with a verdict."""
    items, _ = labeled_items(data_lines("llmbar.jsonl", limit))
    return router_train_items([it for it in items if it.verdict is not None], seed=seed)


def judge_config(base_url: str, name: str = "fake-judge", **fields: Any):
    """A live judge configuration against (usually) the fake server, with test-speed retries."""

    defaults: dict[str, Any] = {"model": "fake-judge", "timeout_s": 2.0, "retry_budget": 3, "backoff_s": 0.01,
                                "max_concurrency": 16}
    return judge_config_create(name=name, base_url=base_url, **{**defaults, **fields})


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
    build = rating_item if rating else pairwise_item
    result = batch(name, items=[build(i, domain=domain, **over) for i in range(n)])
    return list(result.batch.examples.select_related("domain").order_by("line_number"))


def make_tasks(
    n: int, name: str = "b1", domain: str = "test/general", kind: str = "routed", rating: bool = False, **over: Any
) -> list[ReviewTask]:
    return review_tasks_create(examples=make_examples(n, name, domain, rating, **over), kind=kind)


def profile(username: str, prefixes: tuple[str, ...] = ("test",), **kw: Any) -> ReviewerProfile:
    return reviewer(username=username, prefixes=prefixes, **kw).reviewer
