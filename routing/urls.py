from django.urls import path  # noqa: F401

app_name = "routing"
urlpatterns: list = []

from routing.web.views_judge import judge_panel  # noqa: E402

urlpatterns += [path("batch/<int:batch_id>/judge/", judge_panel, name="judge_panel")]

from routing.web.views_router import (  # noqa: E402
    backtest_page,
    model_page,
    router_promote_view,
    router_retrain_view,
    router_rollback_view,
)

urlpatterns += [
    path("model/", model_page, name="model"),
    path("model/retrain/", router_retrain_view, name="router_retrain"),
    path("model/<int:version>/promote/", router_promote_view, name="router_promote"),
    path("model/rollback/", router_rollback_view, name="router_rollback"),
    path("backtest/", backtest_page, name="backtest"),
]
