import csv
import io
import json

import pyarrow.parquet as pq
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from dashboard.export_formats import csv_cell
from reviewers.models import HumanLabel
from routing.batches.models import Batch, Example
from routing.decisions.models import RoutingDecision
from tests import factories
from tests.dashboard.trend_batches import dated_batch


@pytest.fixture
def released(db, reviewer_user):
    # 5 kept (4 audited: labels 1, 1, 2, 1; one judge-only), 3 routed (labels 2, tie, 1).
    batch = dated_batch("exp", "2026-11-02", kept=5, unsure=3, audit_labels=[1, 1, 2, 1], routed_labels=[2, 0, 1],
                        fields={0: {"prompt": "=HYPERLINK(\"http://x\")"}})
    HumanLabel.objects.filter(example__batch=batch).update(reviewer=reviewer_user.reviewer)
    # Target agreement 0.25: the Wilson lower bound of 3/4 (0.3006) passes.
    Batch.objects.filter(pk=batch.pk).update(alpha=0.75)
    batch.refresh_from_db()
    return batch


def _export(name, *args, tmp_path):
    out = tmp_path / "out"
    call_command("export_batch", name, *args, "-o", str(out))
    return out


def test_export_batch_preference_round_trips(released, tmp_path):
    out = _export("exp", "--format", "preference", tmp_path=tmp_path)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 7  # 8 examples, the tie left out
    sources = []
    for row in rows:
        example = Example.objects.get(batch=released, external_id=row["id"])
        decision = RoutingDecision.objects.get(example=example)
        label = json.loads(_export("exp", tmp_path=tmp_path).read_text().splitlines()[example.line_number - 1])
        assert (row["prompt"], row["router_version"], row["released"]) == (
            example.prompt, decision.router_version, True)
        assert [row["chosen"], row["rejected"]] == (
            example.responses if label["label"] == 1 else example.responses[::-1])
        sources.append((row["id"], row["label_source"], label["label"]))
    assert sources == [("item-0", "audited", 1), ("item-1", "audited", 1), ("item-2", "audited", 2),
                       ("item-3", "audited", 1), ("item-4", "judge_only", 1), ("item-5", "human", 2),
                       ("item-7", "human", 1)]


def test_export_batch_jsonl_carries_lineage(released, tmp_path, reviewer_user):
    rows = [json.loads(x) for x in _export("exp", tmp_path=tmp_path).read_text().splitlines()]
    credential = reviewer_user.reviewer.credentials.get(domain_prefix="test")
    first, judge_only = rows[0], rows[4]
    assert (first["judge_name"], first["judge_version"], first["reviewer_credentials"]) == (
        "judge-x", "recorded", [credential.pk])
    assert (judge_only["label_source"], judge_only["reviewer_credentials"], judge_only["labelled_at"]) == (
        "judge_only", [], None)
    run = RoutingDecision.objects.get(example__batch=released, example__external_id="item-0").run
    assert (first["routing_run"], first["routing_mode"], first["batch_date"]) == (run.pk, "threshold", "2026-11-02")
    assert first["labelled_at"] is not None and "reviewer" not in json.dumps(first["reviewer_credentials"])


def test_export_batch_refuses_an_unreleased_batch_without_confirmation(db, tmp_path):
    dated_batch("held", "2026-11-02", kept=2, unsure=1, audit_labels=[], routed_labels=[])
    with pytest.raises(CommandError, match="release gate holds"):
        _export("held", tmp_path=tmp_path)
    out = _export("held", "--confirm-unreleased", tmp_path=tmp_path)
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["released"] for r in rows] == [False, False, False]
    assert [r["label_source"] for r in rows] == ["judge_only", "judge_only", "pending"]


def test_export_csv_cells_are_safe_against_formula_injection(released, tmp_path):
    rows = list(csv.DictReader(io.StringIO(_export("exp", "--format", "csv", tmp_path=tmp_path).read_text())))
    assert rows[0]["prompt"] == "'=HYPERLINK(\"http://x\")"
    assert json.loads(rows[0]["responses"]) == ["Answer A0", "Answer B0"]
    assert [csv_cell(v) for v in ("+1", "-2", "@x", "\tx", "ok", 3)] == ["'+1", "'-2", "'@x", "'\tx", "ok", 3]


def test_export_parquet_reads_back_with_released_metadata(released, tmp_path):
    table = pq.read_table(_export("exp", "--format", "parquet", tmp_path=tmp_path))
    assert table.num_rows == 8
    assert table.schema.metadata[b"released"] == b"true"
    assert table.column("label_source").to_pylist()[:5] == ["audited"] * 4 + ["judge_only"]


def test_export_page_asks_for_confirmation_when_the_gate_holds(db, client, reviewer_user):
    batch = dated_batch("held", "2026-11-02", kept=2, unsure=1, audit_labels=[], routed_labels=[])
    url = f"/control/batch/{batch.pk}/export/?fmt=preference"
    client.force_login(reviewer_user)
    assert client.get(url).status_code == 403
    client.force_login(factories.lead())
    page = client.get(url)
    assert page.status_code == 409 and "The release gate holds" in page.content.decode()
    response = client.get(url + "&confirm=1")
    assert (response.status_code, response["X-HybridQC-Released"]) == (200, "false")
    assert client.get(f"/control/batch/{batch.pk}/export/?fmt=xml").status_code == 400


def test_export_api_needs_confirmation_and_a_known_format(released, client):
    client.force_login(factories.lead())
    response = client.get("/api/control/batches/exp/export/?fmt=csv")
    assert (response.status_code, response["X-HybridQC-Released"]) == (200, "true")
    assert client.get("/api/control/batches/exp/export/?fmt=xml").status_code == 400
    dated_batch("held", "2026-11-02", kept=2, unsure=1, audit_labels=[], routed_labels=[])
    held = client.get("/api/control/batches/held/export/")
    assert held.status_code == 409 and held.json()["reasons"]
    assert client.get("/api/control/batches/held/export/?confirm=1").status_code == 200
