"""A submit's two writes, on statements compiled once per process: the label's INSERT and the
task's UPDATE to done. Building them through ``Model.save()`` on every submit (the model's
save machinery, a fresh query and compiler per call) cost more CPU than running them. The
statements are the ones the ORM writes (``insert_sql``, ``update_sql``); no model signal is
sent, and none is connected for these models (tests/reviewers/test_label_write.py)."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from django.db import DatabaseError, connection
from django.db.models import Field

from hybridqc.compiled_sql import (
    SENTINEL_ID,
    SENTINEL_TIME,
    CompiledSQL,
    compile_bound,
    insert_params,
    insert_sql,
    update_sql,
)

from ..models import HumanLabel, ReviewTask


@functools.cache
def _label_insert_compiled(vendor: str) -> tuple[str, list[Field[Any, Any]]]:
    """``HumanLabel``'s INSERT (per database backend) and the fields it takes."""
    return insert_sql(HumanLabel)


@functools.cache
def _task_done_compiled(vendor: str) -> CompiledSQL:
    """The UPDATE marking one task done at a time, its lease cleared (per database backend)."""

    def build(task: int, now: datetime) -> tuple[str, list[Any]]:
        queryset = ReviewTask.objects.filter(pk=task)
        return update_sql(queryset, status=ReviewTask.Status.DONE, completed_at=now, lease_expires_at=None)

    return compile_bound(build, task=SENTINEL_ID, now=SENTINEL_TIME)


def label_insert(label: HumanLabel) -> HumanLabel:
    """Store a new, unsaved label as ``label.save()`` would (``created_at`` set now); returns it saved."""
    sql, fields = _label_insert_compiled(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, insert_params(label, fields))
        (label.pk,) = cursor.fetchone()
    label._state.adding, label._state.db = False, connection.alias
    return label


def task_done_write(task: ReviewTask, now: datetime) -> None:
    """Mark the task done at ``now`` with its lease cleared, in the database and on ``task``."""
    compiled = _task_done_compiled(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(compiled.sql, compiled.bind(task=task.pk, now=now))
        if cursor.rowcount != 1:  # as save(update_fields=...) refuses a row that is gone
            raise DatabaseError("Save with update_fields did not affect any rows.")
    task.status, task.completed_at, task.lease_expires_at = ReviewTask.Status.DONE, now, None
