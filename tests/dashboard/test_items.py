import re

import pytest

from dashboard.items import item_detail
from hybridqc.flows.batches import batch_route
from reviewers.models import Credential, HumanLabel, ReviewTask
from reviewers.services import example_reference_refresh
from routing.batches.models import Example
from routing.decisions.models import RoutingDecision
from routing.monitoring.metrics import labels_agree
from tests import factories

KEPT = [{"judge": "judge-x", "order": "ab", "choice": 1, "probability": 0.9},
        {"judge": "judge-x", "order": "ba", "choice": 1, "probability": 0.8}]
UNSURE = [{"judge": "judge-x", "choice": 1}, {"judge": "judge-x", "choice": 1}, {"judge": "judge-x", "choice": 2}]
HAIKU = "An old silent pond\nA frog jumps into the pond\nSplash! Silence again."


def _rows(body):
    return re.findall(r'<tr [^>]*data-example="([^"]+)"', body)


def _label(example, profile, choice, kind=ReviewTask.Kind.ROUTED):
    task = ReviewTask.objects.create(example=example, kind=kind, status=ReviewTask.Status.DONE, assignee=profile)
    label = HumanLabel.objects.create(example=example, task=task, reviewer=profile, source=HumanLabel.Source.REVIEW,
                                      choice=choice)
    example_reference_refresh(example_ids=[example.pk])  # as every service writing a review label does
    return label


@pytest.fixture
def world(db):
    """Batch s1: item-0 judge-kept (no review), item-1 agree (2 of 3 say 1, judge 1), item-2
    disagree (2 of 2 say 2; the imported label 1 is not counted), item-3 a tie (no reference).
    Batch s2: item-0 routed to humans in domain other/x, no review."""
    items = [factories.pairwise_item(0, judgments=KEPT),
             factories.pairwise_item(1, judgments=UNSURE, responses=[HAIKU, "Pond."]),
             factories.pairwise_item(2, judgments=UNSURE),
             factories.pairwise_item(3, judgments=UNSURE, domain="test/other", prompt="Name a frog species?")]
    s1 = factories.batch("s1", items=items, audit_rate=0.0, audit_min_per_domain=0).batch
    s2 = factories.batch("s2", items=[factories.pairwise_item(0, judgments=UNSURE, domain="other/x")],
                         audit_rate=0.0, audit_min_per_domain=0).batch
    batch_route(batch=s1)
    batch_route(batch=s2)
    ra, rb, rc = (factories.profile(u) for u in ("ra", "rb", "rc"))
    ex = {e.external_id: e for e in Example.objects.filter(batch=s1)}
    _label(ex["item-1"], ra, 1)
    _label(ex["item-1"], rb, 2, ReviewTask.Kind.SECOND)
    _label(ex["item-1"], rc, 1, ReviewTask.Kind.SECOND)
    _label(ex["item-2"], ra, 2)
    _label(ex["item-2"], rb, 2, ReviewTask.Kind.SECOND)
    _label(ex["item-3"], rb, 1)
    _label(ex["item-3"], rc, 2, ReviewTask.Kind.SECOND)
    for i, score in enumerate((0.95, 0.40, 0.55, 0.70)):
        RoutingDecision.objects.filter(example=ex[f"item-{i}"]).update(score=score)
    return {"s1": s1, "s2": s2, "ex": ex, "ra": ra, "rb": rb, "rc": rc}


def test_item_page_shows_votes_labels_reference_and_routing(client, lead_user, world):
    client.force_login(lead_user)
    example = world["ex"]["item-1"]
    body = client.get(f"/control/item/{example.pk}/").content.decode()
    assert body.count("<tr data-vote>") == 3
    assert body.count("<tr data-label>") == 4  # 3 reviews + the imported one
    credential = Credential.objects.get(reviewer=world["ra"])
    assert f"credential #{credential.pk} (test, practitioner)" in body
    assert "Ra" not in re.findall(r"<td data-who>([^<]*)</td>", body)[1]  # leads see no reviewer name
    assert 'data-reference="1.0"' in body or 'data-reference="1"' in body
    assert "majority: 2 of 3 labels" in body
    assert 'data-agreement="agree"' in body
    assert 'data-route="human"' in body
    assert "threshold mode: no guarantee claimed" in body


def test_item_page_names_reviewers_for_admins(client, admin_user, world):
    client.force_login(admin_user)
    body = client.get(f"/control/item/{world['ex']['item-1'].pk}/").content.decode()
    who = re.findall(r"<td data-who>([^<]*)</td>", body)
    assert who[0] == "imported · ann-1"
    assert who[1].endswith(" · Ra")


def test_item_page_keeps_line_breaks_of_a_response(client, lead_user, world):
    client.force_login(lead_user)
    body = client.get(f"/control/item/{world['ex']['item-1'].pk}/").content.decode()
    assert "An old silent pond<br>\nA frog jumps into the pond<br>\nSplash! Silence again." in body


def test_item_page_refuses_reviewers(client, world):
    client.force_login(world["ra"].user)
    assert client.get(f"/control/item/{world['ex']['item-1'].pk}/").status_code == 403
    assert client.get("/control/items/").status_code == 403


def test_item_detail_reference_tie_and_adjudication(world):
    tie = item_detail(world["ex"]["item-3"].pk, admin=False)
    assert (tie["reference"], tie["reference_basis"], tie["agrees"]) == (None, "no reference: a tie among 2 labels",
                                                                         None)
    _label(world["ex"]["item-3"], world["rc"], 2, ReviewTask.Kind.ADJUDICATION)
    adjudicated = item_detail(world["ex"]["item-3"].pk, admin=False)
    assert (adjudicated["reference"], adjudicated["reference_basis"], adjudicated["agrees"]) == (
        2, "the adjudicator's label", False)


def _search(client, query):
    response = client.get(f"/control/items/?{query}")
    assert response.status_code == 200, response.content[:500]
    return response.content.decode()


@pytest.mark.parametrize(("query", "expected"), [
    ("", ["item-0", "item-1", "item-2", "item-3", "item-0"]),
    ("route=judge", ["item-0"]),
    ("route=human&domain=test", ["item-1", "item-2", "item-3"]),
    ("domain=test/other", ["item-3"]),
    ("agreement=agree", ["item-1"]),
    ("agreement=disagree", ["item-2"]),
    ("agreement=unreviewed&domain=test", ["item-0", "item-3"]),
    ("score_min=0.5&score_max=0.8", ["item-2", "item-3"]),
    ("text=frog", ["item-1", "item-3"]),  # item-1's response (the haiku), item-3's prompt
    ("text=species", ["item-3"]),
    ("reason=tie", []),
])
def test_item_search_filters_by_the_query_string(client, lead_user, world, query, expected):
    client.force_login(lead_user)
    assert _rows(_search(client, query)) == expected


def test_item_search_filters_by_batch_and_credential(client, lead_user, world):
    client.force_login(lead_user)
    assert _rows(_search(client, f"batch={world['s2'].pk}")) == ["item-0"]
    credential = Credential.objects.get(reviewer=world["ra"])
    body = _search(client, f"reviewer={credential.pk}")
    assert _rows(body) == ["item-1", "item-2"]
    assert f'<option value="{credential.pk}" selected>#{credential.pk} test (practitioner)</option>' in body
    assert "Ra ·" not in body  # no reviewer's name in the credential choices


def test_item_search_agreement_is_the_rule_of_the_item_page(client, lead_user, world):
    """The SQL reference of the search and the item page's reference give the same agreement."""
    _label(world["ex"]["item-3"], world["rc"], 2, ReviewTask.Kind.ADJUDICATION)
    client.force_login(lead_user)
    by_filter = {v: _rows(_search(client, f"agreement={v}&batch={world['s1'].pk}"))
                 for v in ("agree", "disagree", "unreviewed")}
    by_page = {"agree": [], "disagree": [], "unreviewed": []}
    for i in range(4):
        d = item_detail(world["ex"][f"item-{i}"].pk, admin=False)
        agrees = labels_agree("pairwise", d["reference"], d["judge_value"])
        by_page["unreviewed" if agrees is None else "agree" if agrees else "disagree"].append(f"item-{i}")
    assert by_filter == by_page == {"agree": ["item-1"], "disagree": ["item-2", "item-3"], "unreviewed": ["item-0"]}


def test_item_search_pages_keep_the_filters(client, lead_user, world, monkeypatch):
    monkeypatch.setattr("dashboard.views_items.ITEMS_PER_PAGE", 2)
    client.force_login(lead_user)
    first = _search(client, "domain=test")
    assert _rows(first) == ["item-0", "item-1"]
    assert "?domain=test&amp;page=2" in first
    assert _rows(_search(client, "domain=test&page=2")) == ["item-2", "item-3"]


def test_item_search_batch_is_a_text_box_with_the_batches_as_suggestions(client, lead_user, world):
    """A <select> of every batch cost 130 ms a page at 1,000 batches: a box, its datalist built once."""
    client.force_login(lead_user)
    s1, s2 = world["s1"], world["s2"]
    body = _search(client, f"batch={s2.pk}")
    assert '<select name="batch"' not in body
    assert re.findall(r'<input type="text" name="batch"[^>]*>', body) == [
        f'<input type="text" name="batch" value="{s2.pk}" list="batch-options" inputmode="numeric" '
        'placeholder="all" size="8" id="id_batch">']
    options = sorted([(s1.pk, s1.name), (s2.pk, s2.name)], key=lambda o: o[1])
    assert re.findall(r'<datalist id="batch-options">(.*?)</datalist>', body) == [
        "".join(f'<option value="{pk}">{name}</option>' for pk, name in options)]
    response = client.get("/control/items/?batch=987654")
    assert response.status_code == 400
    assert "<code>batch</code>" in response.content.decode()


def test_item_search_bad_filter_is_a_400_naming_the_field(client, lead_user, world):
    client.force_login(lead_user)
    response = client.get("/control/items/?score_min=high")
    assert response.status_code == 400
    assert "<code>score</code>" in response.content.decode()


def test_batch_table_links_each_example_to_its_item_page(client, lead_user, world):
    client.force_login(lead_user)
    body = client.get(f"/control/batch/{world['s1'].pk}/").content.decode()
    for i in range(4):
        assert f'href="/control/item/{world["ex"][f"item-{i}"].pk}/"' in body


def test_unstaffed_list_links_each_example_to_its_item_page(client, admin_user, world):
    example = world["ex"]["item-0"]
    ReviewTask.objects.create(example=example, kind=ReviewTask.Kind.AUDIT, status=ReviewTask.Status.UNSTAFFED)
    client.force_login(admin_user)
    body = client.get("/review/unstaffed/").content.decode()
    assert f'<a href="/control/item/{example.pk}/">item-0</a>' in body


@pytest.mark.parametrize(("query", "expected"), [
    ("", ["item-0", "item-1", "item-2", "item-3"]),
    ("route=judge", ["item-0"]),
    ("agreement=agree", ["item-1"]),
    ("agreement=disagree", ["item-2"]),
    ("agreement=unreviewed", ["item-0", "item-3"]),
    ("confidence_min=0.4&confidence_max=0.8", ["item-2", "item-3"]),
    ("confidence_min=0.8", ["item-0"]),
    ("reason=%3E%3D+threshold", ["item-0"]),
    ("reason=below&ordering=-score", ["item-3", "item-2", "item-1"]),
    ("domain=test/other", ["item-3"]),
])
def test_batch_page_decision_table_filters_like_the_item_search(client, lead_user, world, query, expected):
    """Confidences 0.85 (kept), 0.30, 0.50, 0.70; reasons "confidence 0.85 >= threshold 0.80" and
    "... below threshold 0.80"."""
    for i, confidence in enumerate((0.85, 0.30, 0.50, 0.70)):
        RoutingDecision.objects.filter(example=world["ex"][f"item-{i}"]).update(confidence=confidence)
    client.force_login(lead_user)
    response = client.get(f"/control/batch/{world['s1'].pk}/?{query}", HTTP_HX_REQUEST="true",
                          HTTP_HX_TARGET="decisions")
    assert response.status_code == 200
    assert _rows(response.content.decode()) == expected


def test_batch_page_decision_table_filters_by_credential(client, lead_user, world):
    client.force_login(lead_user)
    credential = Credential.objects.get(reviewer=world["rb"])
    body = client.get(f"/control/batch/{world['s1'].pk}/?reviewer={credential.pk}").content.decode()
    assert _rows(body) == ["item-1", "item-2", "item-3"]
    assert f'<option value="{credential.pk}" selected>#{credential.pk} test (practitioner)</option>' in body


def test_batch_page_bad_confidence_range_is_400_naming_the_field(client, lead_user, world):
    client.force_login(lead_user)
    response = client.get(f"/control/batch/{world['s1'].pk}/?confidence_min=high")
    assert response.status_code == 400
    assert "<code>confidence</code>" in response.content.decode()
    assert _rows(response.content.decode()) == []
