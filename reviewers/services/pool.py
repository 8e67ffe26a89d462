"""The statements behind "next item", written out in SQL: they run on every submit, and building
the equivalent querysets (Q trees, exclusions, three tiers) took more server CPU than all the
rest of the request. They follow the ORM versions of the same rules
(``valid_credentials`` in capacity.py, ``reviewer_task_q``, ``prefix_q``, ``reviewer_label_counts`` in matching.py);
tests/reviewers/test_fast_path.py pins the rules and the query count. Only table names and fixed
fragments are formatted into the SQL; every value is a parameter.

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

from routing.batches.models import Domain, Example

from ..capacity import today_start
from ..models import Credential, HumanLabel, ReviewerProfile, ReviewTask, TaskSkip
from .matching import levels_up_to

Status, Kind = ReviewTask.Status, ReviewTask.Kind


def _table(model: Any) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _dt(value: datetime) -> Any:
    """A datetime as the ORM would pass it (naive UTC text on SQLite, as-is on PostgreSQL)."""
    return connection.ops.adapt_datetimefield_value(value)


def _columns(model: Any, alias: str) -> str:
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


def _credentials_sql(reviewer: ReviewerProfile, now: datetime) -> tuple[str, list[Any]]:
    sql = (
        f"SELECT {_columns(Credential, 'c')} FROM {_table(Credential)} c "  # noqa: S608 - names only
        f"JOIN {_table(ReviewerProfile)} r ON r.id = c.reviewer_id "
        "WHERE c.reviewer_id = %s AND c.paused = %s AND (c.expires_at IS NULL OR c.expires_at > %s) "
        "AND r.status = %s"
    )
    return sql, [reviewer.pk, False, _dt(now), ReviewerProfile.Status.ACTIVE.value]


def credentials_valid(reviewer: ReviewerProfile, now: datetime) -> list[Credential]:
    """The reviewer's credentials usable now (``valid_credentials`` for one reviewer)."""
    sql, params = _credentials_sql(reviewer, now)
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} ORDER BY c.domain_prefix, c.id", params)
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


def _state_sql(reviewer: ReviewerProfile) -> tuple[str, list[Any]]:
    sql = (
        "SELECT COUNT(CASE WHEN l.created_at >= %s THEN 1 END) AS today, COUNT(*) AS total, "  # noqa: S608
        "COUNT(CASE WHEN t.kind = %s THEN 1 END) AS gold, "
        f"(SELECT h.id FROM {_table(ReviewTask)} h WHERE h.assignee_id = %s AND h.status = %s ORDER BY h.id LIMIT 1) "
        f"AS held_id FROM {_table(HumanLabel)} l LEFT JOIN {_table(ReviewTask)} t ON t.id = l.task_id "
        "WHERE l.reviewer_id = %s AND l.source = %s"
    )
    params = [
        _dt(today_start(reviewer.timezone)),
        Kind.GOLD.value,
        reviewer.pk,
        Status.LEASED.value,
        reviewer.pk,
        HumanLabel.Source.REVIEW.value,
    ]
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


def claim_inputs(reviewer: ReviewerProfile, now: datetime) -> tuple[list[Credential], QueueState]:
    """``credentials_valid`` and ``queue_state`` in one statement: what every claim reads first.
    The state is one row, joined to each credential (or to none: one row without a credential)."""
    cred_sql, cred_params = _credentials_sql(reviewer, now)
    state_sql, state_params = _state_sql(reviewer)
    sql = (
        f"SELECT s.today, s.total, s.gold, s.held_id, c.* FROM ({state_sql}) s "  # noqa: S608 - names only
        f"LEFT JOIN ({cred_sql}) c ON 1 = 1 ORDER BY c.domain_prefix, c.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*state_params, *cred_params])
        rows = cursor.fetchall()
    credentials = [_instance(Credential, "c", row[4:]) for row in rows if row[4] is not None]
    return credentials, _state_of(rows[0][:4])


def _paths_sql(credentials: Sequence[Credential], levels: bool) -> tuple[str, list[Any]]:
    """SQL of ``reviewer_task_q`` (levels=True) or of the gold scope (domains only): a credential
    covers a domain path equal to its prefix or below it (``prefix_q``), and with levels, a task
    whose minimum level the credential satisfies."""
    like = connection.operators["startswith"]  # type: ignore[attr-defined] # "LIKE %s", as the ORM uses
    parts, params = [], []
    for c in credentials:
        prefix = c.domain_prefix.strip("/")
        part = f"(d.path = %s OR d.path {like})"
        params += [prefix, connection.ops.prep_for_like_query(prefix + "/") + "%"]
        if levels:
            allowed = levels_up_to(c.level)
            part = f"({part} AND t.min_level IN ({', '.join(['%s'] * len(allowed))}))"
            params += allowed
        parts.append(part)
    return " OR ".join(parts), params


def _tiers(reviewer_id: int, now: datetime) -> list[tuple[str, list[Any]]]:
    """Where to look, in order: tasks designated to this reviewer; free tasks (unassigned,
    unstaffed ones a new credential now covers, leases past expiry); then tasks designated to
    someone else, so nothing waits on one busy reviewer. Each tier is an index range scan."""
    return [
        ("t.status = %s AND t.assignee_id = %s", [Status.OPEN.value, reviewer_id]),
        (
            "(t.status IN (%s, %s) AND t.assignee_id IS NULL) OR (t.status = %s AND t.lease_expires_at < %s)",
            [Status.OPEN.value, Status.UNSTAFFED.value, Status.LEASED.value, _dt(now)],
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
        f"lease_expires_at = %s WHERE id = COALESCE({', '.join(subqueries)}) RETURNING *"
    )
    return sql, [Status.LEASED.value, reviewer.pk, _dt(now), _dt(expires), *params]


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
    task on, in id order."""
    if not credentials:
        return []
    scope, params = _paths_sql(credentials, levels=False)
    sql = (
        f"SELECT e.id FROM {_table(Example)} e JOIN {_table(Domain)} d ON d.id = e.domain_id "  # noqa: S608
        f"WHERE ({scope}) AND e.is_gold = %s "
        f"AND e.id NOT IN (SELECT l.example_id FROM {_table(HumanLabel)} l WHERE l.reviewer_id = %s) "
        f"AND e.id NOT IN (SELECT h.example_id FROM {_table(ReviewTask)} h WHERE h.assignee_id = %s) "
        "ORDER BY e.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, True, reviewer.pk, reviewer.pk])
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
