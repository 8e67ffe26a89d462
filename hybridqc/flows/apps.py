from django.apps import AppConfig

from routing.batches.events import batch_routing_requested, judge_run_finished


class FlowsConfig(AppConfig):
    name = "hybridqc.flows"
    label = "flows"

    def ready(self) -> None:
        # The receivers import the apps' models, which cannot load before the app registry is ready.
        from .receivers import batch_rejudged, batch_routing_requested_queue  # noqa: PLC0415

        judge_run_finished.connect(batch_rejudged, dispatch_uid="flows.batch_rejudged")
        batch_routing_requested.connect(batch_routing_requested_queue, dispatch_uid="flows.batch_routing_requested")
