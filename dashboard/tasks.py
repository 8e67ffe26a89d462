from celery import shared_task

from .alarms import alarms_record


@shared_task(acks_late=True, reject_on_worker_lost=True)
def alarms_check() -> int:
    """Beat: test the latest month and week of every domain and judge version; storing an alarm
    is once per period (a unique constraint), so a redelivery raises nothing twice."""
    return len(alarms_record(by="month")) + len(alarms_record(by="week"))
