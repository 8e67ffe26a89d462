"""Marking agreed items as gold lists the items first (a dry run of the marking itself) and
refuses a confirmation made before the labels changed (409)."""

from __future__ import annotations

import re

from django.urls import reverse

from routing.batches.models import Example
from tests import factories

SPLIT = [{"annotator": "x", "choice": 1}, {"annotator": "y", "choice": 2}]


def _batch():
    """item-0..2 have one agreeing label each; item-3 and item-4 are split 1-1 (no reference)."""
    items = [factories.pairwise_item(i) for i in range(3)] + [factories.pairwise_item(i, human_labels=SPLIT)
                                                              for i in range(3, 5)]
    return factories.batch("gold-c", items=items).batch


def _token(body: str) -> str:
    return re.search(r'name="confirm_token" value="([^"]+)"', body).group(1)


def test_gold_confirm_lists_the_items_and_marks_only_after_confirmation(db, client, lead_user):
    batch = _batch()
    client.force_login(lead_user)
    preview = client.post(reverse("reviewers:gold_mark"), {"batch": batch.name, "from_labels": "on"})
    body = preview.content.decode()
    assert preview.status_code == 200 and 'data-gold-count="3"' in body
    assert re.findall(r'data-gold-item="([^"]+)"', body) == ["item-0", "item-1", "item-2"]
    assert not Example.objects.filter(batch=batch, is_gold=True).exists()
    done = client.post(reverse("reviewers:gold_mark"), {"batch": batch.name, "from_labels": "on",
                                                        "confirm_token": _token(body)})
    assert done.status_code == 302
    assert sorted(Example.objects.filter(batch=batch, is_gold=True).values_list("external_id", flat=True)) == [
        "item-0", "item-1", "item-2"]


def test_gold_confirm_refuses_409_after_the_gold_set_changed(db, client, lead_user):
    batch = _batch()
    client.force_login(lead_user)
    token = _token(client.post(reverse("reviewers:gold_mark"), {"batch": batch.name}).content.decode())
    Example.objects.filter(batch=batch, external_id="item-0").update(is_gold=True, gold_choice=1)
    refused = client.post(reverse("reviewers:gold_mark"), {"batch": batch.name, "confirm_token": token})
    assert refused.status_code == 409 and "changed since the preview" in refused.content.decode()
    assert Example.objects.filter(batch=batch, is_gold=True).count() == 1
    assert re.findall(r'data-gold-item="([^"]+)"', refused.content.decode()) == ["item-1", "item-2"]
