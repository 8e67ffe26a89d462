import os

from celery import Celery

from hybridqc import queues

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hybridqc.settings")

app = Celery("hybridqc")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def queues_use(celery_app: Celery, prefix: str) -> None:
    """Send this process's tasks to the queues named by ``prefix`` (tests and benchmarks run
    their own workers on a prefix of their own)."""
    # update(), not attribute assignment: only update() makes Celery rebuild its cached router.
    celery_app.conf.update(task_default_queue=queues.queue_name(prefix, queues.ROUTING),
                           task_routes=queues.task_routes(prefix))
