from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ReviewersConfig(AppConfig):
    name = "reviewers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .roles_setup import roles_ensure

        post_migrate.connect(roles_ensure, sender=self)
