from django.apps import AppConfig

from routing.events import judge_run_finished


class FlowsConfig(AppConfig):
    name = "hybridqc.flows"
    label = "flows"

    def ready(self) -> None:
        # The receivers import the apps' models, which cannot load before the app registry is ready.
        from .receivers import batch_rejudged  # noqa: PLC0415

        judge_run_finished.connect(batch_rejudged, dispatch_uid="flows.batch_rejudged")
