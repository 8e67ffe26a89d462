from django.urls import include, path

urlpatterns = [
    path("control/", include("dashboard.api_urls")),
    path("routing/", include("routing.api_urls")),
    path("review/", include("reviewers.api_urls")),
]
