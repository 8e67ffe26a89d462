import datetime
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from dashboard.trend_charts import ChartQuery, chart_data, chart_query, period_range, trend_charts
from dashboard.trends import Split, period_label, trend_periods, trend_series
from hybridqc.flows.batches import batch_route
from reviewers.models import HumanLabel, ReviewTask
from reviewers.services import example_reference_refresh
from routing.batches.models import Batch
from routing.decisions.models import RoutingDecision
from routing.monitoring.metrics import weighted_rate
from tests import factories
from tests.dashboard.trend_batches import dated_batch


@pytest.fixture
def three_months(db):
    # September: 6 kept (4 audited: 3 agree), 4 routed (2 overturned).
    dated_batch("sep", "2026-09-14", kept=6, unsure=4, audit_labels=[1, 1, 1, 2], routed_labels=[2, 2, 1, 1])
    # October: 5 kept (2 audited, both agree), nothing routed.
    dated_batch("oct", "2026-10-02", kept=5, unsure=0, audit_labels=[1, 1], routed_labels=[])
    # November: 2 kept, both audited with p = 0.5 and 0.25 (agree, disagree); 2 routed (1 overturned).
    dated_batch("nov", "2026-11-30", kept=2, unsure=2, audit_labels=[1, 2], routed_labels=[1, 2],
                audit_probabilities=[0.5, 0.25])


def _rounded(ci):
    return None if ci is None else [round(x, 4) for x in ci]


def test_trend_periods_three_months_hand_computed(three_months):
    got = [{**p, "audit_agreement_ci": _rounded(p["audit_agreement_ci"]),
            "override_rate_ci": _rounded(p["override_rate_ci"])} for p in trend_periods(by="month")]
    fields = ("period", "examples", "human_share", "judge_only_share", "audit_agreement", "audit_agreement_ci",
              "audit_agreement_n_eff", "override_rate", "override_rate_ci", "judge_versions")
    assert [{k: p[k] for k in fields} for p in got] == [
        # Wilson(3/4, n=4) and Wilson(2/4, n=4)
        {"period": "2026-09", "examples": 10, "human_share": 0.4, "judge_only_share": 0.2,
         "audit_agreement": 0.75, "audit_agreement_ci": [0.3006, 0.9544], "audit_agreement_n_eff": 4.0,
         "override_rate": 0.5, "override_rate_ci": [0.15, 0.85], "judge_versions": ["judge-x"]},
        # Wilson(2/2, n=2); no routed item: no override rate (a gap, not a zero)
        {"period": "2026-10", "examples": 5, "human_share": 0.0, "judge_only_share": 0.6,
         "audit_agreement": 1.0, "audit_agreement_ci": [0.3424, 1.0], "audit_agreement_n_eff": 2.0,
         "override_rate": None, "override_rate_ci": None, "judge_versions": ["judge-x"]},
        # weights 2 and 4: agreement 2/6; n_eff = 6^2 / (4 + 16) = 1.8; Wilson(1/3, n=1.8)
        {"period": "2026-11", "examples": 4, "human_share": 0.5, "judge_only_share": 0.0,
         "audit_agreement": 1 / 3, "audit_agreement_ci": [0.0416, 0.852], "audit_agreement_n_eff": 1.8,
         "override_rate": 0.5, "override_rate_ci": [0.0945, 0.9055], "judge_versions": ["judge-x"]},
    ]


def test_trend_periods_by_iso_week(three_months):
    # 2026-09-14 is a Monday of ISO week 38; 2026-11-30 is in week 49.
    assert [(p["period"], p["examples"]) for p in trend_periods(by="week")] == [
        ("2026-W38", 10), ("2026-W40", 5), ("2026-W49", 4)]


def test_period_label_uses_the_iso_year():
    assert period_label(datetime.date(2026, 12, 31), "week") == "2026-W53"
    assert period_label(datetime.date(2027, 1, 1), "week") == "2026-W53"
    assert period_label(datetime.date(2027, 1, 1), "month") == "2027-01"


def test_trend_series_split_by_domain_and_domain_prefix(three_months):
    dated_batch("other", "2026-10-05", kept=3, unsure=1, audit_labels=[2], routed_labels=[1], domain="mtbench/coding")
    series = trend_series(by="month", split=Split(domain=True, judge=True))
    assert sorted(series) == [("mtbench/coding", "judge-x"), ("test/general", "judge-x")]
    assert [(p["period"], p["examples"], p["audit_agreement"]) for p in series[("mtbench/coding", "judge-x")]] == [
        ("2026-10", 4, 0.0)]
    assert [(p["period"], p["examples"]) for p in trend_periods(by="month", domain_prefix="mtbench")] == [
        ("2026-10", 4)]
    assert [p["examples"] for p in trend_periods(by="month")] == [10, 9, 4]


def test_trends_command_json_prints_periods_and_alarms(three_months, capsys):
    call_command("trends", "--json", "--domain", "test")
    out = json.loads(capsys.readouterr().out)
    assert [p["period"] for p in out["periods"]] == ["2026-09", "2026-10", "2026-11"]
    assert out["alarms"] == []


def test_trends_api_answers_leads_only(three_months, client, reviewer_user):
    client.force_login(reviewer_user)
    assert client.get("/api/control/trends/").status_code == 403
    client.force_login(factories.lead())
    body = client.get("/api/control/trends/?by=week").json()
    assert [p["period"] for p in body["periods"]] == ["2026-W38", "2026-W40", "2026-W49"]
    assert client.get("/api/control/trends/?by=year").status_code == 400


def test_import_examples_date_sets_the_batch_date(db, tmp_path):
    path = tmp_path / "b.jsonl"
    path.write_text("\n".join(factories.jsonl([factories.pairwise_item(0)])))
    call_command("import_examples", str(path), "--batch", "dated", "--date", "2026-03-04", "--no-pipeline")
    assert Batch.objects.get(name="dated").date.isoformat() == "2026-03-04"
    with pytest.raises(Exception, match="not a date"):
        call_command("import_examples", str(path), "--batch", "bad", "--date", "2026-13-01", "--no-pipeline")


def test_chart_data_leaves_periods_without_batches_as_gaps():
    periods = [{"period": "2026-W52", "examples": 4, "human_share": 0.5, "judge_only_share": 0.25,
                "audit_agreement": 0.8, "audit_agreement_ci": [0.4, 0.9], "override_rate": None,
                "override_rate_ci": None},
               {"period": "2027-W02", "examples": 2, "human_share": 0.0, "judge_only_share": 1.0,
                "audit_agreement": None, "audit_agreement_ci": None, "override_rate": 0.5,
                "override_rate_ci": [0.1, 0.9]}]
    data = chart_data(periods, "week")
    assert data["labels"] == ["2026-W52", "2026-W53", "2027-W01", "2027-W02"]
    assert data["audit_agreement"] == [0.8, None, None, None]
    assert data["audit_agreement_ci_low"] == [0.4, None, None, None]
    assert data["override_rate_ci_high"] == [None, None, None, 0.9]
    assert data["examples"] == [4, 0, 0, 2]
    assert period_range("2026-11", "2027-02", "month") == ["2026-11", "2026-12", "2027-01", "2027-02"]


def test_import_api_and_upload_form_take_the_batch_date(db, client):
    client.force_login(factories.lead())
    content = "\n".join(factories.jsonl([factories.pairwise_item(0)])).encode()
    response = client.post("/api/control/batches/", {"name": "api-dated", "date": "2026-05-06",
                                                     "file": SimpleUploadedFile("a.jsonl", content)})
    assert response.status_code == 201
    assert Batch.objects.get(name="api-dated").date == datetime.date(2026, 5, 6)
    bad = client.post("/api/control/batches/", {"name": "api-bad", "date": "06/05/2026",
                                                "file": SimpleUploadedFile("a.jsonl", content)})
    assert bad.status_code == 400 and "date" in bad.json()
    form = {"name": "form-dated", "date": "2026-04-01", "confidence_threshold": "0.8", "routing_mode": "threshold",
            "file": SimpleUploadedFile("a.jsonl", content)}
    page = client.post("/control/upload/", form, HTTP_HX_REQUEST="true")
    assert page.status_code == 200
    assert Batch.objects.get(name="form-dated").date == datetime.date(2026, 4, 1)
    assert not Batch.objects.filter(name="api-bad").exists()


def test_trend_periods_rating_agreement_within_half_a_point(db):
    # Judge rates 7 each time; reviewers 7.5 (agrees), 6 (disagrees), 7 (agrees): 2 of 3.
    batch = factories.batch("rated", items=[factories.rating_item(i) for i in range(3)],
                            date=datetime.date(2026, 4, 2)).batch
    batch_route(batch=batch)
    decisions = RoutingDecision.objects.filter(example__batch=batch).order_by("example__line_number")
    for d, rating in zip(decisions, [7.5, 6, 7], strict=True):
        RoutingDecision.objects.filter(pk=d.pk).update(route="judge", audit=True, audit_probability=None)
        task = ReviewTask.objects.create(example=d.example, kind="audit", status="done")
        HumanLabel.objects.create(example=d.example, task=task, source="review", rating=rating)
        example_reference_refresh(example_ids=[d.example_id])  # as every service writing a review label does
    [period] = trend_periods(by="month")
    expected = weighted_rate([True, False, True], [1.0, 1.0, 1.0])
    assert (period["period"], period["audit_agreement"], period["audit_agreement_n"]) == ("2026-04", 2 / 3, 3)
    assert period["audit_agreement_ci"] == [expected.low, expected.high]


def test_trend_series_query_count_does_not_grow_with_batches(three_months, django_assert_num_queries):
    with django_assert_num_queries(2):
        trend_series(by="month", split=Split(domain=True, judge=True))
    for i in range(5):
        dated_batch(f"more-{i}", f"2026-0{i + 1}-03", kept=3, unsure=1, audit_labels=[1], routed_labels=[2])
    with django_assert_num_queries(2):
        series = trend_series(by="month", split=Split(domain=True, judge=True))
    assert len(series[("test/general", "judge-x")]) == 8


def test_trend_charts_per_source_and_judge_version_from_the_url(three_months, client):
    dated_batch("other", "2026-10-05", kept=3, unsure=1, audit_labels=[2], routed_labels=[1], domain="mtbench/coding")
    Batch.objects.filter(name="other").update(primary_judge="judge-y")
    per_judge = trend_charts(chart_query({"per": "judge"}))
    assert [(c["title"], c["judge"]) for c in per_judge] == [("All domains", ""), ("judge-x", "judge-x"),
                                                             ("judge-y", "judge-y")]
    assert [[r.get("examples") for r in c["rows"]] for c in per_judge] == [[10, 9, 4], [10, 5, 4], [4]]
    assert per_judge[2]["rows"][0]["audit_agreement"] == 0.0
    per_source = trend_charts(chart_query({"judge": "judge-x"}))
    assert [(c["title"], [r.get("examples") for r in c["rows"]]) for c in per_source] == [
        ("judge-x", [10, 5, 4]), ("mtbench", []), ("test", [10, 5, 4])]
    one = trend_charts(chart_query({"source": "mtbench", "judge": "judge-y", "by": "week", "per": "judge"}))
    assert [(c["title"], [r["period"] for r in c["rows"]]) for c in one] == [("mtbench · judge-y", ["2026-W41"])]
    assert chart_query({"by": "year", "source": "nope", "judge": "nope", "per": "x"}) == ChartQuery()
    client.force_login(factories.lead())
    page = client.get("/control/trends/?source=mtbench&per=judge").content.decode()
    assert '<option value="mtbench" selected>' in page and 'data-judge="judge-y"' in page
    assert 'data-judge="judge-x"' not in page
