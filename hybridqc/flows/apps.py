from django.apps import AppConfig


class FlowsConfig(AppConfig):
    name = "hybridqc.flows"
    label = "flows"

    def ready(self) -> None:
        # Connecting the receivers imports the apps' models, which cannot load before the registry.
        from routing.events import judge_run_finished  # noqa: PLC0415

        from .receivers import batch_rejudged  # noqa: PLC0415

        judge_run_finished.connect(batch_rejudged, dispatch_uid="flows.batch_rejudged")
