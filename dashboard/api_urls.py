from django.urls import path

from . import apis, apis_trends

urlpatterns = [
    path("batches/", apis.BatchListApi.as_view(), name="api-batches"),
    path("batches/<str:name>/", apis.BatchReportApi.as_view(), name="api-batch-report"),
    path("trends/", apis_trends.TrendsApi.as_view(), name="api-trends"),
]
