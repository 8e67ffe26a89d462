"""Admin: API tokens (read-only: the hash is all there is), webhook endpoints and their deliveries,
and the login lock-outs' clean-up (axes), which asks first like every bulk action here."""

from __future__ import annotations

from typing import Any

from axes import admin as axes_admin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone

from hybridqc.admin_actions import confirmed_action

from .models import ApiToken, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from .webhooks import webhook_endpoint_check


class NoChangeAdmin(admin.ModelAdmin):
    """Records written by the system (login attempts, deliveries): shown, never edited by hand."""

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix", "user__username"]
    readonly_fields = ["user", "name", "prefix", "token_hash", "created_at", "last_used_at", "expires_at"]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A token is shown once to the person who made it; an admin-made one would be seen by nobody.
        return False

    @confirmed_action(description="Revoke selected tokens",
                      effect="Revoke these tokens: every script using one of them is refused from now on.")
    def revoke(self, request: HttpRequest, queryset: Any) -> None:
        queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


class WebhookEndpointForm(forms.ModelForm):
    class Meta:
        model = WebhookEndpoint
        fields = ["url", "secret", "active", "events"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "url" in data and "events" in data:
            webhook_endpoint_check(url=data["url"], events=data["events"])
        return data


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["number", "at", "status_code", "error", "transient"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "active", "events", "created_at"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(NoChangeAdmin):
    list_display = ["event", "batch", "endpoint", "status", "attempts", "created_at", "finished_at"]
    list_filter = ["status", "event"]
    readonly_fields = ["endpoint", "batch", "event", "body", "status", "attempts", "created_at", "finished_at"]
    inlines = [WebhookAttemptInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class AccessAttemptAdmin(NoChangeAdmin, axes_admin.AccessAttemptAdmin):
    actions = ["cleanup_expired_attempts"]

    # Axes' own action removes every expired attempt, whichever rows are selected.
    @confirmed_action(description="Clean up expired attempts",
                      effect="Delete every expired login attempt (not only the selected ones).")
    def cleanup_expired_attempts(self, request: HttpRequest, queryset: Any) -> None:
        # Axes reads the attempt time its middleware sets on login requests only; without it its own
        # action raised AttributeError (a 500). None: "now", as axes takes it.
        request.axes_attempt_time = getattr(request, "axes_attempt_time", None)  # type: ignore[attr-defined]
        count = self.handler.clean_expired_user_attempts(request=request)
        self.message_user(request, f"Cleaned up {count} expired access attempts.")


class AccessLogAdmin(NoChangeAdmin, axes_admin.AccessLogAdmin):
    pass


class AccessFailureLogAdmin(NoChangeAdmin, axes_admin.AccessFailureLogAdmin):
    pass


for model, model_admin in ((AccessAttempt, AccessAttemptAdmin), (AccessLog, AccessLogAdmin),
                           (AccessFailureLog, AccessFailureLogAdmin)):
    admin.site.unregister(model)
    admin.site.register(model, model_admin)
