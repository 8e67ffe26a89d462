from django.urls import include, path

urlpatterns = [
    path("routing/", include("routing.api_urls")),
    path("review/", include("reviewers.api_urls")),
]
