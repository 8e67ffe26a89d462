"""Django admin for the roster: reviewers with credential inlines, tasks, labels, notifications."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from hybridqc.admin_actions import confirmed_action
from routing.decisions.admin import ViewOnlyAdmin

from .models import Credential, HumanLabel, Notification, ReviewerProfile, ReviewTask, TaskSkip
from .services import credentials_unpause, unstaffed_restaff
from .services.invitations import SiteLink, reviewer_invitations_send
from .services.references import example_reference_refresh, review_tasks_admin_delete, task_label_examples


class CredentialInline(admin.TabularInline):
    model = Credential
    extra = 1
    fields = [
        "domain_prefix",
        "level",
        "evidence",
        "verified_by",
        "verified_at",
        "expires_at",
        "paused",
        "paused_reason",
    ]
    autocomplete_fields = ["verified_by"]


@admin.register(ReviewerProfile)
class ReviewerProfileAdmin(admin.ModelAdmin):
    list_display = ["__str__", "user", "status", "capacity_per_day", "languages", "timezone"]
    list_filter = ["status"]
    search_fields = ["user__username", "display_name"]
    inlines = [CredentialInline]
    autocomplete_fields = ["user"]
    actions = ["invite"]

    @confirmed_action(description="E-mail the selected reviewers a link to set their password",
                      effect="E-mail each of these reviewers a link to set their password.")
    def invite(self, request: HttpRequest, queryset: QuerySet[ReviewerProfile]) -> None:
        site = SiteLink(domain=request.get_host(), https=request.is_secure())
        n = reviewer_invitations_send(users=[p.user for p in queryset.select_related("user")], site=site)
        skipped = queryset.count() - n
        self.message_user(request, f"Sent {n} {'invitation' if n == 1 else 'invitations'}"
                                   + (f"; {skipped} without an e-mail address skipped." if skipped else "."))

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """Stamp new credentials as verified by this admin, then re-match unstaffed tasks."""
        for formset in formsets:
            for obj in formset.save(commit=False):
                if isinstance(obj, Credential) and obj.verified_by_id is None:
                    obj.verified_by, obj.verified_at = cast(User, request.user), obj.verified_at or timezone.now()
                obj.save()
            for obj in formset.deleted_objects:
                obj.delete()
        form.save_m2m()
        unstaffed_restaff()


@admin.register(Credential)
class CredentialAdmin(admin.ModelAdmin):
    list_display = ["reviewer", "domain_prefix", "level", "expires_at", "paused", "verified_by"]
    list_filter = ["level", "paused"]
    search_fields = ["reviewer__user__username", "domain_prefix"]
    actions = ["unpause"]

    @confirmed_action(description="Unpause the selected credentials",
                      effect="Unpause these credentials: their reviewers get tasks of these domains again.")
    def unpause(self, request: HttpRequest, queryset: QuerySet[Credential]) -> None:
        credentials_unpause(credentials=queryset)


@admin.register(ReviewTask)
class ReviewTaskAdmin(admin.ModelAdmin):
    list_display = ["id", "example", "kind", "status", "assignee", "min_level", "lease_expires_at"]
    list_filter = ["status", "kind", "min_level"]
    raw_id_fields = ["example", "assignee"]

    # A task's kind says whether its label is an adjudication, which decides the reviewed reference.
    def save_model(self, request: HttpRequest, obj: ReviewTask, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        example_reference_refresh(example_ids=task_label_examples([obj.pk]))

    def delete_model(self, request: HttpRequest, obj: ReviewTask) -> None:
        review_tasks_admin_delete(tasks=[obj])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ReviewTask]) -> None:
        review_tasks_admin_delete(tasks=queryset)


@admin.register(HumanLabel)
class HumanLabelAdmin(ViewOnlyAdmin):
    list_display = ["id", "example", "source", "reviewer", "annotator", "choice", "rating", "created_at"]
    list_filter = ["source"]
    raw_id_fields = ["example", "task", "reviewer"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "message", "resolved_at"]
    list_filter = ["kind"]


@admin.register(TaskSkip)
class TaskSkipAdmin(admin.ModelAdmin):
    list_display = ["task", "reviewer", "escalated", "reason", "created_at"]
    raw_id_fields = ["task", "reviewer"]
