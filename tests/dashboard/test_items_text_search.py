"""The item search by prompt text: a case-insensitive substring, found in a batch the search table
covers (indexed by the task) and in one not indexed yet (scanned), with the page naming how many
batches are still being indexed; the htmx partial and the full page alike."""

import re

import pytest

from hybridqc.flows.batches import batch_reroute, batch_route
from routing.batches.search import example_search_index
from tests import factories

NOTICE = re.compile(r'<p class="badge warn" role="status" id="search-indexing">([^<]*)</p>')


def _batch(name, prompts):
    items = [factories.pairwise_item(i, id=f"{name}-{i}", prompt=p) for i, p in enumerate(prompts)]
    batch = factories.batch(name, items=items, audit_rate=0.0, audit_min_per_domain=0).batch
    batch_route(batch=batch)
    return batch


@pytest.fixture
def ponds(db):
    """"indexed" has its search rows (the task ran); "fresh" and "newer" not yet."""
    indexed = _batch("indexed", ["The old Frog pond", "Toads only", "a frogman's tale"])
    fresh = _batch("fresh", ["FROGS jump", "Newts"])
    newer = _batch("newer", ["Lily pads"])
    assert example_search_index(batch_id=indexed.pk) == 3
    return {"indexed": indexed, "fresh": fresh, "newer": newer}


def _found(client, query, **headers):
    response = client.get(f"/control/items/?{query}", headers=headers)
    assert response.status_code == 200, response.content[:500]
    body = response.content.decode()
    return body, re.findall(r'<tr [^>]*data-example="([^"]+)"', body)


def test_item_text_search_finds_substrings_in_indexed_and_unindexed_batches(client, lead_user, ponds):
    client.force_login(lead_user)
    for text in ("frog", "FROG", "fRoG"):
        body, rows = _found(client, f"text={text}")
        # Example order: the indexed batch's two matches, then the scanned batch's one.
        assert rows == ["indexed-0", "indexed-2", "fresh-0"], text
        assert NOTICE.findall(body) == [
            "2 batches are still being indexed: their prompts were searched without the index, "
            "so this search is complete but slower."]
    assert _found(client, "text=rogma")[1] == ["indexed-2"]
    assert _found(client, "text=pads")[1] == ["newer-0"]
    assert _found(client, "text=salamander")[1] == []


def test_item_text_search_notice_counts_down_as_batches_are_indexed(client, lead_user, ponds):
    client.force_login(lead_user)
    example_search_index(batch_id=ponds["fresh"].pk)
    body, rows = _found(client, "text=frog")
    assert rows == ["indexed-0", "indexed-2", "fresh-0"]
    assert NOTICE.findall(body) == [
        "1 batch is still being indexed: their prompts were searched without the index, "
        "so this search is complete but slower."]
    example_search_index(batch_id=ponds["newer"].pk)
    body, rows = _found(client, "text=frog")
    assert rows == ["indexed-0", "indexed-2", "fresh-0"]
    assert NOTICE.findall(body) == []


def test_item_text_search_after_reimport_and_reroute(client, lead_user, ponds):
    """A re-import that adds an example unmarks its batch (scanned until indexed again); a re-route
    writes new decisions for the same examples: the search finds the same items."""
    client.force_login(lead_user)
    _batch("indexed", ["The old Frog pond", "Toads only", "a frogman's tale", "Bullfrog"])
    batch_reroute(batch=ponds["indexed"])
    body, rows = _found(client, "text=frog")
    assert rows == ["indexed-0", "indexed-2", "fresh-0", "indexed-3"]
    assert NOTICE.findall(body)[0].startswith("3 batches are still being indexed")
    example_search_index(batch_id=ponds["indexed"].pk)
    body, rows = _found(client, "text=frog")
    assert rows == ["indexed-0", "indexed-2", "fresh-0", "indexed-3"]
    assert NOTICE.findall(body)[0].startswith("2 batches are still being indexed")


def test_item_text_search_without_text_names_no_indexing(client, lead_user, ponds):
    client.force_login(lead_user)
    body, rows = _found(client, "")
    assert len(rows) == 6
    assert NOTICE.findall(body) == []


def test_item_text_search_combines_with_the_batch_filter(client, lead_user, ponds):
    client.force_login(lead_user)
    assert _found(client, f"text=frog&batch={ponds['fresh'].pk}")[1] == ["fresh-0"]
    assert _found(client, f"text=frog&batch={ponds['indexed'].pk}")[1] == ["indexed-0", "indexed-2"]


def test_item_text_search_htmx_partial_and_full_page(client, lead_user, ponds):
    client.force_login(lead_user)
    full, full_rows = _found(client, "text=frog")
    partial, partial_rows = _found(client, "text=frog", HX_Request="true", HX_Target="items")
    assert full_rows == partial_rows == ["indexed-0", "indexed-2", "fresh-0"]
    assert "<h1>Items across batches</h1>" in full
    assert "<h1>" not in partial
    assert partial.lstrip().startswith('<section class="card" id="items">')
    assert len(NOTICE.findall(partial)) == len(NOTICE.findall(full)) == 1


def test_item_text_search_matches_response_text(client, lead_user, db):
    client.force_login(lead_user)
    items = [factories.pairwise_item(0, id="r-0", prompt="Pond", responses=["Ribbit said the frog", "no"]),
             factories.pairwise_item(1, id="r-1", prompt="Lake", responses=["quiet", "calm"])]
    batch = factories.batch("answers", items=items, audit_rate=0.0, audit_min_per_domain=0).batch
    batch_route(batch=batch)
    assert _found(client, "text=RIBBIT")[1] == ["r-0"]  # scanned: not indexed yet
    example_search_index(batch_id=batch.pk)
    assert _found(client, "text=ribbit")[1] == ["r-0"]
    assert _found(client, "text=calm")[1] == ["r-1"]


ERROR = re.compile(r'<div class="error" role="alert">([^<]*)<code>([^<]*)</code>: ([^<]*)</div>')


@pytest.mark.parametrize("text", ["f", "fr", "%%"])
def test_item_text_search_refuses_under_three_characters(client, lead_user, ponds, text):
    client.force_login(lead_user)
    for headers in ({}, {"HX_Request": "true", "HX_Target": "items"}):
        response = client.get(f"/control/items/?text={text}", headers=headers)
        body = response.content.decode()
        assert response.status_code == 400
        assert ERROR.findall(body) == [("Filters not applied: ", "text", "type at least 3 characters ")]
        assert re.findall(r'<tr [^>]*data-example="([^"]+)"', body) == []
        assert NOTICE.findall(body) == []
    assert _found(client, "text=fro")[1] == ["indexed-0", "indexed-2", "fresh-0"]


def _found_in(body):
    """Each result row's example id and its "Text found in" cell."""
    rows = re.findall(r'<tr [^>]*data-example="([^"]+)"[^>]*>(.*?)</tr>', body, re.S)
    return [(example, re.findall(r"<td[^>]*>([^<]*)</td>", cells)[-1].strip()) for example, cells in rows]


def test_item_text_search_rows_say_where_the_text_was_found(client, lead_user, db):
    client.force_login(lead_user)
    items = [factories.pairwise_item(0, id="w-0", prompt="A frog", responses=["no", "none"]),
             factories.pairwise_item(1, id="w-1", prompt="Lake", responses=["the FROG sang", "no"]),
             factories.pairwise_item(2, id="w-2", prompt="frogs?", responses=["no", "frogs!"]),
             factories.pairwise_item(3, id="w-3", prompt="Lake", responses=["quiet", "calm"])]
    batch = factories.batch("where", items=items, audit_rate=0.0, audit_min_per_domain=0).batch
    batch_route(batch=batch)
    expected = [("w-0", "prompt"), ("w-1", "response"), ("w-2", "both")]
    assert _found_in(_found(client, "text=Frog")[0]) == expected  # scanned: not indexed yet
    example_search_index(batch_id=batch.pk)
    body = _found(client, "text=frog", HX_Request="true", HX_Target="items")[0]
    assert _found_in(body) == expected
    assert body.count("Text found in") == 1
    assert "Text found in" not in _found(client, "")[0]
