"""The tables of routing decisions (django-tables2) the item search and the batch page show; the
FilterSets filter and sort."""

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
    # Only with a text search (``ItemFilter.filter_text`` annotates it); the view excludes it otherwise.
    found_in = tables.Column(verbose_name="Text found in")

    class Meta:
        model = RoutingDecision
        fields = ("example", "batch", "domain", "route", "confidence", "score", "reason", "router_version",
                  "found_in")
        orderable = False
        row_attrs = {"data-example": lambda record: record.example.external_id}
        empty_text = "No items match these filters."

    def render_route(self, record: RoutingDecision) -> str:
        return f"{record.get_route_display()}{' · audit' if record.audit else ''}"

    def render_confidence(self, value: Any) -> str:
        return f"{value:.2f}"

    def render_score(self, value: Any) -> str:
        return f"{value:.3f}"


class BatchDecisionTable(DecisionTable):
    """One batch's decisions (no batch column). The sortable headers write the FilterSet's own
    ``ordering`` parameter (``line``, ``confidence``, ``score``), so the sort has one place in the URL
    and the sort menu and the headers always agree."""

    line = tables.Column(accessor="example__external_id", verbose_name="Example", orderable=True,
                         order_by=("example__line_number",),
                         linkify=lambda record: reverse("dashboard:item", args=[record.example_id]))
    confidence = tables.Column(orderable=True, attrs={"td": {"class": "num"}})
    score = tables.Column(orderable=True, attrs={"td": {"class": "num"}})

    class Meta(DecisionTable.Meta):
        exclude = ("example", "batch", "found_in")
        sequence = ("line", "domain", "route", "confidence", "score", "reason", "router_version")
        order_by_field = "ordering"
        empty_text = "No decisions match these filters."
