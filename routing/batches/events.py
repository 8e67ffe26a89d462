"""What routing announces to the layers above it, which it may not import.

``judge_run_finished``: a live judge run completed and became the batch's primary judge; sent
inside the transaction that switched it (kwargs ``run``, ``batch``), so a receiver's writes and
queued tasks commit with it. ``hybridqc.flows`` re-routes the batch on it.

``batch_routing_requested``: routing of a batch should be queued (a retry, the sweeper); kwarg
``batch_id``, sent inside the caller's transaction. ``hybridqc.flows`` queues its pipeline task.

``batch_gate_inputs_changed``: a batch's release gate may have changed (after routing and after a
reviewer's label), sent inside the writing transaction; kwarg ``batch_id``.
"""

from django.dispatch import Signal

judge_run_finished = Signal()
batch_routing_requested = Signal()
batch_gate_inputs_changed = Signal()
