"""Admin for judge configurations: every edit of what produces verdicts saves a NEW version.

The API key is never stored: the form holds only the NAME of the environment variable the
worker reads it from. Adding, editing or deleting a configuration needs MANAGE_JUDGE_CONFIGS (a
configuration decides where the worker sends a bearer token); the admin group may only view them.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from routing.judging.models import JudgeConfig, JudgeRun
from routing.judging.prompts import DEFAULT_PAIRWISE_PROMPT, DEFAULT_RATING_PROMPT
from routing.judging.services import LIMIT_FIELDS, VERSIONED_FIELDS, judge_config_create, judge_config_revise

MANAGE_JUDGE_CONFIGS = "routing.manage_judge_configs"


def prompt_in_use(stored: str, default: str) -> str:
    """The prompt a configuration sends (its own, or the default when blank), for display."""
    source = "this configuration's own prompt" if stored.strip() else "the default prompt (the field is blank)"
    return format_html('<p class="help">{}</p><pre class="prompt">{}</pre>', source, stored.strip() or default)


@admin.register(JudgeConfig)
class JudgeConfigAdmin(admin.ModelAdmin):
    list_display = ["name", "version", "model", "base_url", "samples", "swap_orders", "n_variants",
                    "max_concurrency", "is_active", "created_at"]
    list_filter = ["is_active", "name"]
    search_fields = ["name", "model"]
    readonly_fields = ["version", "created_at", "pairwise_prompt_in_use", "rating_prompt_in_use"]
    fieldsets = [
        (None, {"fields": ["name", "version", "is_active", "created_at"]}),
        ("Endpoint", {"fields": ["base_url", "model", "api_key_env"],
                      "description": "Any OpenAI-compatible endpoint. Give the NAME of the environment "
                                     "variable holding the API key (e.g. OPENAI_API_KEY), never the key."}),
        ("Prompts", {"fields": ["pairwise_prompt", "pairwise_prompt_in_use", "rating_prompt", "rating_prompt_in_use"],
                     "description": "Leave a prompt blank to use the default one, shown below it."}),
        ("Sampling", {"fields": ["temperature", "samples", "swap_orders", "request_logprobs", "json_mode"]}),
        ("Prompt variants", {"fields": ["n_variants", "fewshot_per_variant", "fewshot_seed"],
                             "description": "With more than one variant, every verdict is asked once per variant, "
                                            "each prompt carrying its own few-shot examples drawn from the "
                                            "domain's human-labelled history; the confidence is the mean "
                                            "verdict probability over variants and answer orders."}),
        ("Throughput and faults", {"fields": ["max_concurrency", "requests_per_minute", "tokens_per_minute",
                                              "chunk_size", "timeout_s", "retry_budget",
                                              "backoff_s"]}),
    ]

    @admin.display(description="Pairwise prompt in use")
    def pairwise_prompt_in_use(self, obj: JudgeConfig | None) -> str:
        return prompt_in_use(obj.pairwise_prompt if obj else "", DEFAULT_PAIRWISE_PROMPT)

    @admin.display(description="Rating prompt in use")
    def rating_prompt_in_use(self, obj: JudgeConfig | None) -> str:
        return prompt_in_use(obj.rating_prompt if obj else "", DEFAULT_RATING_PROMPT)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(MANAGE_JUDGE_CONFIGS)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(MANAGE_JUDGE_CONFIGS)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(MANAGE_JUDGE_CONFIGS)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("pairwise_prompt", DEFAULT_PAIRWISE_PROMPT)
        initial.setdefault("rating_prompt", DEFAULT_RATING_PROMPT)
        return initial

    def save_model(self, request: HttpRequest, obj: JudgeConfig, form: Any, change: bool) -> None:
        data = {f: form.cleaned_data[f] for f in (*VERSIONED_FIELDS, *LIMIT_FIELDS, "is_active")
                if f in form.cleaned_data}
        if not change:
            saved = judge_config_create(name=form.cleaned_data["name"], **data)
        else:
            original = JudgeConfig.objects.get(pk=obj.pk)
            saved = judge_config_revise(config=original, changes=data)
        # Point the admin at the row actually saved (the new version), for its redirect.
        obj.pk, obj.version, obj.created_at = saved.pk, saved.version, saved.created_at
        obj._state.adding = False

    def get_readonly_fields(self, request: HttpRequest, obj: JudgeConfig | None = None) -> list[str]:
        # The name identifies the judge across versions: fixed once created.
        return [*self.readonly_fields, "name"] if obj else list(self.readonly_fields)


@admin.register(JudgeRun)
class JudgeRunAdmin(admin.ModelAdmin):
    list_display = ["id", "batch", "judge_config", "status", "total", "done", "failed", "prompt_tokens",
                    "completion_tokens", "started_at", "finished_at"]
    list_filter = ["status", "backend"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # runs start from the batch page or the API

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
