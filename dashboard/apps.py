from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here: receivers need the app registry ready.
        from routing.batches.events import batch_gate_inputs_changed  # noqa: PLC0415

        from .alarms import alarm_raised  # noqa: PLC0415
        from .receivers import alarm_webhooks_create, batch_gate_check_queue  # noqa: PLC0415

        batch_gate_inputs_changed.connect(batch_gate_check_queue, dispatch_uid="dashboard-gate-check")
        alarm_raised.connect(alarm_webhooks_create, dispatch_uid="dashboard-alarm-webhooks")
