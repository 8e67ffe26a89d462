from django.urls import path

from . import apis

urlpatterns: list = [
    path("next/", apis.NextItemApi.as_view(), name="review-api-next"),
    path("tasks/<slug:item>/submit/", apis.SubmitApi.as_view(), name="review-api-submit"),
    path("tasks/<slug:item>/heartbeat/", apis.HeartbeatApi.as_view(), name="review-api-heartbeat"),
]
