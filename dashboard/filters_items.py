"""The FilterSets over routing decisions (state in the query string): a batch's decision table
(``BatchDecisionFilter``) and the cross-batch item search (``ItemFilter``, the same filters and more).

Every filter is a WHERE on an indexed column or an EXISTS on an indexed foreign key, except the
agreement, which compares the judge's verdict with the example's stored reviewed reference
(``Example.reviewed_reference``, written with the labels by the one rule,
``reviewers.references.label_reference``). The prompt and response text goes through the search table's trigram
indexes on PostgreSQL (``routing.batches.selectors.text_contains_q``), scanning only the batches not
indexed yet, which the page names. Nothing is looped over in Python, so a page costs what its rows
cost."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import Case, Exists, F, OuterRef, Q, QuerySet
from django.db.models.lookups import IsNull
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from reviewers.models import Credential, HumanLabel
from routing.batches.models import Batch
from routing.batches.selectors import search_unindexed_batches, text_contains_q, text_found_in
from routing.decisions.models import RoutingDecision
from routing.monitoring.agreement import agreement_expression, judge_verdict_expression

from .filters import DecisionFilter

TEXT_MIN_LENGTH = 3
AGREEMENT = [("agree", "agree"), ("disagree", "disagree"), ("unreviewed", "no reviewed reference")]


def judge_value() -> Case:
    """The judge's verdict in the example's terms (``judge_verdict_expression``, the one rule)."""
    return judge_verdict_expression("example__task", "judge_rating", "judge_verdict")


def agree_q() -> Q:
    """The judge agrees with the reference: the agreement rule's one SQL form
    (``routing.monitoring.agreement.agreement_expression``)."""
    return Q(agreement_expression("example__task", "reference", judge_value()))


def judged_q() -> Q:
    return Q(IsNull(judge_value(), False))


class CredentialField(django_filters.fields.ModelChoiceField):
    """Credentials by id, prefix and level: leads see no reviewer's name (admins have the roster)."""

    def label_from_instance(self, obj: Credential) -> str:
        return f"#{obj.pk} {obj.domain_prefix} ({obj.level})"


class CredentialFilter(django_filters.ModelChoiceFilter):
    field_class = CredentialField


class BatchDecisionFilter(DecisionFilter):
    """One batch's decisions: route, id, domain and sort (``DecisionFilter``), and reason,
    agreement, judge confidence and reviewer; line order unless the URL sorts."""

    reason = django_filters.CharFilter(field_name="reason", lookup_expr="icontains", label="Reason contains")
    confidence = django_filters.RangeFilter(field_name="confidence", label="Judge confidence (min, max)")
    reviewer = CredentialFilter(queryset=Credential.objects.order_by("pk"), method="filter_reviewer",
                                label="Labelled under credential", empty_label="anyone")
    agreement = django_filters.ChoiceFilter(choices=AGREEMENT, method="filter_agreement", empty_label="any")

    class Meta(DecisionFilter.Meta):
        fields: list[str] = []

    def filter_reviewer(self, queryset: QuerySet[RoutingDecision], name: str,
                        value: Credential) -> QuerySet[RoutingDecision]:
        """Items the credential's holder labelled (reviews, not imports)."""
        labels = HumanLabel.objects.filter(example_id=OuterRef("example_id"), reviewer_id=value.reviewer_id,
                                           source=HumanLabel.Source.REVIEW)
        return queryset.filter(Exists(labels))

    def filter_agreement(self, queryset: QuerySet[RoutingDecision], name: str,
                         value: str) -> QuerySet[RoutingDecision]:
        queryset = queryset.annotate(reference=F("example__reviewed_reference"))
        if value == "unreviewed":
            return queryset.filter(reference__isnull=True)
        agreeing = queryset.filter(judged_q(), reference__isnull=False)
        return agreeing.filter(agree_q()) if value == "agree" else agreeing.exclude(agree_q())


class ItemFilter(BatchDecisionFilter):
    """Decisions across batches: the batch's filters, and batch, router score and prompt text."""

    # A text box with a datalist (``batch_datalist``), not a <select>: Django's select widget renders
    # each of 1,000 batches through its option template, about 130 ms of every full page.
    batch = django_filters.ModelChoiceFilter(
        field_name="example__batch", queryset=Batch.objects.order_by("name"), label="Batch (id)",
        widget=forms.TextInput(attrs={"list": "batch-options", "inputmode": "numeric", "placeholder": "all",
                                      "size": 8}))
    score = django_filters.RangeFilter(field_name="score", label="Router score (min, max)")
    # Under 3 characters a term has no trigram and would read the whole index: refused, in place.
    text = django_filters.CharFilter(method="filter_text", label="Prompt or response contains",
                                     min_length=TEXT_MIN_LENGTH,
                                     error_messages={"min_length": f"type at least {TEXT_MIN_LENGTH} characters"})

    class Meta(BatchDecisionFilter.Meta):
        fields: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Batches whose prompts the text search scanned (not indexed yet): the page names their count.
        self.unindexed_batches: list[int] = []

    def batch_datalist(self) -> SafeString:
        """The batches as the batch box's suggestions (id, labelled by name), one query of two columns."""
        batches = Batch.objects.order_by("name").values_list("pk", "name")
        options = format_html_join("", '<option value="{}">{}</option>', batches)
        return format_html('<datalist id="batch-options">{}</datalist>', options)

    def filter_text(self, queryset: QuerySet[RoutingDecision], name: str, value: str) -> QuerySet[RoutingDecision]:
        """The prompt or a response contains the text, ignoring case; each row says which (``found_in``)."""
        self.unindexed_batches = search_unindexed_batches()
        found = queryset.filter(text_contains_q(value, unindexed=self.unindexed_batches))
        return found.annotate(found_in=text_found_in(value, prefix="example__"))

    def text_searched(self) -> bool:
        """Whether the rows carry ``found_in`` (a valid text filter was applied)."""
        return self.is_valid() and bool(self.form.cleaned_data.get("text"))

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        # Example order unless the URL sorts: the decisions' unique example_id index serves it.
        qs = super().filter_queryset(queryset)
        return qs if self.form.cleaned_data.get("ordering") else qs.order_by("example_id")
