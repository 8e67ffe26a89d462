from django.urls import path  # noqa: F401

urlpatterns: list = []

from routing.web.apis_judge import JudgeRunsApi  # noqa: E402

urlpatterns += [path("batches/<int:batch_id>/judge-runs/", JudgeRunsApi.as_view(), name="judge_runs")]
