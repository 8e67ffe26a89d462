"""Search, filters and sort of the control center's batches and a batch's decision table; the same
FilterSets serve the pages (state in the URL's query string) and ``/api/control/batches/``."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Exists, OuterRef, Q, QuerySet

from routing.batches.models import Batch, Domain, Example
from routing.decisions.models import RoutingDecision

from .selectors import batches_reports

GATE_CHUNK = 100


def _domain_ids(prefix: str) -> QuerySet[Domain, Any]:
    """Domains a prefix covers, as credentials read it (``mtbench`` covers ``mtbench/coding``)."""
    prefix = prefix.strip("/")
    return Domain.objects.filter(Q(path=prefix) | Q(path__startswith=prefix + "/")).values("pk")


class BatchFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name contains")
    status = django_filters.ChoiceFilter(choices=Batch.Status.choices)
    domain = django_filters.CharFilter(method="filter_domain", label="Domain (prefix)")
    created = django_filters.DateFromToRangeFilter(field_name="created_at", label="Created (from, to)")
    # Declared last: it reads the figures of the batches the other filters left.
    gate = django_filters.ChoiceFilter(choices=[("pass", "pass"), ("hold", "hold")], method="filter_gate",
                                       label="Release gate")
    ordering = django_filters.OrderingFilter(
        fields=(("name", "name"), ("created_at", "created"), ("status", "status")),
        label="Sort",
    )

    class Meta:
        model = Batch
        fields: list[str] = []

    def filter_domain(self, queryset: QuerySet[Batch], name: str, value: str) -> QuerySet[Batch]:
        examples = Example.objects.filter(batch_id=OuterRef("pk"), domain_id__in=_domain_ids(value))
        return queryset.filter(Exists(examples))

    def filter_gate(self, queryset: QuerySet[Batch], name: str, value: str) -> QuerySet[Batch]:
        """The gate is a figure, not a column: it is computed for the batches the other filters
        left, a chunk at a time (so memory stays bounded). This is the one filter whose cost grows
        with the number of matching batches."""
        wanted = value == "pass"
        ids: list[int] = []
        batches = list(queryset.order_by("pk"))
        for start in range(0, len(batches), GATE_CHUNK):
            reports = batches_reports(batches[start:start + GATE_CHUNK])
            ids += [r["id"] for r in reports if r["gate"]["passed"] is wanted]
        return queryset.filter(pk__in=ids)


DECISION_ROUTES = [("judge", "judge-kept"), ("human", "routed"), ("audit", "audited")]


class DecisionFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="example__external_id", lookup_expr="icontains", label="Id contains")
    route = django_filters.ChoiceFilter(choices=DECISION_ROUTES, method="filter_route", empty_label="all")
    domain = django_filters.CharFilter(method="filter_domain", label="Domain (prefix)")
    ordering = django_filters.OrderingFilter(
        fields=(("example__line_number", "line"), ("score", "score"), ("confidence", "confidence")),
        label="Sort",
    )

    class Meta:
        model = RoutingDecision
        fields: list[str] = []

    def filter_route(self, queryset: QuerySet[RoutingDecision], name: str, value: str) -> QuerySet[RoutingDecision]:
        return queryset.filter(audit=True) if value == "audit" else queryset.filter(route=value)

    def filter_domain(self, queryset: QuerySet[RoutingDecision], name: str, value: str) -> QuerySet[RoutingDecision]:
        return queryset.filter(example__domain_id__in=_domain_ids(value))

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        # Line order unless the URL sorts: the table reads like the file.
        qs = super().filter_queryset(queryset)
        return qs if self.form.cleaned_data.get("ordering") else qs.order_by("example__line_number", "pk")
