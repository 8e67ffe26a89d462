from django.urls import path

from . import apis

urlpatterns = [
    path("batches/", apis.BatchListApi.as_view(), name="api-batches"),
    path("batches/<str:name>/", apis.BatchReportApi.as_view(), name="api-batch-report"),
    path("batches/<str:name>/gate/", apis.BatchGateApi.as_view(), name="api-batch-gate"),
]
