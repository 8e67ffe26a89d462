import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from hybridqc.flows.batches import batch_route
from reviewers.models import ReviewTask
from routing.batches.models import Batch
from routing.decisions.models import RoutingDecision
from tests import factories

KEPT = [{"judge": "judge-x", "order": "ab", "choice": 1}, {"judge": "judge-x", "order": "ba", "choice": 1}]
UNSURE = [{"judge": "judge-x", "choice": 1}, {"judge": "judge-x", "choice": 1}, {"judge": "judge-x", "choice": 2}]


def _rows(body):
    return re.findall(r'data-batch="([^"]+)"', body)


@pytest.fixture
def many_batches(db):
    """27 one-example batches, b00 oldest; b03 and b04 ready; b04's one example is routed to
    humans and reviewed, so its gate passes (nothing judge-kept to measure)."""
    for i in range(27):
        item = factories.pairwise_item(0, judgments=UNSURE if i == 4 else KEPT, domain=f"dom{i % 3}/x")
        factories.batch(f"b{i:02d}", items=[item], audit_rate=0.0, audit_min_per_domain=0)
    batch_route(batch=Batch.objects.get(name="b04"))
    ReviewTask.objects.filter(example__batch__name="b04").update(status=ReviewTask.Status.DONE)
    Batch.objects.filter(name__in=["b03", "b04"]).update(status=Batch.Status.READY)


def test_control_center_pages_25_batches_newest_first(client, lead_user, many_batches):
    client.force_login(lead_user)
    first = client.get("/control/").content.decode()
    assert _rows(first) == [f"b{i:02d}" for i in range(26, 1, -1)]
    second = client.get("/control/?page=2").content.decode()
    assert _rows(second) == ["b01", "b00"]
    assert 'data-page="2" data-pages="2" data-count="27"' in second


def test_control_center_filters_and_keeps_state_in_page_links(client, lead_user, many_batches):
    client.force_login(lead_user)
    body = client.get("/control/?status=ready&ordering=name").content.decode()
    assert _rows(body) == ["b03", "b04"]
    body = client.get("/control/?q=b1&ordering=-name").content.decode()
    assert _rows(body) == [f"b{i}" for i in range(19, 9, -1)]
    body = client.get("/control/?domain=dom1&ordering=name&page=1").content.decode()
    assert _rows(body) == [f"b{i:02d}" for i in range(1, 27, 3)]
    assert "data-count=\"9\"" in body


def test_control_center_page_links_carry_the_filters(client, lead_user, many_batches):
    client.force_login(lead_user)
    body = client.get("/control/?q=b&ordering=name").content.decode()
    assert 'href="?q=b&amp;ordering=name&amp;page=2"' in body


def test_control_center_filters_by_gate(client, lead_user, many_batches):
    client.force_login(lead_user)
    assert _rows(client.get("/control/?gate=pass").content.decode()) == ["b04"]
    assert len(_rows(client.get("/control/?gate=hold&page=2").content.decode())) == 1


def test_control_center_bad_filter_is_400_naming_the_field(client, lead_user, many_batches):
    client.force_login(lead_user)
    response = client.get("/control/?status=nonsense&created_after=yesterday")
    body = response.content.decode()
    assert response.status_code == 400
    assert "<code>status</code>" in body and "<code>created</code>" in body
    assert _rows(body) == []


def test_control_center_filter_form_htmx_swaps_only_the_batches(client, lead_user, many_batches):
    client.force_login(lead_user)
    body = client.get("/control/?status=ready", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="batches").content.decode()
    assert body.lstrip().startswith('<section class="card" id="batches" hx-get="?status=ready&amp;part=batches"')
    assert _rows(body) == ["b04", "b03"]


def test_api_batches_paginated_filtered_with_gates(client, lead_user, many_batches):
    client.force_login(lead_user)
    data = client.get("/api/control/batches/?ordering=name").json()
    assert (data["count"], len(data["results"]), data["previous"]) == (27, 25, None)
    assert data["next"].endswith("/api/control/batches/?ordering=name&page=2")
    data = client.get("/api/control/batches/?gate=pass").json()
    assert [(r["batch"], r["release_gate"]["passed"], r["routed_to_human"]) for r in data["results"]] == [
        ("b04", True, 1)]


def test_api_batches_bad_filter_is_400_naming_the_field(client, lead_user, many_batches):
    client.force_login(lead_user)
    response = client.get("/api/control/batches/?gate=maybe")
    assert response.status_code == 400
    assert list(response.json()) == ["gate"]


@pytest.fixture
def big_batch(db):
    """60 examples: every 4th routed to humans (line numbers 1..60), the rest kept."""
    items = [factories.pairwise_item(i, judgments=UNSURE if i % 4 == 0 else KEPT) for i in range(60)]
    batch = factories.batch("big", items=items, audit_rate=0.0, audit_min_per_domain=0).batch
    batch_route(batch=batch)
    return batch


def _ids(body):
    return re.findall(r'data-example="([^"]+)"', body)


def test_batch_page_decisions_paginated_in_line_order(client, lead_user, big_batch):
    client.force_login(lead_user)
    first = client.get(f"/control/batch/{big_batch.pk}/").content.decode()
    assert _ids(first) == [f"item-{i}" for i in range(50)]
    second = client.get(f"/control/batch/{big_batch.pk}/?page=2").content.decode()
    assert _ids(second) == [f"item-{i}" for i in range(50, 60)]


def test_batch_page_decisions_filtered_by_route_and_id(client, lead_user, big_batch):
    client.force_login(lead_user)
    assert RoutingDecision.objects.filter(example__batch=big_batch, route="human").count() == 15
    body = client.get(f"/control/batch/{big_batch.pk}/?route=human").content.decode()
    assert _ids(body) == [f"item-{i}" for i in range(0, 60, 4)]
    body = client.get(f"/control/batch/{big_batch.pk}/?q=item-5&ordering=-line",
                      HTTP_HX_REQUEST="true", HTTP_HX_TARGET="decisions").content.decode()
    assert body.lstrip().startswith('<section class="card" id="decisions"')
    assert _ids(body) == ["item-59", "item-58", "item-57", "item-56", "item-55", "item-54", "item-53", "item-52",
                          "item-51", "item-50", "item-5"]


def test_batch_page_bad_decision_filter_is_400(client, lead_user, big_batch):
    client.force_login(lead_user)
    response = client.get(f"/control/batch/{big_batch.pk}/?route=sideways")
    assert response.status_code == 400
    assert "<code>route</code>" in response.content.decode()


def test_batch_status_poll_sends_only_progress_while_status_unchanged(client, lead_user, db):
    batch = factories.batch("poll", items=[factories.pairwise_item(i) for i in range(3)]).batch
    client.force_login(lead_user)
    response = client.get(f"/control/batch/{batch.pk}/?part=progress&since=imported", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.lstrip().startswith('<p id="batch-progress" data-status="imported"')
    assert 'data-routed="0">0</span>/3' in body and "Release gate" not in body
    assert "HX-Retarget" not in response


def test_batch_status_poll_rerenders_the_block_once_the_status_changed(client, lead_user, db):
    batch = factories.batch("poll", items=[factories.pairwise_item(i) for i in range(3)]).batch
    batch_route(batch=batch)
    Batch.objects.filter(pk=batch.pk).update(status=Batch.Status.READY)
    client.force_login(lead_user)
    response = client.get(f"/control/batch/{batch.pk}/?part=progress&since=routing", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert (response["HX-Retarget"], response["HX-Reswap"]) == ("#batch-status", "outerHTML")
    assert body.lstrip().startswith('<section class="card" id="batch-status">')
    assert "Release gate" in body, body
    assert 'data-routed="3"' in body and "every 2s" not in body
def _routed_batch(name, n):
    items = [factories.pairwise_item(i, judgments=UNSURE if i % 4 == 0 else KEPT) for i in range(n)]
    batch = factories.batch(name, items=items, audit_rate=0.0, audit_min_per_domain=0).batch
    batch_route(batch=batch)
    return batch


@pytest.mark.parametrize("query", ["", "page=2", "route=human&ordering=-confidence", "agreement=unreviewed&page=2",
                                   "reason=threshold&confidence_min=0.1"])
def test_batch_page_decision_table_queries_do_not_grow_with_rows(client, lead_user, query):
    """The same number of queries for a page of 60 and of 130 decisions: 14 for the page, 10 for
    the table's htmx refresh (session, user, permissions, batch, figures, alarms (no open one, so
    the batch's domains are not read), credentials for the reviewer filter, the latest export job
    on the page, and one for the page's rows, counted or not)."""
    client.force_login(lead_user)
    for n in (60, 130):
        url = f"/control/batch/{_routed_batch(f'q{n}', n).pk}/?{query}"
        client.get(url)  # the batch's figures are cached on the first view
        with CaptureQueriesContext(connection) as page:
            assert client.get(url).status_code == 200
        with CaptureQueriesContext(connection) as table:
            client.get(url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="decisions")
        assert (n, len(page), len(table)) == (n, 14, 10)


def test_batch_page_decision_table_sorts_and_pages_in_the_url(client, lead_user, big_batch):
    client.force_login(lead_user)
    body = client.get(f"/control/batch/{big_batch.pk}/?ordering=-line").content.decode()
    assert _ids(body)[:3] == ["item-59", "item-58", "item-57"]
    assert '<th class="desc orderable">\n' in body
    assert '<a href="?ordering=line">Example</a>' in body  # the header sorts by the FilterSet's parameter
    assert '<a href="?ordering=-line&amp;page=2">' in body
    assert _ids(client.get(f"/control/batch/{big_batch.pk}/?ordering=-line&page=2").content.decode()) == [
        f"item-{i}" for i in range(9, -1, -1)]
    decision = RoutingDecision.objects.get(example__batch=big_batch, example__external_id="item-17")
    assert f'<td ><a href="/control/item/{decision.example_id}/">item-17</a></td>' in body


def test_batch_page_route_links_keep_the_other_filters(client, lead_user, big_batch):
    client.force_login(lead_user)
    body = client.get(f"/control/batch/{big_batch.pk}/?domain=test&ordering=score&page=2").content.decode()
    assert 'href="?domain=test&amp;ordering=score&amp;route=human"' in body
