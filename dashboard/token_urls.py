from django.urls import path

from . import views_tokens

app_name = "tokens"
urlpatterns = [
    path("", views_tokens.token_page, name="page"),
    path("<int:token_id>/revoke/", views_tokens.token_revoke, name="revoke"),
]
