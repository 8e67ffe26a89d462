from django.urls import path

from . import views, views_router

app_name = "dashboard"
urlpatterns = [
    path("", views.control_center, name="control"),
    path("upload/", views.batch_upload, name="upload"),
    path("batch/<int:batch_id>/", views.batch_detail, name="batch"),
    path("batch/<int:batch_id>/export.jsonl", views.batch_export, name="export"),
    path("batch/<int:batch_id>/router/", views_router.router_panel, name="router_panel"),
]
