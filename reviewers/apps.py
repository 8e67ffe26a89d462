from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ReviewersConfig(AppConfig):
    name = "reviewers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Both modules import models, which cannot load before the app registry is ready.
        from routing.batches.labels import label_source_set  # noqa: PLC0415

        from .references import HumanLabelSource  # noqa: PLC0415
        from .roles_setup import roles_ensure  # noqa: PLC0415

        post_migrate.connect(roles_ensure, sender=self)
        label_source_set(HumanLabelSource())
