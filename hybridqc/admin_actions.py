"""Admin bulk actions that ask first, as Django's own "delete selected" does: the first POST answers
with the rows the action will touch and a "Yes, I'm sure" button; only that second POST
(``post=yes``, the field Django's delete confirmation sends) runs the action."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

Action = Callable[[Any, HttpRequest, QuerySet[Any]], HttpResponse | None]


def confirmed_action(*, description: str, effect: str) -> Callable[[Action], Action]:
    """An admin action shown on a confirmation page first; ``effect`` says what "Yes" will do."""

    def wrap(func: Action) -> Action:
        @functools.wraps(func)
        def action(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponse | None:
            if request.POST.get("post") == "yes":
                return func(modeladmin, request, queryset)
            return action_confirmation(modeladmin, request, queryset, action=func.__name__, effect=effect)

        return admin.action(description=description)(action)

    return wrap


def action_confirmation(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Any], *, action: str,
                        effect: str) -> TemplateResponse:
    opts = modeladmin.model._meta
    context = {**modeladmin.admin_site.each_context(request), "title": "Are you sure?", "opts": opts,
               "queryset": queryset, "action": action, "effect": effect, "media": modeladmin.media,
               "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
               "objects_name": opts.verbose_name if queryset.count() == 1 else opts.verbose_name_plural}
    return TemplateResponse(request, "admin/action_confirmation.html", context)
