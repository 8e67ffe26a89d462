from django.urls import path

from . import apis, apis_trends, views_export

urlpatterns = [
    path("batches/", apis.BatchListApi.as_view(), name="api-batches"),
    path("batches/<str:name>/", apis.BatchReportApi.as_view(), name="api-batch-report"),
    path("batches/<str:name>/export/", views_export.BatchExportApi.as_view(), name="api-batch-export"),
    path("trends/", apis_trends.TrendsApi.as_view(), name="api-trends"),
]
