from django.urls import path

from . import views, views_imports

app_name = "dashboard"
urlpatterns = [
    path("", views.control_center, name="control"),
    path("upload/", views.batch_upload, name="upload"),
    path("batch/<int:batch_id>/", views.batch_detail, name="batch"),
    path("batch/<int:batch_id>/export.jsonl", views.batch_export, name="export"),
    path("imports/<int:job_id>/", views_imports.import_job_detail, name="import-job"),
    path("imports/<int:job_id>/retry/", views_imports.import_job_retry_view, name="import-job-retry"),
    path("batch/<int:batch_id>/retry/", views.batch_retry_view, name="retry"),
]
