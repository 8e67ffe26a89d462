"""Control center and batch page at scale, as a release lead through Django's test client.

Three fixture databases next to the bench database (``<name>_10k``, ``<name>_1m``, ``<name>_100k``),
built once in SQL (``INSERT ... SELECT`` over ``generate_series``, server-side: a million examples
in about two minutes) and reused when their batches are already there. Rows are inserted batch
by batch, as imports write them, so one batch's rows sit together on disk. Row mix per example: 2
judgments (both answer orders), a routing decision; 20% routed to humans and 5% audited (inclusion
probability 0.05), each with a review task — 90% done with a review label, 1 in 7 of them
overturning the judge — the rest open.

Figures: p95 over ``REQUESTS`` requests of page 1 (after 2 warm-up requests) of ``/control/`` at
10 batches x 1,000 and 1,000 x 1,000, and of one 100k batch's page; ``/api/control/batches/``, the
gate filter and the item search by prompt text at 1M (``item_search_text_p95_ms_1m``) alongside, all
interleaved request by request. ``search_index_100k_s``: the search's indexing task for the 100k
batch (routing/batches/search.py), run before the pages. Warm requests read the per-batch
figure cache (dashboard/stats.py); ``*_cold_ms_*`` is the same page right after every cached
figure was dropped, so each batch on it is recomputed.
Run alone: ``python bench/run.py scale``."""

from __future__ import annotations

import statistics
import time
from typing import Any

from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.db import connection
from django.db.models import Value
from django.db.models.functions import Concat
from django.test import Client

from dashboard.models import BatchStats
from reviewers.models import ReviewerProfile
from reviewers.roles_setup import roles_ensure
from routing.batches.models import Batch, Domain, Example, ExampleSearch, SearchIndexedBatch
from routing.batches.search import example_search_backfill

REQUESTS = 20
FIXTURES = {"10k": (10, 1000), "1m": (1000, 1000), "100k": (1, 100_000)}
# Names the fixture's layout: a database built by another version of this module is rebuilt.
SOURCE = "bench-scale-v2.jsonl"

_BATCHES_SQL = """
INSERT INTO routing_batch (name, created_at, status, status_detail, source_name, judge_backend, primary_judge,
    routing_mode, confidence_threshold, audit_rate, audit_min_per_domain, alpha, delta, seed, requeues, date)
SELECT 'scale-' || lpad(g::text, 4, '0'), now() - (%(n)s - g) * interval '1 hour', 'ready', '', %(source)s,
    'recorded', 'bench-judge', 'threshold', 0.8, 0.05, 30, 0.10, 0.10, 0, 0, current_date
FROM generate_series(1, %(n)s) g
"""
_EXAMPLES_SQL = """
INSERT INTO routing_example (batch_id, external_id, line_number, domain_id, task, prompt, responses, metadata,
    is_gold, flagged, created_at)
SELECT b.id, 'ex-' || g, g, (SELECT min(id) FROM routing_domain) + g %% 4, 'pairwise',
    'Question ' || g || ': which answer is right?', jsonb_build_array('answer A ' || g, 'answer B ' || g),
    '{}', false, false, b.created_at
FROM routing_batch b CROSS JOIN generate_series(1, %(size)s) g ORDER BY b.id, g
"""
_JUDGMENTS_SQL = """
INSERT INTO routing_judgment (example_id, judge, variant, "order", sample, choice, probability, rationale, error,
    attempts, prompt_tokens, completion_tokens, created_at)
SELECT e.id, 'bench-judge', '', o, 0, 1, 0.9, '', '', 1, 300, 20, e.created_at
FROM routing_example e CROSS JOIN (VALUES ('ab'), ('ba')) AS orders(o) ORDER BY e.id, o
"""
_DECISIONS_SQL = """
INSERT INTO routing_routingdecision (example_id, route, audit, reason, confidence, judge_verdict, router_version,
    score, threshold, audit_probability, created_at)
SELECT e.id, CASE WHEN e.line_number %% 5 = 0 THEN 'human' ELSE 'judge' END, e.line_number %% 20 = 1,
    CASE WHEN e.line_number %% 5 = 0 THEN 'low confidence' ELSE 'confident' END, 0.9, 1, 'threshold',
    (e.line_number %% 97) / 97.0, 0.8, CASE WHEN e.line_number %% 20 = 1 THEN 0.05 END, e.created_at
FROM routing_example e ORDER BY e.id
"""
_TASKS_SQL = """
INSERT INTO reviewers_reviewtask (example_id, kind, status, assignee_id, min_level, created_at, completed_at,
    skip_reason, public_id)
SELECT d.example_id, CASE WHEN d.audit THEN 'audit' ELSE 'routed' END,
    CASE WHEN d.example_id %% 10 = 0 THEN 'open' ELSE 'done' END, %(reviewer)s, '', d.created_at,
    CASE WHEN d.example_id %% 10 = 0 THEN NULL ELSE d.created_at END, '', 'b' || d.example_id
FROM routing_routingdecision d WHERE d.route = 'human' OR d.audit ORDER BY d.example_id
"""
_LABELS_SQL = """
INSERT INTO reviewers_humanlabel (example_id, task_id, reviewer_id, annotator, source, choice, rationale, flags,
    criteria, seconds_spent, created_at)
SELECT t.example_id, t.id, t.assignee_id, '', 'review', CASE WHEN t.example_id %% 7 = 0 THEN 2 ELSE 1 END, '',
    '[]', '{}', 30, t.created_at
FROM reviewers_reviewtask t WHERE t.status = 'done' ORDER BY t.id
"""


def _database_use(name: str) -> None:
    """Point Django's default connection at ``name`` (created and migrated if missing)."""
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        missing = cursor.fetchone() is None
        if missing:
            cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()
    connection.settings_dict["NAME"] = name
    call_command("migrate", verbosity=0)


def _fixture_ensure(batches: int, size: int) -> None:
    """Build the rows once; a database whose batches and examples are all there is reused."""
    if Batch.objects.filter(source_name=SOURCE).count() == batches and Example.objects.count() == batches * size:
        return
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Batch._meta.db_table} CASCADE")
    for i in range(4):
        Domain.objects.get_or_create(path=f"bench/d{i}")
    user, _ = User.objects.get_or_create(username="scale-reviewer")
    profile, _ = ReviewerProfile.objects.get_or_create(user=user)
    with connection.cursor() as cursor:
        for sql in (_BATCHES_SQL, _EXAMPLES_SQL, _JUDGMENTS_SQL, _DECISIONS_SQL, _TASKS_SQL, _LABELS_SQL):
            cursor.execute(sql, {"n": batches, "size": size, "reviewer": profile.pk, "source": SOURCE})
        # Autocommit, so outside a transaction: sets the visibility map (index-only counts) and
        # the planner's statistics, as autovacuum would after a bulk load.
        cursor.execute("VACUUM ANALYZE")


def _search_index_s(key: str) -> dict[str, float]:
    """The item search's indexing task over the fixture (routing.batches.search). The 1M is indexed
    once, as the fixture is built (``_search_index_1m_s`` then, about 0 on a reused fixture); the
    100k batch is emptied from the search table and indexed again every run (``search_index_100k_s``)."""
    if key == "100k":
        ExampleSearch.objects.all().delete()
        SearchIndexedBatch.objects.all().delete()
    started = time.monotonic()
    example_search_backfill(seconds=float("inf"))
    seconds = round(time.monotonic() - started, 1)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE routing_examplesearch")
    return {"search_index_100k_s" if key == "100k" else f"_search_index_{key}_s": seconds}


RARE_WORD = "zebra"


def _rare_word_ensure() -> None:
    """Put ``RARE_WORD`` into the prompts of the newest batch's first 20 examples (once): a page
    ordered by example id must then read past every other match-free row before it finds them."""
    newest = Batch.objects.filter(source_name=SOURCE).order_by("-pk").first()
    if newest is None:
        return
    Example.objects.filter(batch=newest, line_number__lte=20).exclude(prompt__contains=RARE_WORD).update(
        prompt=Concat("prompt", Value(f" {RARE_WORD}")))


def _lead_client() -> Client:
    roles_ensure()
    lead, _ = User.objects.get_or_create(username="scale-lead")
    lead.groups.add(Group.objects.get(name="lead"))
    client = Client(SERVER_NAME="localhost")
    client.force_login(lead)
    return client


def _database_switch(name: str) -> None:
    """Point the connection at another fixture database, connected before any timing starts."""
    connection.close()
    connection.settings_dict["NAME"] = name
    connection.ensure_connection()


def _timed_ms(client: Client, path: str) -> float:
    started = time.perf_counter()
    response = client.get(path)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, path
    return elapsed


def _cold_ms(client: Client, path: str) -> float:
    """The same page right after every batch's cached figures were dropped (as after a write to
    each batch on the page): median of 3."""
    times = []
    for _ in range(3):
        BatchStats.objects.all().delete()
        times.append(_timed_ms(client, path))
    return round(statistics.median(times), 1)


def _pages(base: str) -> list[tuple[str, str, str]]:
    """(figure, database, path) for every warm page measured."""
    _database_switch(f"{base}_100k")
    batch_page = f"/control/batch/{Batch.objects.get().pk}/"
    pages = [("batch_page_p95_ms_100k", "100k", batch_page),
             ("batch_page_filtered_p95_ms_100k", "100k", f"{batch_page}?route=audit&page=3")]
    for key in ("10k", "1m"):
        pages += [(f"control_center_p95_ms_{key}", key, "/control/"),
                  (f"api_control_batches_p95_ms_{key}", key, "/api/control/batches/"),
                  (f"control_center_gate_filter_p95_ms_{key}", key, "/control/?gate=hold&ordering=name")]
    # "999" is in the prompt of one example per batch ("Question 999: ..."): 0.1% of the 1M.
    pages.append(("item_search_text_p95_ms_1m", "1m", "/control/items/?text=999"))
    # A rare word: in 20 prompts of the newest batch only (``_rare_word_ensure``).
    pages.append(("item_search_rare_text_p95_ms_1m", "1m", f"/control/items/?text={RARE_WORD}"))
    return [(figure, f"{base}_{key}", path) for figure, key, path in pages]


def _measure(base: str, clients: dict[str, Client]) -> dict[str, Any]:
    """Side by side: each round requests every page once, so load from other processes on the
    box falls on the 10k and the 1M figures alike. p95 over ``REQUESTS`` rounds, 2 warm-up rounds."""
    pages = _pages(base)
    times: dict[str, list[float]] = {figure: [] for figure, _, _ in pages}
    for round_ in range(REQUESTS + 2):
        for figure, database, path in pages:
            _database_switch(database)
            elapsed = _timed_ms(clients[database], path)
            if round_ >= 2:
                times[figure].append(elapsed)
    figures: dict[str, Any] = {f: round(statistics.quantiles(t, n=20)[-1], 1) for f, t in times.items()}
    for figure, database, path in pages:
        if figure.startswith(("control_center_p95", "batch_page_p95")):
            _database_switch(database)
            cold = figure.replace("_p95_ms_", "_cold_ms_")
            figures[cold] = _cold_ms(clients[database], path)
    return figures


def run() -> dict[str, Any]:
    base = connection.settings_dict["NAME"]
    figures: dict[str, Any] = {}
    clients: dict[str, Client] = {}
    try:
        for key, (batches, size) in FIXTURES.items():
            _database_use(f"{base}_{key}")
            started = time.monotonic()
            _fixture_ensure(batches, size)
            if key == "1m":
                _rare_word_ensure()
            figures[f"_scale_fixture_{key}_s"] = round(time.monotonic() - started, 1)
            figures.update(_search_index_s(key))
            clients[f"{base}_{key}"] = _lead_client()
        figures.update(_measure(base, clients))
    finally:
        connection.close()
        connection.settings_dict["NAME"] = base
    figures["control_center_ratio_1m_to_10k"] = round(
        figures["control_center_p95_ms_1m"] / figures["control_center_p95_ms_10k"], 2)
    return figures
