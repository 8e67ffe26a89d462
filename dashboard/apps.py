from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here: receivers need the app registry ready.
        from routing.events import batch_gate_inputs_changed

        from .receivers import batch_gate_check_queue

        batch_gate_inputs_changed.connect(batch_gate_check_queue, dispatch_uid="dashboard-gate-check")
