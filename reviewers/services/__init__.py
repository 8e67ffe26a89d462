"""Writes for the reviewer side: imported labels, review tasks, matching, the queue, gold items
and the roster. Callers import from here; the modules below hold the pieces."""

from ..capacity import valid_credentials
from .corrections import label_change_refusal, review_label_correct, review_label_undo, undo_window
from .errors import ReviewError, RosterCsvError
from .gold import batch_gold_from_labels, credential_pause, credentials_unpause, gold_check, gold_mark
from .matching import review_tasks_create, tasks_restaff, unstaffed_notices_resolve, unstaffed_restaff
from .queue import (
    FLAGS,
    review_label_submit,
    review_lease_renew,
    review_leases_expire,
    review_task_claim,
    review_task_next,
    review_task_skip,
)
from .references import example_reference_refresh, review_tasks_admin_delete
from .reset import review_tasks_untaken_delete
from .roster import roster_csv_export, roster_csv_import

__all__ = [
    "FLAGS",
    "ReviewError",
    "RosterCsvError",
    "batch_gold_from_labels",
    "credential_pause",
    "credentials_unpause",
    "example_reference_refresh",
    "gold_check",
    "gold_mark",
    "label_change_refusal",
    "review_label_correct",
    "review_label_submit",
    "review_label_undo",
    "review_lease_renew",
    "review_leases_expire",
    "review_task_claim",
    "review_task_next",
    "review_task_skip",
    "review_tasks_admin_delete",
    "review_tasks_create",
    "review_tasks_untaken_delete",
    "roster_csv_export",
    "roster_csv_import",
    "tasks_restaff",
    "undo_window",
    "unstaffed_notices_resolve",
    "unstaffed_restaff",
    "valid_credentials",
]
