"""The statements behind "next item". They run on every submit, and building their querysets
per request (Q trees, exclusions, three tiers) took more server CPU than all the rest of the
request, so the statements are assembled here by hand; but the rules inside them are not written
out again. Each is its one ORM form compiled to SQL by Django's compiler (hybridqc/compiled_sql.py)
and cached per process: credential validity (``valid_credentials`` in capacity.py, compiled once,
now and the reviewer as bound slots), the task scope and the gold scope (``reviewer_task_q`` and
``reviewer_domain_q`` in matching.py, over ``prefix_q``; compiled once per set of credentials, on
the aliases t, e, d this module joins) and the label counts (``reviewer_label_counts``' queryset
and aggregates). What is written here is only what no other module states: the tiers, the
exclusions, the locks and the joins. tests/reviewers/test_fast_path.py compares the claim with
those rules on generated rosters and pins the query count. Only table names, fixed fragments and
the compiled rules are formatted into the SQL; every value is a parameter.

Concurrency: the claim is one ``UPDATE ... WHERE id = COALESCE((tier 1), (tier 2), (tier 3))``
whose tier subqueries each take ``LIMIT 1 FOR UPDATE SKIP LOCKED``, so a row another claim has
locked is skipped, never waited for or handed out twice. PostgreSQL evaluates COALESCE's
arguments lazily (uncorrelated subqueries are init plans run on first use), so a later tier is
read, and its row locked, only when the earlier ones found nothing. After a submit the page needs
the next item and "N left in your queue": ``claim_inputs`` reads the credentials and the queue state
in one statement, and ``pool_take_counted`` claims, loads the item and counts in one more (the
count is over the same tiers, OR-ed, so it cannot drift from what a claim hands out)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, connections

from hybridqc.compiled_sql import (
    SENTINEL_ID,
    SENTINEL_TIME,
    CompiledSQL,
    aggregate_sql,
    compile_bound,
    db_value,
    queryset_sql,
    where_sql,
)
from routing.batches.models import Domain, Example

from ..capacity import today_start, valid_credentials
from ..models import Credential, HumanLabel, ReviewerProfile, ReviewTask, TaskSkip
from .matching import label_counts_aggregates, review_labels, reviewer_domain_q, reviewer_task_q

Status, Kind = ReviewTask.Status, ReviewTask.Kind


# Names and column lists are fixed per model and backend, so they are quoted once per process:
# quoting them on every claim and submit (some 70 names a request) cost measurable CPU.
def _table(model: Any) -> str:
    return _quoted(model, None, connection.vendor)


def _columns(model: Any, alias: str) -> str:
    return _quoted(model, alias, connection.vendor)


@functools.cache
def _quoted(model: Any, alias: str | None, vendor: str) -> str:
    """The model's table name (no alias) or its columns on ``alias``, quoted."""
    if alias is None:
        return connection.ops.quote_name(model._meta.db_table)
    return ", ".join(f"{alias}.{connection.ops.quote_name(f.column)}" for f in model._meta.concrete_fields)


@functools.cache
def _converters(model: Any, alias: str, db: str) -> tuple[list[str], list[tuple[int, Any, list[Any]]]]:
    """Per model: its attnames and, for the columns that need it, the converters the ORM applies
    to a fetched value (JSON decoding; datetimes on SQLite). Computed once per process."""
    conn = connections[db]
    fields = model._meta.concrete_fields
    plan = []
    for i, field in enumerate(fields):
        col = field.get_col(alias)
        found = conn.ops.get_db_converters(col) + field.get_db_converters(conn)
        if found:
            plan.append((i, col, found))
    return [f.attname for f in fields], plan


def _instance(model: Any, alias: str, values: Sequence[Any]) -> Any:
    """A model instance from one row of ``_columns(model, alias)``, through the same converters
    the ORM's own fetches use."""
    attnames, plan = _converters(model, alias, connection.alias)
    row = list(values)
    for i, col, found in plan:
        for convert in found:
            row[i] = convert(row[i], col, connection)
    return model.from_db(connection.alias, attnames, row)


@functools.cache
def _credentials_compiled(vendor: str) -> CompiledSQL:
    """``valid_credentials`` of one reviewer, compiled (per database backend)."""
    def build(now: datetime, reviewer: int) -> tuple[str, list[Any]]:
        return queryset_sql(valid_credentials(now).filter(reviewer_id=reviewer).order_by())

    return compile_bound(build, now=SENTINEL_TIME, reviewer=SENTINEL_ID)


def _credentials_sql(reviewer: ReviewerProfile, now: datetime) -> tuple[str, list[Any]]:
    """The reviewer's valid credentials, a SELECT of all their columns (alias them ``c``)."""
    compiled = _credentials_compiled(connection.vendor)
    return compiled.sql, compiled.bind(now=now, reviewer=reviewer.pk)


def credentials_valid(reviewer: ReviewerProfile, now: datetime) -> list[Credential]:
    """The reviewer's credentials usable now (``valid_credentials`` for one reviewer)."""
    sql, params = _credentials_sql(reviewer, now)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM ({sql}) c ORDER BY c.domain_prefix, c.id", params)  # noqa: S608
        return [_instance(Credential, "c", row) for row in cursor.fetchall()]


@dataclass(frozen=True)
class QueueState:
    """The reviewer's review labels (today, in all, on gold checks) and the lowest-id task they
    hold a lease on, if any."""

    today: int
    total: int
    gold: int
    held_id: int | None

    def counts(self) -> dict[str, int]:
        return {"today": self.today, "total": self.total, "gold": self.gold}


@functools.cache
def _counts_compiled(vendor: str) -> CompiledSQL:
    """``reviewer_label_counts``' one-row aggregate (today, total, gold), compiled (per backend)."""
    return compile_bound(lambda reviewer, day: aggregate_sql(review_labels(reviewer), **label_counts_aggregates(day)),
                         reviewer=SENTINEL_ID, day=SENTINEL_TIME)


def _state_sql(reviewer: ReviewerProfile) -> tuple[str, list[Any]]:
    counts = _counts_compiled(connection.vendor)
    sql = (
        f"SELECT n.today, n.total, n.gold, (SELECT h.id FROM {_table(ReviewTask)} h "  # noqa: S608 - names only
        f"WHERE h.assignee_id = %s AND h.status = %s ORDER BY h.id LIMIT 1) AS held_id FROM ({counts.sql}) n"
    )
    params = [reviewer.pk, Status.LEASED.value, *counts.bind(reviewer=reviewer.pk, day=today_start(reviewer.timezone))]
    return sql, params


def _state_of(row: Sequence[Any]) -> QueueState:
    today, total, gold, held_id = row
    return QueueState(today=today or 0, total=total or 0, gold=gold or 0, held_id=held_id)


def queue_state(reviewer: ReviewerProfile) -> QueueState:
    """One statement for what review_task_claim needs to know before claiming (the same figures
    as ``reviewer_label_counts`` plus the held lease)."""
    sql, params = _state_sql(reviewer)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return _state_of(cursor.fetchone())


def _reviewer_lock_join(reviewer: ReviewerProfile) -> tuple[str, list[Any]]:
    """Lock the reviewer's row until the claim's transaction ends, so two claims of one reviewer (two
    tabs) take turns: the join and its parameters. The statement's snapshot predates the wait (its
    held lease may be stale); later statements see the other claim's lease (``_no_lease_sql``). NO
    KEY UPDATE: a label's foreign key check (KEY SHARE) is not held up."""
    if not connection.features.has_select_for_update:  # SQLite: one writer at a time anyway
        return "", []
    join = f"CROSS JOIN (SELECT p.id FROM {_table(ReviewerProfile)} p WHERE p.id = %s FOR NO KEY UPDATE) lk "  # noqa: S608
    return join, [reviewer.pk]


def _no_lease_sql() -> str:
    """The reviewer holds no lease (parameters: reviewer, leased): checked again as a claim leases."""
    return f"NOT EXISTS (SELECT 1 FROM {_table(ReviewTask)} h WHERE h.assignee_id = %s AND h.status = %s)"  # noqa: S608


def claim_inputs(reviewer: ReviewerProfile, now: datetime) -> tuple[list[Credential], QueueState]:
    """``credentials_valid`` and ``queue_state`` in one statement: what every claim reads first.
    The state is one row, joined to each credential (or to none: one row without a credential)."""
    cred_sql, cred_params = _credentials_sql(reviewer, now)
    state_sql, state_params = _state_sql(reviewer)
    lock_sql, lock_params = _reviewer_lock_join(reviewer)
    sql = (
        f"SELECT s.today, s.total, s.gold, s.held_id, c.* FROM ({state_sql}) s "  # noqa: S608 - names only
        f"{lock_sql}LEFT JOIN ({cred_sql}) c ON 1 = 1 ORDER BY c.domain_prefix, c.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*state_params, *lock_params, *cred_params])
        rows = cursor.fetchall()
    return [_instance(Credential, "c", row[4:]) for row in rows if row[4] is not None], _state_of(rows[0][:4])


_TASK_ALIASES = {ReviewTask._meta.db_table: "t", Example._meta.db_table: "e", Domain._meta.db_table: "d"}


@functools.lru_cache(maxsize=4096)
def _scope_compiled(vendor: str, credentials: tuple[tuple[str, str], ...], levels: bool) -> tuple[str, tuple[Any, ...]]:
    """``reviewer_task_q`` (levels=True: domain and level, on the task ``t``) or ``reviewer_domain_q``
    (domains only, on the example ``e``) of credentials given as (prefix, level), compiled."""
    held = [Credential(domain_prefix=prefix, level=level) for prefix, level in credentials]
    q = reviewer_task_q(held, "example__domain__path") if levels else reviewer_domain_q(held, "domain__path")
    assert q is not None  # callers pass at least one credential
    sql, params = where_sql(ReviewTask if levels else Example, q, _TASK_ALIASES)
    return sql, tuple(params)


def _paths_sql(credentials: Sequence[Credential], levels: bool) -> tuple[str, list[Any]]:
    """The scope of the reviewer's credentials (see ``_scope_compiled``), SQL on t, e, d."""
    key = tuple((c.domain_prefix, c.level) for c in credentials)
    sql, params = _scope_compiled(connection.vendor, key, levels)
    return sql, list(params)


def _tiers(reviewer_id: int, now: datetime) -> list[tuple[str, list[Any]]]:
    """Where to look, in order: tasks designated to this reviewer; free tasks (unassigned,
    unstaffed ones a new credential now covers, leases past expiry); then tasks designated to
    someone else, so nothing waits on one busy reviewer. Each tier is an index range scan."""
    return [
        ("t.status = %s AND t.assignee_id = %s", [Status.OPEN.value, reviewer_id]),
        (
            "(t.status IN (%s, %s) AND t.assignee_id IS NULL) OR (t.status = %s AND t.lease_expires_at < %s)",
            [Status.OPEN.value, Status.UNSTAFFED.value, Status.LEASED.value, db_value(now)],
        ),
        ("t.status = %s AND t.assignee_id IS NOT NULL AND t.assignee_id <> %s", [Status.OPEN.value, reviewer_id]),
    ]


def _candidates_sql(tier: str, scope: str) -> str:
    """The tasks of one tier (or of several, OR-ed) the reviewer may take: in their credentials'
    scope, not a gold check (those are made per reviewer), not of an example they labeled, not
    one they passed on. Parameters: the scope's, then gold, reviewer, reviewer, the tier's."""
    return (
        f"FROM {_table(ReviewTask)} t "  # noqa: S608 - table names and fixed fragments only
        f"JOIN {_table(Example)} e ON e.id = t.example_id JOIN {_table(Domain)} d ON d.id = e.domain_id "
        f"WHERE ({scope}) AND t.kind <> %s "
        f"AND t.example_id NOT IN (SELECT l.example_id FROM {_table(HumanLabel)} l WHERE l.reviewer_id = %s) "
        f"AND t.id NOT IN (SELECT s.task_id FROM {_table(TaskSkip)} s WHERE s.reviewer_id = %s) "
        f"AND ({tier})"
    )


def _tier_sql(tier: str, scope: str, lock: str) -> str:
    """First task of one tier the reviewer may take."""
    return f"SELECT t.id {_candidates_sql(tier, scope)} ORDER BY t.created_at, t.id LIMIT 1{lock}"


def _takeable_sql(reviewer: ReviewerProfile, credentials: Sequence[Credential], now: datetime) -> tuple[str, list[Any]]:
    """The count of the tasks every tier of ``pool_take`` offers the reviewer, and its parameters."""
    scope, scope_params = _paths_sql(credentials, levels=True)
    tiers = _tiers(reviewer.pk, now)
    takeable = " OR ".join(f"({tier})" for tier, _ in tiers)
    params = [*scope_params, Kind.GOLD.value, reviewer.pk, reviewer.pk, *(p for _, ps in tiers for p in ps)]
    return f"SELECT COUNT(*) {_candidates_sql(takeable, scope)}", params


def pool_takeable(*, reviewer: ReviewerProfile, credentials: Sequence[Credential], now: datetime) -> int:
    """How many tasks ``pool_take`` could hand the reviewer now, over all its tiers, in one
    statement (the "N left in your queue" count, before capacity)."""
    if not credentials:
        return 0
    sql, params = _takeable_sql(reviewer, credentials, now)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.fetchone()[0])


def _take_sql(
    reviewer: ReviewerProfile, credentials: Sequence[Credential], now: datetime, expires: datetime
) -> tuple[str, list[Any]]:
    """The UPDATE that leases the reviewer's next task (RETURNING its row), and its parameters."""
    scope, scope_params = _paths_sql(credentials, levels=True)
    # SQLite (the embedded demo) has no row locks and needs none: it runs one writer at a time,
    # and a single UPDATE statement is atomic there.
    lock = " FOR UPDATE OF t SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    subqueries, params = [], []
    for tier, tier_params in _tiers(reviewer.pk, now):
        subqueries.append(f"({_tier_sql(tier, scope, lock)})")
        params += [*scope_params, Kind.GOLD.value, reviewer.pk, reviewer.pk, *tier_params]
    sql = (
        f"UPDATE {_table(ReviewTask)} SET status = %s, assignee_id = %s, claimed_at = %s, "  # noqa: S608
        f"lease_expires_at = %s WHERE {_no_lease_sql()} AND id = COALESCE({', '.join(subqueries)}) RETURNING *"
    )
    guard = [reviewer.pk, Status.LEASED.value]
    return sql, [Status.LEASED.value, reviewer.pk, db_value(now), db_value(expires), *guard, *params]


def pool_take(
    *, reviewer: ReviewerProfile, credentials: Sequence[Credential], now: datetime, expires: datetime
) -> ReviewTask | None:
    """Lease the reviewer's next task from the pool and load it with its example and domain, in
    one statement; None when there is none."""
    if not credentials:
        return None
    sql, params = _take_sql(reviewer, credentials, now, expires)
    if connection.vendor != "postgresql":  # SQLite allows no UPDATE inside WITH: claim, then load
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        return task_load(row[0]) if row else None
    return _task_select(params, source="t", with_=f"WITH t AS ({sql}) ")


def pool_take_counted(
    *, reviewer: ReviewerProfile, credentials: Sequence[Credential], now: datetime, expires: datetime
) -> tuple[ReviewTask | None, int]:
    """``pool_take``, and what ``pool_takeable`` counts once it has leased, in one statement. The
    count reads the tasks as the statement found them (in PostgreSQL the rest of a statement does
    not see its WITH's UPDATE), so it still holds the task just leased, which is one of those it
    counts: one less."""
    if not credentials:
        return None, 0
    if connection.vendor != "postgresql":
        task = pool_take(reviewer=reviewer, credentials=credentials, now=now, expires=expires)
        return task, pool_takeable(reviewer=reviewer, credentials=credentials, now=now)
    take, take_params = _take_sql(reviewer, credentials, now, expires)
    count, count_params = _takeable_sql(reviewer, credentials, now)
    sql = (
        f"WITH t AS ({take}) SELECT n.c, {_task_columns()} FROM ({count}) n (c) LEFT JOIN t ON TRUE "  # noqa: S608
        f"LEFT JOIN {_table(Example)} e ON e.id = t.example_id LEFT JOIN {_table(Domain)} d ON d.id = e.domain_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*take_params, *count_params])
        n, *row = cursor.fetchone()
    task = _task_of_row(row) if row[0] is not None else None
    return task, max(0, n - int(task is not None))


def gold_candidates(*, reviewer: ReviewerProfile, credentials: Sequence[Credential]) -> list[int]:
    """Ids of gold examples in the reviewer's domains that they have neither labeled nor hold a
    task on, in id order; none while they hold a lease (see ``_no_lease_sql``)."""
    if not credentials:
        return []
    scope, params = _paths_sql(credentials, levels=False)
    sql = (
        f"SELECT e.id FROM {_table(Example)} e JOIN {_table(Domain)} d ON d.id = e.domain_id "  # noqa: S608
        f"WHERE ({scope}) AND e.is_gold = %s "
        f"AND e.id NOT IN (SELECT l.example_id FROM {_table(HumanLabel)} l WHERE l.reviewer_id = %s) "
        f"AND e.id NOT IN (SELECT h.example_id FROM {_table(ReviewTask)} h WHERE h.assignee_id = %s) "
        f"AND {_no_lease_sql()} ORDER BY e.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, True, reviewer.pk, reviewer.pk, reviewer.pk, Status.LEASED.value])
        return [row[0] for row in cursor.fetchall()]


def _task_columns() -> str:
    """The columns ``_task_of_row`` reads: the task's (alias t), its example's (e), its domain's (d)."""
    return f"{_columns(ReviewTask, 't')}, {_columns(Example, 'e')}, {_columns(Domain, 'd')}"


def _task_of_row(row: Sequence[Any]) -> ReviewTask:
    n_task, n_example = len(ReviewTask._meta.concrete_fields), len(Example._meta.concrete_fields)
    task: ReviewTask = _instance(ReviewTask, "t", row[:n_task])
    example: Example = _instance(Example, "e", row[n_task : n_task + n_example])
    example.domain = _instance(Domain, "d", row[n_task + n_example :])
    task.example = example
    return task


def _task_select(params: list[Any], *, source: str, where: str = "", with_: str = "") -> ReviewTask | None:
    """The task from ``source`` (aliased ``t``: its table, or a CTE named by ``with_``) with its
    example and domain."""
    sql = (
        f"{with_}SELECT {_task_columns()} FROM {source} "  # noqa: S608 - table names and fixed fragments only
        f"JOIN {_table(Example)} e ON e.id = t.example_id JOIN {_table(Domain)} d ON d.id = e.domain_id{where}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return _task_of_row(row) if row is not None else None


def task_load(task_id: int) -> ReviewTask:
    """The task with its example and domain (what the item page shows), in one statement."""
    task = _task_select([task_id], source=f"{_table(ReviewTask)} t", where=" WHERE t.id = %s")
    if task is None:
        raise ReviewTask.DoesNotExist(f"task {task_id}")
    return task


def _task_lock_clause() -> str:
    # The example too, FOR NO KEY UPDATE: what changes a label of it takes turns with other such
    # writers, so the reviewed reference it stores counts every label (``example_reference_store``);
    # the label's own foreign key check (KEY SHARE) and other readers are not held up.
    return " FOR UPDATE OF t FOR NO KEY UPDATE OF e" if connection.features.has_select_for_update_of else ""


def task_lock(task_id: int) -> ReviewTask | None:
    """The task with its example and domain, the task's and the example's rows locked until the
    transaction ends (the domain stays free); None when there is no such task."""
    return _task_select([task_id], source=f"{_table(ReviewTask)} t", where=f" WHERE t.id = %s{_task_lock_clause()}")


def task_lock_public(public_id: str) -> ReviewTask | None:
    """``task_lock`` by the reviewer-facing item id."""
    return _task_select([public_id], source=f"{_table(ReviewTask)} t",
                        where=f" WHERE t.public_id = %s{_task_lock_clause()}")
