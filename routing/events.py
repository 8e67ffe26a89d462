"""What routing announces to the layers above it, which it may not import.

``judge_run_finished``: a live judge run completed and became the batch's primary judge; sent
inside the transaction that switched it (kwargs ``run``, ``batch``), so a receiver's writes and
queued tasks commit with it. ``hybridqc.flows`` re-routes the batch on it."""

from django.dispatch import Signal

judge_run_finished = Signal()
