"""The table of routing decisions the item search shows (django-tables2); the FilterSet sorts."""

from __future__ import annotations

from typing import Any

import django_tables2 as tables
from django.urls import reverse

from routing.decisions.models import RoutingDecision


class DecisionTable(tables.Table):
    example = tables.Column(accessor="example__external_id", verbose_name="Example",
                            linkify=lambda record: reverse("dashboard:item", args=[record.example_id]))
    batch = tables.Column(accessor="example__batch__name", verbose_name="Batch")
    domain = tables.Column(accessor="example__domain__path", verbose_name="Domain")
    route = tables.Column(verbose_name="Route")
    confidence = tables.Column(attrs={"td": {"class": "num"}})
    score = tables.Column(attrs={"td": {"class": "num"}})
    reason = tables.Column()
    router_version = tables.Column(verbose_name="Router")

    class Meta:
        model = RoutingDecision
        fields = ("example", "batch", "domain", "route", "confidence", "score", "reason", "router_version")
        orderable = False
        row_attrs = {"data-example": lambda record: record.example.external_id}
        empty_text = "No items match these filters."

    def render_route(self, record: RoutingDecision) -> str:
        return f"{record.get_route_display()}{' · audit' if record.audit else ''}"

    def render_confidence(self, value: Any) -> str:
        return f"{value:.2f}"

    def render_score(self, value: Any) -> str:
        return f"{value:.3f}"
