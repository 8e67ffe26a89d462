from django.urls import path

from . import admin_views, views, views_history

app_name = "reviewers"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("next/", views.task_next, name="next"),
    path("task/<slug:item>/", views.task_detail, name="task"),
    path("task/<slug:item>/submit/", views.task_submit, name="submit"),
    path("task/<slug:item>/skip/", views.task_skip, name="skip"),
    path("task/<slug:item>/heartbeat/", views.task_heartbeat, name="heartbeat"),
    path("me/", views.me, name="me"),
    path("history/", views_history.history, name="history"),
    path("history/<int:label_id>/correct/", views_history.label_correct, name="correct"),
    path("undo/", views_history.label_undo, name="undo"),
    path("roster/", admin_views.roster_page, name="roster"),
    path("roster/export.csv", admin_views.roster_export, name="roster_export"),
    path("notifications/<int:notification_id>/resolve/", admin_views.notification_resolve, name="notification_resolve"),
    path("unstaffed/", admin_views.unstaffed, name="unstaffed"),
    path("gold/", admin_views.gold_mark_batch, name="gold_mark"),
]
