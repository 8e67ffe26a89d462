"""Admin for batches, examples, domains, decisions and routing runs (judge configurations:
``routing.judging.admin``)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from routing.batches.models import Batch, Domain, Example
from routing.decisions.models import RoutingDecision, RoutingRun
from routing.judging.models import Judgment


class ViewOnlyAdmin(admin.ModelAdmin):
    """Rows the system writes (verdicts, decisions, labels): the admin shows them and nothing
    more. Adding, editing or deleting one by hand would make the figures built on them lie."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    list_display = ["path", "always_human", "alpha", "delta"]
    list_editable = ["always_human", "alpha", "delta"]
    search_fields = ["path"]


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    list_display = ["name", "status", "routing_mode", "confidence_threshold", "audit_rate", "created_at"]
    list_filter = ["status", "routing_mode"]
    search_fields = ["name"]
    readonly_fields = ["created_at", "created_by", "status", "status_detail", "source_name"]


@admin.register(Example)
class ExampleAdmin(admin.ModelAdmin):
    list_display = ["external_id", "batch", "domain", "task", "is_gold", "flagged"]
    list_filter = ["task", "is_gold", "flagged", "batch"]
    search_fields = ["external_id", "prompt"]
    raw_id_fields = ["batch", "domain"]


@admin.register(RoutingDecision)
class RoutingDecisionAdmin(ViewOnlyAdmin):
    list_display = ["example", "route", "audit", "audit_probability", "confidence", "score", "router_version"]
    list_filter = ["route", "audit", "router_version"]
    raw_id_fields = ["example", "run"]


@admin.register(Judgment)
class JudgmentAdmin(ViewOnlyAdmin):
    list_display = ["example", "judge", "variant", "order", "sample", "choice", "rating", "probability", "error"]
    list_filter = ["judge", "order"]
    raw_id_fields = ["example", "judge_config"]


@admin.register(RoutingRun)
class RoutingRunAdmin(admin.ModelAdmin):
    """Read-only: a run is the record of what was decided; editing it would rewrite history."""

    list_display = ["batch", "created_at", "mode", "router_version", "n_routed", "n_judge_kept", "n_audited"]
    list_filter = ["mode", "router_version"]
    raw_id_fields = ["batch", "router_model"]

    def has_change_permission(self, request: HttpRequest, obj: RoutingRun | None = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
