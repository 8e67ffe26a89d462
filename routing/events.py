"""Signals other apps listen to, so routing needs no import of them."""

from django.dispatch import Signal

# Sent (inside the writing transaction) when a batch's release gate may have changed: after
# routing and after a reviewer's label. Arguments: batch_id.
batch_gate_inputs_changed = Signal()
