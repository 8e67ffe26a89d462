from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from dashboard.apis_tokens import TokenDetailApi, TokenListApi

urlpatterns = [
    path("control/", include("dashboard.api_urls")),
    path("routing/", include("routing.api_urls")),
    path("review/", include("reviewers.api_urls")),
    path("tokens/", TokenListApi.as_view(), name="api-tokens"),
    path("tokens/<int:token_id>/", TokenDetailApi.as_view(), name="api-token"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file: no inline script, for the CSP.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]
