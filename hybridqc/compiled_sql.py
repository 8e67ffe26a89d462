"""SQL compiled from the ORM form of a rule, for statements written out by hand on a hot path.

Why: the review queue's claim runs on every submit as a few hand-assembled statements (building
their querysets per request cost more server CPU than the rest of the request), yet the rules
inside them (credential validity, domain-prefix coverage, task scope, label counts) and the
agreement rule of the trends must each have one definition. So the statement embeds SQL compiled
from that definition by Django's own compiler, and the caller caches it per process: compiled
once per shape, reused with new values.

Values that change per call (now, a reviewer's id) are compiled as sentinels: ``compile_bound``
finds where each one's parameter landed and keeps its position, so ``CompiledSQL.bind`` only
swaps values into a tuple. A sentinel that does not come out as exactly one plain parameter
(e.g. one folded into a LIKE pattern) is refused at compile time, never guessed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.db import connection
from django.db.models import Expression, Field, Model, Q, QuerySet
from django.db.models.sql import InsertQuery, Query, UpdateQuery

# Values no real row carries, so a parameter equal to one is that sentinel's slot.
SENTINEL_ID = -739_104_527
SENTINEL_TIME = datetime.fromisoformat("1901-02-03T04:05:06.789012+00:00")
SENTINEL_FLOAT = -739_104_527.25


@dataclass(frozen=True)
class Slot:
    """Where ``bind`` puts the value named ``name``."""

    name: str


def db_value(value: Any) -> Any:
    """A value as the ORM passes it to the database (a datetime adapted for the backend: naive
    UTC text on SQLite, as-is on PostgreSQL)."""
    if isinstance(value, datetime):
        return connection.ops.adapt_datetimefield_value(value)
    return value


@dataclass(frozen=True)
class CompiledSQL:
    """SQL text and its parameters: constants, and ``Slot`` markers for the values of a call."""

    sql: str
    params: tuple[Any, ...]

    def bind(self, **values: Any) -> list[Any]:
        return [db_value(values[p.name]) if isinstance(p, Slot) else p for p in self.params]


def _slots(params: list[Any], sentinels: Mapping[str, Any]) -> tuple[Any, ...]:
    expected = {name: db_value(value) for name, value in sentinels.items()}
    out: list[Any] = []
    for param in params:
        names = [n for n, v in expected.items() if type(param) is type(v) and param == v]
        out.append(Slot(names[0]) if names else param)
    missing = set(sentinels) - {p.name for p in out if isinstance(p, Slot)}
    if missing:
        raise ValueError(f"sentinels {sorted(missing)} did not come out as plain parameters")
    return tuple(out)


def id_sentinels(n: int) -> dict[str, int]:
    """``n`` distinct id sentinels, named id0, id1, ...: the values of an IN list compiled for ``n``
    ids (``ids_bound`` names a call's ids the same way)."""
    return {f"id{i}": SENTINEL_ID - i for i in range(n)}


def ids_bound(ids: Sequence[int]) -> dict[str, int]:
    """A call's ids under the names ``id_sentinels`` gave their slots."""
    return {f"id{i}": value for i, value in enumerate(ids)}


def compile_bound(build: Callable[..., tuple[str, list[Any]]], **sentinels: Any) -> CompiledSQL:
    """``build(**sentinels)`` (SQL and parameters), with each sentinel's parameter made a slot."""
    sql, params = build(**sentinels)
    return CompiledSQL(sql, _slots(list(params), sentinels))


def queryset_sql(queryset: QuerySet[Any]) -> tuple[str, list[Any]]:
    """The SELECT a queryset would run."""
    sql, params = queryset.query.sql_with_params()
    return sql, list(params)


def aggregate_sql(queryset: QuerySet[Any], **aggregates: Any) -> tuple[str, list[Any]]:
    """The one-row SELECT ``queryset.aggregate(**aggregates)`` runs (for a plain filtered
    queryset: no slicing, grouping or distinct, which would need an outer query)."""
    query = queryset.query.chain()
    if query.is_sliced or query.distinct or query.group_by is not None or query.annotations:
        raise ValueError("aggregate_sql takes a plain filtered queryset")
    for alias, aggregate in aggregates.items():
        query.add_annotation(aggregate, alias, select=True)
    query.default_cols = False
    query.clear_ordering(force=True)
    sql, params = query.get_compiler(connection=connection).as_sql()
    return sql, list(params)


def where_sql(model: type[Model], q: Q, aliases: Mapping[str, str]) -> tuple[str, list[Any]]:
    """The WHERE clause of ``model.objects.filter(q)`` with each table under the alias
    ``aliases`` gives its name (``{"reviewers_reviewtask": "t", ...}``), for a statement that
    joins those tables itself. A rule that needs another table, or one table twice, is refused."""
    query = Query(model)
    query.add_q(q)
    change = {}
    for alias, join in query.alias_map.items():
        if join.table_name not in aliases or alias != join.table_name:
            raise ValueError(f"where_sql: the rule joins {join.table_name} (as {alias}), not given an alias")
        change[alias] = aliases[join.table_name]
    query = query.relabeled_clone(change)
    sql, params = query.get_compiler(connection=connection).compile(query.where)
    return sql, list(params)


def expression_sql(expression: Expression, model: type[Model]) -> tuple[str, list[Any]]:
    """One expression (on columns written as RawSQL, or on ``model``'s fields) as SQL."""
    query = Query(model)
    resolved = expression.resolve_expression(query, allow_joins=False)
    sql, params = query.get_compiler(connection=connection).compile(resolved)
    return sql, list(params)


def update_sql(queryset: QuerySet[Any], **values: Any) -> tuple[str, list[Any]]:
    """The UPDATE ``queryset.update(**values)`` runs, for a queryset filtered on its own table
    only (an update that needs a join or another table's rows is refused)."""
    query = cast(UpdateQuery, queryset.query.chain(UpdateQuery))
    query.add_update_values(values)
    query.get_initial_alias()
    if query.get_related_updates() or query.count_active_tables() != 1:
        raise ValueError("update_sql takes a queryset on one table")
    sql, params = query.get_compiler(connection=connection).as_sql()
    return sql, list(params)


def insert_sql(model: type[Model]) -> tuple[str, list[Field[Any, Any]]]:
    """The INSERT ``model.objects.create()`` runs for one row, RETURNING its new primary key, and
    the fields whose values it takes, in order (``insert_params`` prepares them as the ORM does).
    For a model whose only returned column is its auto primary key and whose every value is one
    plain placeholder; anything else is refused."""
    opts = model._meta
    if opts.auto_field is None or list(opts.db_returning_fields) != [opts.pk]:
        raise ValueError("insert_sql takes a model that returns only its auto primary key")
    if not connection.features.can_return_columns_from_insert:
        raise ValueError("insert_sql needs INSERT ... RETURNING")
    # The fields Model.save() inserts for a new row whose primary key the database assigns.
    fields = [f for f in opts.local_concrete_fields if f is not opts.auto_field and not f.generated]
    query = InsertQuery(model)
    query.insert_values(fields, [model()])
    compiler = query.get_compiler(connection=connection)
    compiler.returning_fields = [opts.pk]
    [(sql, params)] = compiler.as_sql()
    if sql.count("%s") != len(fields) or len(params) != len(fields):
        raise ValueError("insert_sql: a value did not come out as one plain parameter")
    return sql, fields


def insert_params(obj: Model, fields: list[Field[Any, Any]]) -> list[Any]:
    """``obj``'s values for ``insert_sql``'s fields, as the ORM's insert prepares them (``pre_save``
    fills automatic values such as ``auto_now_add`` on ``obj`` too)."""
    return [f.get_db_prep_save(f.pre_save(obj, True), connection=connection) for f in fields]
