"""Importing a format-v1 file across both apps: routing stores examples and judgments, the
reviewer side stores the imported human labels, in one transaction; then the input drift test
(when due), the item search's indexing and routing are queued."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from routing.ingest.import_v1 import ImportResult
from routing.ingest.import_v1 import batch_import as examples_import

from .batches import batch_imported_drift_queue, batch_search_index_queue
from .tasks import batch_pipeline_run


def batch_import(*, batch_name: str, lines: Iterable[str | bytes], source_name: str = "", user: Any = None,
                 route: bool = False, **batch_fields: Any) -> ImportResult:
    """Validate and import a whole file (nothing written if any line is bad: ImportValidationError);
    the input drift test is queued when it is due, and with ``route`` the batch's pipeline, once
    the import commits."""
    with transaction.atomic():
        result = examples_import(batch_name=batch_name, lines=lines, source_name=source_name, user=user, **batch_fields)
        batch_imported_drift_queue(batch=result.batch, judgments_written=result.judgments)
        batch_search_index_queue(batch=result.batch)
        if route:
            batch_pipeline_run.delay_on_commit(result.batch.pk)
    return result
