import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from hybridqc.flows.imports import batch_import
from routing.scoring.candidates import CANDIDATES
from routing.training.router_training import backtest_result_path, backtest_result_save
from tests import factories

KEYS = {"items", "left_out_tied_reference", "no_judge_verdict", "alpha", "delta", "splits", "seed", "fractions",
        "coverage", "kept_agreement", "guarantee_held", "splits_with_nothing_kept", "baselines", "chosen_scores"}
BASELINES = {"judge_confidence", "random", *CANDIDATES}
SUMMARY_KEYS = {"coverage", "kept_agreement", "guarantee_held", "splits_with_nothing_kept"}


def _slice(tmp_path, name: str, n: int):
    path = tmp_path / name
    path.write_text("\n".join(factories.data_lines(name, n)) + "\n")
    return path


def _run(*args: str) -> dict:
    out = StringIO()
    call_command("backtest", *args, stdout=out)
    return json.loads(out.getvalue())


def test_backtest_json_keys_and_small_deterministic_run(tmp_path):
    path = _slice(tmp_path, "llmbar.jsonl", 200)
    result = _run(str(path), "--alpha", "0.2", "--splits", "5", "--json")
    assert set(result) == KEYS
    assert set(result["baselines"]) == BASELINES
    assert sum(result["chosen_scores"].values()) == 5 and set(result["chosen_scores"]) <= set(CANDIDATES)
    for row in [result, *result["baselines"].values()]:
        assert set(row) >= SUMMARY_KEYS
        assert 0.0 <= row["coverage"] <= 1.0 and 0.0 <= row["guarantee_held"] <= 1.0
    assert (result["items"], result["splits"], result["alpha"], result["delta"]) == (200, 5, 0.2, 0.1)
    assert result["fractions"] == {"train": 0.25, "calibration": 0.35, "test": 0.4}
    # random routing keeps as many items as the router on every split
    assert result["baselines"]["random"]["coverage"] == result["coverage"]
    assert _run(str(path), "--alpha", "0.2", "--splits", "5", "--json") == result


def test_backtest_counts_tied_references_and_never_keeps_items_without_verdict(tmp_path):
    items = [factories.pairwise_item(i, human_labels=[{"annotator": "a", "choice": 1}]) for i in range(40)]
    items[0]["human_labels"] = [{"annotator": "a", "choice": 1}, {"annotator": "b", "choice": 2}]
    items[1]["judgments"] = [{"judge": "judge-x", "choice": None}]
    path = tmp_path / "tiny.jsonl"
    path.write_text("\n".join(json.dumps(i) for i in items))
    uniform = _run(str(path), "--splits", "2", "--json")
    assert uniform["coverage"] == 0.0  # the judge never disagrees: no router can be trained
    items[2]["human_labels"] = [{"annotator": "a", "choice": 2}]
    path.write_text("\n".join(json.dumps(i) for i in items))
    result = _run(str(path), "--splits", "2", "--json")
    assert (result["items"], result["left_out_tied_reference"], result["no_judge_verdict"]) == (39, 1, 1)


def test_backtest_rejects_bad_input(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1}\n')
    with pytest.raises(CommandError, match="invalid line"):
        _run(str(bad), "--json")
    with pytest.raises(CommandError, match="alpha and delta"):
        _run(str(bad), "--alpha", "2")
    with pytest.raises(CommandError, match="cannot read"):
        _run(str(tmp_path / "missing.jsonl"))


def test_backtest_page_runs_small_batch_inline(db, client, lead_user):
    batch = batch_import(batch_name="hist", lines=factories.data_lines("llmbar.jsonl", 80)).batch
    client.force_login(lead_user)
    url = reverse("routing:backtest")
    response = client.post(url, {"batch": batch.pk, "alpha": "0.2", "delta": "0.1", "splits": "3"},
                           HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count("<tr data-row=") == 1 + len(BASELINES)  # the router, then every baseline
    assert "80 items with a human reference" in body
    bad = client.post(url, {"batch": 999999, "alpha": "0.2", "delta": "0.1", "splits": "3"})
    assert bad.status_code == 400 and "Choose an existing batch." in bad.content.decode()


def test_backtest_page_polls_an_asynchronous_result(db, client, lead_user):
    client.force_login(lead_user)
    url = reverse("routing:backtest")
    token = "0123456789abcdef0123456789abcdef"
    backtest_result_path(token).unlink(missing_ok=True)
    waiting = client.get(url, {"token": token}, HTTP_HX_REQUEST="true")
    assert waiting.status_code == 200 and "Running in the background" in waiting.content.decode()
    row = {"coverage": 0.5, "kept_agreement": 0.9, "guarantee_held": 1.0, "splits_with_nothing_kept": 0}
    backtest_result_save(token=token, result={"items": 50, "left_out_tied_reference": 0, "splits": 3, "alpha": 0.1,
                                              "delta": 0.1, **row, "baselines": {"judge_confidence": row,
                                                                                 "random": row}})
    done = client.get(url, {"token": token}, HTTP_HX_REQUEST="true").content.decode()
    backtest_result_path(token).unlink()
    assert done.count("<tr data-row=") == 3 and "50 items with a human reference" in done
    assert client.get(url, {"token": "../etc"}, HTTP_HX_REQUEST="true").status_code == 400


def _labeled_with_prefix(path, prefix: str) -> int:
    """Items of a file with a domain under ``prefix`` and an untied human majority (by hand)."""
    n = 0
    for line in path.read_text().splitlines():
        item = json.loads(line)
        votes = [h["choice"] for h in item["human_labels"]]
        top = sorted(votes.count(v) for v in set(votes))
        n += item["domain"].startswith(prefix) and (len(top) == 1 or top[-1] > top[-2])
    return n


def test_backtest_leave_one_source_out_reports_every_source_on_its_own_splits(tmp_path):
    a, b = _slice(tmp_path, "llmbar.jsonl", 120), _slice(tmp_path, "pandalm.jsonl", 120)
    result = _run(str(a), str(b), "--leave-one-source-out", "llmbar", "pandalm", "--splits", "2", "--json")
    assert [s["source"] for s in result["sources"]] == ["llmbar", "pandalm"]
    n_llmbar, n_pandalm = _labeled_with_prefix(a, "llmbar"), _labeled_with_prefix(b, "pandalm")
    for row, own, other in ((result["sources"][0], n_llmbar, n_pandalm), (result["sources"][1], n_pandalm, n_llmbar)):
        assert row["items"] == own
        assert row["fractions"] == {"history_items": other, "calibration": 0.35, "test": 0.65}
        assert set(row["baselines"]) == BASELINES and sum(row["chosen_scores"].values()) == 2
        assert row["selection"]["rule"].startswith(("cross-validation", "fixed rule"))


def test_backtest_history_trains_on_other_files(tmp_path):
    a, b = _slice(tmp_path, "llmbar.jsonl", 120), _slice(tmp_path, "pandalm.jsonl", 120)
    result = _run(str(b), "--history", str(a), "--splits", "2", "--json")
    assert result["items"] == _labeled_with_prefix(b, "pandalm")
    assert result["fractions"]["history_items"] == _labeled_with_prefix(a, "")
    with pytest.raises(CommandError, match="not both"):
        _run(str(b), "--history", str(a), "--leave-one-source-out", "pandalm")
    with pytest.raises(CommandError, match="no item with a human reference"):
        _run(str(b), "--leave-one-source-out", "nowhere")
