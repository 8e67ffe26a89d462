import json
import math
import random

import pytest
from django.core.management import call_command

from dashboard.alarms import (
    alarm_domain_always_human,
    alarm_json,
    alarm_raised,
    alarms_record,
    batch_open_alarms,
    proportion_drop,
    series_alarms,
)
from dashboard.models import WebhookDelivery, WebhookEndpoint
from dashboard.selectors import batch_report, release_gate
from dashboard.webhooks import webhook_delivery_attempt
from hybridqc.webhook_signature import webhook_signature_verify
from routing.batches.models import Domain
from routing.monitoring.models import Alarm
from tests import factories
from tests.dashboard.trend_batches import dated_batch
from tests.support.confirm import post_confirmed

ALPHA, WINDOW = 0.01, 3


def _row(agreement, n_eff, human, examples, override=None, override_n=0, kept_share=0.7):
    return {"audit_agreement": agreement, "audit_agreement_n_eff": n_eff, "human_share": human / examples,
            "examples": examples, "override_rate": override, "override_rate_n": override_n,
            "judge_kept_share": kept_share, "period": "p"}


def test_proportion_drop_hand_computed():
    # latest 0.6 on 60, trailing 0.9 on 180: pooled (36 + 162) / 240 = 0.825,
    # se = sqrt(0.825 * 0.175 * (1/60 + 1/180)) = 0.056642, z = -0.3 / se = -5.2964
    test = proportion_drop(0.6, 60, 0.9, 180)
    assert (round(test.z, 4), round(test.effect, 4), test.p_value < 1e-6) == (-5.2964, -0.3, True)
    assert proportion_drop(1.0, 10, 1.0, 30) is None
    assert proportion_drop(0.5, 0, 0.9, 30) is None


def test_proportion_drop_small_counts_take_fishers_exact_test_hand_computed():
    # latest 7 of 12 agree, trailing 33 of 36: pooled 40/48, so the latest period expects
    # 12 * 8/48 = 2 disagreements (< 5): Fisher's one-sided test. With the margins fixed (40
    # agreeing of 48, 12 of them latest), P(latest agreeing <= 7) is the hypergeometric sum
    # over x = 4..7 (the latest 12 hold at least 12 - 8 agreeing).
    expected = sum(math.comb(40, x) * math.comb(8, 12 - x) for x in range(4, 8)) / math.comb(48, 12)
    test = proportion_drop(7 / 12, 12, 33 / 36, 36)
    assert (test.method, round(expected, 6)) == ("fisher-exact", 0.016605)
    assert test.p_value == pytest.approx(expected, rel=1e-9)
    assert round(test.effect, 4) == round(7 / 12 - 33 / 36, 4)
    # The z-test on the same counts would claim p = 0.0036 and raise an alarm at alpha = 0.01.
    assert round(test.z, 4) == -2.6833 and test.p_value > ALPHA
    assert proportion_drop(0.6, 60, 0.9, 180).method == "z-test"


def test_series_alarms_injected_agreement_drop_raises_one_alarm():
    rows = [_row(0.9, 60, 60, 200) for _ in range(3)] + [_row(0.6, 60, 60, 200)]
    found = series_alarms(rows, alpha=ALPHA, window=WINDOW)
    assert [kind for kind, _ in found] == [Alarm.Kind.AGREEMENT_DRIFT]
    assert round(found[0][1].z, 4) == -5.2964


def test_series_alarms_override_collapse_needs_the_judge_keeping_more():
    before = [_row(None, 0, 60, 200, override=0.4, override_n=60, kept_share=0.7) for _ in range(3)]
    keeps_more = before + [_row(None, 0, 60, 200, override=0.1, override_n=60, kept_share=0.9)]
    keeps_same = before + [_row(None, 0, 60, 200, override=0.1, override_n=60, kept_share=0.7)]
    assert [k for k, _ in series_alarms(keeps_more, alpha=ALPHA, window=WINDOW)] == [Alarm.Kind.OVERRIDE_COLLAPSE]
    assert series_alarms(keeps_same, alpha=ALPHA, window=WINDOW) == []


def test_series_alarms_ceiling_drop():
    rows = [_row(None, 0, 60, 200) for _ in range(3)] + [_row(None, 0, 20, 200)]
    assert [k for k, _ in series_alarms(rows, alpha=ALPHA, window=WINDOW)] == [Alarm.Kind.CEILING_DROP]


def _stable_series(rng: random.Random) -> list[dict]:
    rows = []
    for _ in range(WINDOW + 1):
        agree = sum(rng.random() < 0.85 for _ in range(60))
        human = sum(rng.random() < 0.3 for _ in range(200))
        override = sum(rng.random() < 0.4 for _ in range(human))
        kept = (200 - human) / 200
        rows.append(_row(agree / 60, 60, human, 200, override=override / human, override_n=human, kept_share=kept))
    return rows


def test_series_alarms_stable_series_false_alarm_rate_at_most_five_percent():
    rng = random.Random(20261201)
    raised = sum(bool(series_alarms(_stable_series(rng), alpha=ALPHA, window=WINDOW)) for _ in range(200))
    assert raised <= 10, f"{raised} of 200 stable periods raised an alarm"


def _small_stable_series(rng: random.Random) -> list[dict]:
    # 12 audits a period at 85% agreement: every period expects 1.8 disagreements.
    return [_row(sum(rng.random() < 0.85 for _ in range(12)) / 12, 12, 60, 200) for _ in range(WINDOW + 1)]


def test_series_alarms_small_periods_false_alarm_rate_at_most_five_percent_and_a_drop_raises():
    rng = random.Random(20261202)
    series = [_small_stable_series(rng) for _ in range(200)]
    raised = [found for rows in series if (found := series_alarms(rows, alpha=ALPHA, window=WINDOW))]
    assert len(raised) <= 10, f"{len(raised)} of 200 small stable periods raised an alarm"
    # 12 of 12 agreeing for three periods, then 6 of 12: hypergeometric P(X <= 6) with 42 agreeing
    # of 48 and 12 latest (all 6 disagreements latest): C(12, 6) / C(48, 6).
    rows = [_row(1.0, 12, 60, 200) for _ in range(3)] + [_row(0.5, 12, 60, 200)]
    [(kind, test)] = series_alarms(rows, alpha=ALPHA, window=WINDOW)
    assert (kind, test.method) == (Alarm.Kind.AGREEMENT_DRIFT, "fisher-exact")
    assert test.p_value == pytest.approx(math.comb(12, 6) / math.comb(48, 6), rel=1e-9)


def _four_months(last_labels):
    for month, labels in (("2026-07-10", [1] * 20), ("2026-08-10", [1] * 20), ("2026-09-10", [1] * 20),
                          ("2026-10-10", last_labels)):
        dated_batch(f"b-{month}", month, kept=20, unsure=0, audit_labels=labels, routed_labels=[])


@pytest.mark.django_db
def test_alarms_record_injected_drop_stores_one_alarm_once():
    _four_months([1] * 10 + [2] * 10)
    created = alarms_record(by="month")
    assert [(a.kind, a.domain, a.judge_version, a.period) for a in created] == [
        ("agreement_drift", "test/general", "judge-x", "2026-10")]
    # trailing 60/60 agree, latest 10/20: pooled 70/80, se = sqrt(0.875 * 0.125 * (1/20 + 1/60)) = 0.085391
    assert round(created[0].effect, 4) == -0.5 and round(created[0].details["z"], 4) == -5.8554
    # The latest 20 expect 2.5 disagreements: Fisher's test, all 10 disagreements in the latest
    # 20 of 80: C(20, 10) / C(80, 10).
    assert (created[0].method, alarm_json(created[0])["method"]) == ("fisher-exact", "fisher-exact")
    assert created[0].p_value == pytest.approx(math.comb(20, 10) / math.comb(80, 10), rel=1e-9)
    assert "one-sided Fisher exact test" in created[0].message
    assert alarms_record(by="month") == []
    assert Alarm.objects.count() == 1


@pytest.mark.django_db
def test_alarms_record_stable_series_stores_none():
    _four_months([1] * 19 + [2])
    assert alarms_record(by="month") == []


@pytest.mark.django_db
def test_open_alarm_holds_the_release_gate_and_shows_in_trends(capsys):
    _four_months([1] * 10 + [2] * 10)
    call_command("trends", "--json")
    batch = Domain.objects.get(path="test/general").examples.first().batch
    gate = release_gate(batch_report(batch), 0.0)
    assert gate["passed"] is False
    assert any("open alarm" in r and "test/general" in r for r in gate["reasons"])


@pytest.mark.django_db
def test_batch_open_alarms_reads_the_batch_domains_only_when_an_alarm_is_open(django_assert_num_queries):
    items = [factories.pairwise_item(i, domain=d) for i, d in enumerate(["test/a/x", "test/a/x", "test/b"])]
    batch = factories.batch("alarmed", items=items).batch
    with django_assert_num_queries(1):  # the open alarms only: none, so no read of 3 examples' domains
        assert batch_open_alarms(batch) == []
    fields = {"kind": Alarm.Kind.AGREEMENT_DRIFT, "period": "2026-11", "p_value": 0.01, "effect": -0.2}
    on_prefix = Alarm.objects.create(domain="test/a", message="drop", **fields)
    Alarm.objects.create(domain="test/c", message="elsewhere", **fields)
    Alarm.objects.create(domain="test/b", message="closed", status=Alarm.Status.DISMISSED, **fields)
    with django_assert_num_queries(2):
        assert batch_open_alarms(batch) == [on_prefix]


@pytest.mark.django_db
def test_alarm_switch_domain_to_always_human_from_the_alarm(client, reviewer_user):
    _four_months([1] * 10 + [2] * 10)
    alarm = alarms_record(by="month")[0]
    client.force_login(reviewer_user)
    assert client.post(f"/control/alarms/{alarm.pk}/always-human/").status_code == 403
    client.force_login(factories.lead())
    page = client.get("/control/trends/")
    assert page.status_code == 200 and f'id="alarm-{alarm.pk}"' in page.content.decode()
    assert "1 open alarm:" in client.get("/control/").content.decode()
    response = post_confirmed(client, f"/control/alarms/{alarm.pk}/always-human/")
    assert response.status_code == 302
    alarm.refresh_from_db()
    assert (alarm.status, Domain.objects.get(path="test/general").always_human) == ("always_human", True)
    assert "open alarm" not in client.get("/control/").content.decode()
    assert client.post(f"/control/alarms/{alarm.pk}/dismiss/", HTTP_HX_REQUEST="true").status_code == 200
    alarm.refresh_from_db()
    assert alarm.status == "always_human"


@pytest.mark.django_db
def test_alarms_record_pools_a_source_whose_domains_drift_each_too_little():
    # Per domain: 30/30 agree, then 8/10. Few disagreements are expected, so Fisher's test: both
    # disagreements in the latest 10 of 40, C(10, 2) / C(40, 2) = 0.0577, no alarm (the z-test
    # would say z = -2.51, p = 0.006 and raise one per domain). Pooled under "test": 60/60 then
    # 16/20, all 4 disagreements in the latest 20 of 80: C(20, 4) / C(80, 4) = 0.0031.
    for domain in ("test/a", "test/b"):
        for month in ("2026-07-10", "2026-08-10", "2026-09-10"):
            dated_batch(f"{domain}-{month}", month, kept=10, unsure=0, audit_labels=[1] * 10, routed_labels=[],
                        domain=domain)
        dated_batch(f"{domain}-last", "2026-10-10", kept=10, unsure=0, audit_labels=[1] * 8 + [2] * 2,
                    routed_labels=[], domain=domain)
    created = alarms_record(by="month")
    assert [(a.kind, a.domain, a.method) for a in created] == [("agreement_drift", "test", "fisher-exact")]
    assert created[0].p_value == pytest.approx(math.comb(20, 4) / math.comb(80, 4), rel=1e-9)
    assert alarm_domain_always_human(alarm=created[0], user=None) is True
    assert sorted(Domain.objects.filter(always_human=True).values_list("path", flat=True)) == ["test/a", "test/b"]


@pytest.mark.django_db
def test_alarm_raised_signal_is_sent_once_per_new_alarm_after_commit(django_capture_on_commit_callbacks):
    _four_months([1] * 10 + [2] * 10)
    received = []

    def receiver(sender, alarm, **kwargs):
        received.append(alarm.pk)

    alarm_raised.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            created = alarms_record(by="month")
        with django_capture_on_commit_callbacks(execute=True):
            alarms_record(by="month")
    finally:
        alarm_raised.disconnect(receiver)
    assert received == [created[0].pk]


@pytest.mark.django_db
def test_alarm_raised_is_delivered_as_a_signed_webhook(django_capture_on_commit_callbacks, webhook_receiver):
    WebhookEndpoint.objects.create(url=webhook_receiver.url, secret="alarm-secret", events=["alarm.raised"])
    WebhookEndpoint.objects.create(url=webhook_receiver.url + "gates", secret="x", events=["gate.opened"])
    _four_months([1] * 10 + [2] * 10)
    with django_capture_on_commit_callbacks() as callbacks:
        [alarm] = alarms_record(by="month")
    # Run only the alarm's announcement: the delivery task it queues is run by hand below.
    for callback in callbacks:
        callback()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.event, delivery.batch_id) == ("alarm.raised", None)
    assert webhook_delivery_attempt(delivery_id=delivery.pk) is None
    [got] = webhook_receiver.requests
    assert webhook_signature_verify(secret="alarm-secret", body=got.body, header=got.headers["X-HybridQC-Signature"])
    assert not webhook_signature_verify(secret="x", body=got.body, header=got.headers["X-HybridQC-Signature"])
    assert got.headers["X-HybridQC-Event"] == "alarm.raised"
    payload = json.loads(got.body)
    assert payload == alarm_json(alarm)
    assert (payload["kind"], payload["domain"], payload["judge_version"], payload["period"]) == (
        "agreement_drift", "test/general", "judge-x", "2026-10")
    assert round(payload["effect"], 4) == -0.5
    assert WebhookDelivery.objects.get().status == "delivered"
