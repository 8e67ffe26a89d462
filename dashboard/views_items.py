"""Release leads and admins: one item with everything about it, and the cross-batch item search.
Reviewers are refused (403): they see only their own work, in their queue and history."""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import HttpResponse
from django.shortcuts import render
from django_tables2 import LazyPaginator, RequestConfig

from hybridqc.http import HtmxHttpRequest
from hybridqc.roles import is_admin, lead_required
from routing.decisions.models import RoutingDecision

from .filters_items import ItemFilter
from .items import item_detail
from .tables_items import DecisionTable

ITEMS_PER_PAGE = 50


@lead_required
@permission_required("routing.view_batch", raise_exception=True)
def item_page(request: HtmxHttpRequest, example_id: int) -> HttpResponse:
    """Prompt, responses, every judge vote, every human label (credential ids; names for admins),
    the reviewed reference and how it was decided, and the routing decision with its certification."""
    return render(request, "dashboard/item.html", item_detail(example_id, admin=is_admin(request.user)))


@lead_required
@permission_required("routing.view_batch", raise_exception=True)
def item_search(request: HtmxHttpRequest) -> HttpResponse:
    """Routing decisions across batches, filtered by the query string; a page is read without
    counting the whole match (LazyPaginator), so a page costs the same on a large table. A bad
    filter is a 400 that names the field."""
    decisions = RoutingDecision.objects.select_related("example__batch", "example__domain")
    filters = ItemFilter(request.GET, queryset=decisions)
    valid = filters.is_valid()
    table = DecisionTable(filters.qs if valid else decisions.none(),
                          exclude=() if filters.text_searched() else ("found_in",))
    RequestConfig(request, paginate={"per_page": ITEMS_PER_PAGE, "paginator_class": LazyPaginator}).configure(table)
    partial = request.htmx and request.htmx.target == "items"
    template = "dashboard/items.html#results" if partial else "dashboard/items.html"
    return render(request, template, {"filters": filters, "table": table}, status=200 if valid else 400)
