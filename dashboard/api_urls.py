from django.urls import path

from . import apis, apis_exports, apis_imports, apis_trends, views_export

urlpatterns = [
    path("batches/", apis.BatchListApi.as_view(), name="api-batches"),
    path("batches/<str:name>/", apis.BatchReportApi.as_view(), name="api-batch-report"),
    path("batches/<str:name>/gate/", apis.BatchGateApi.as_view(), name="api-batch-gate"),
    path("imports/<int:job_id>/", apis_imports.ImportJobApi.as_view(), name="api-import-job"),
    path("imports/<int:job_id>/retry/", apis_imports.ImportJobRetryApi.as_view(), name="api-import-job-retry"),
    path("batches/<str:name>/export/", views_export.BatchExportApi.as_view(), name="api-batch-export"),
    path("exports/<int:job_id>/", apis_exports.ExportJobApi.as_view(), name="api-export-job"),
    path("exports/<int:job_id>/download/", apis_exports.ExportJobDownloadApi.as_view(), name="api-export-job-download"),
    path("trends/", apis_trends.TrendsApi.as_view(), name="api-trends"),
]
