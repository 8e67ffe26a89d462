from django.urls import path

from . import (
    views,
    views_export,
    views_export_jobs,
    views_imports,
    views_items,
    views_jobs,
    views_judge,
    views_router,
    views_trends,
)

app_name = "dashboard"
urlpatterns = [
    path("", views.control_center, name="control"),
    path("upload/", views.batch_upload, name="upload"),
    path("batch/<int:batch_id>/", views.batch_detail, name="batch"),
    path("batch/<int:batch_id>/export.jsonl", views.batch_export, name="export"),
    path("imports/<int:job_id>/", views_imports.import_job_detail, name="import-job"),
    path("imports/<int:job_id>/retry/", views_imports.import_job_retry_view, name="import-job-retry"),
    path("batch/<int:batch_id>/retry/", views.batch_retry_view, name="retry"),
    path("batch/<int:batch_id>/export/", views_export.batch_export_lineage, name="export-lineage"),
    path("batch/<int:batch_id>/export/jobs/", views_export_jobs.export_job_start, name="export-job-start"),
    path("exports/<int:job_id>/", views_export_jobs.export_job_detail, name="export-job"),
    path("exports/<int:job_id>/download/", views_export_jobs.export_job_download, name="export-job-download"),
    path("exports/<int:job_id>/retry/", views_export_jobs.export_job_retry_view, name="export-job-retry"),
    path("batch/<int:batch_id>/drift-to-humans/", views_trends.batch_drift_to_humans, name="drift-to-humans"),
    path("trends/", views_trends.trends_page, name="trends"),
    path("jobs/", views_jobs.jobs_page, name="jobs"),
    path("trends/check/", views_trends.alarms_check, name="alarms-check"),
    path("alarms/<int:alarm_id>/always-human/", views_trends.alarm_always_human, name="alarm-always-human"),
    path("alarms/<int:alarm_id>/dismiss/", views_trends.alarm_dismiss_view, name="alarm-dismiss"),
    path("items/", views_items.item_search, name="items"),
    path("item/<int:example_id>/", views_items.item_page, name="item"),
    path("batch/<int:batch_id>/router/", views_router.router_panel, name="router_panel"),
    path("batch/<int:batch_id>/router/revert/", views_router.router_revert, name="router_revert"),
    path("batch/<int:batch_id>/judge/start/", views_judge.judge_start, name="judge-start"),
]
