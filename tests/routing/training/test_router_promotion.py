import pytest
from django.urls import reverse

from hybridqc.celery import app
from hybridqc.flows.imports import batch_import
from routing.batches.models import Example
from routing.decisions.route import stale_reason
from routing.scoring.models import RouterModel
from routing.training.router_promotion import PROMOTION_MIN_RECENT, router_promotion_decide
from routing.training.router_training import (
    Trained,
    human_label_count,
    labeled_history,
    router_model_save,
    router_retrain_due,
    router_train,
    router_train_items,
)
from routing.training.tasks import router_retrain_check
from tests import factories
from tests.support.confirm import post_confirmed

# 300 of the shuffled llmbar items are the champion's history, the other 319 arrive later.
HISTORY = 300
RECENT = 190  # of those 319, the ones the challenger holds out (60%) that have a judge verdict


def _active() -> list[int]:
    return list(RouterModel.objects.filter(is_active=True).values_list("version", flat=True))


def _inverted(items, ids) -> Trained:
    """A router fitted on flipped human labels and forced to use its learned score: it ranks the
    judge's right verdicts lowest, so on real labels it certifies (almost) nothing."""
    trained = router_train_items(factories.flipped(items), seed=0, ids=ids)
    trained.score_name = "learned"
    return trained


def _recent_count(model: RouterModel) -> int:
    """Held-out examples of ``model`` from the batch imported after the champion (counted apart)."""
    later = set(Example.objects.filter(batch__name="later").values_list("pk", flat=True))
    return len(later & set(model.calibration["example_ids"]))


def test_router_promotion_worse_challenger_is_stored_rejected(db, client, admin_user, lead_user):
    lines = factories.shuffled_lines("llmbar.jsonl")
    batch_import(batch_name="history", lines=lines[:HISTORY])
    champion = router_train(seed=0)
    batch_import(batch_name="later", lines=lines[HISTORY:])
    items, ids = labeled_history()
    challenger = router_model_save(trained=_inverted(items, ids), n_labels_seen=human_label_count(), activate=False)
    assert (challenger.status, challenger.is_active, _active()) == ("candidate", False, [1])
    decided = router_promotion_decide(challenger=challenger, items=items, ids=ids)
    champion.refresh_from_db()
    decided.refresh_from_db()
    assert _active() == [1]
    assert (champion.status, decided.status, decided.is_active) == ("active", "rejected", False)
    p = decided.promotion
    assert (p["decision"], p["fallback"], p["champion_version"], p["splits"]) == ("rejected", False, 1, 50)
    assert p["n_recent"] == _recent_count(decided) == p["challenger"]["n"] == p["champion"]["n"] == RECENT
    assert (p["challenger"]["score_name"], p["champion"]["score_name"]) == ("learned", champion.score_name)
    mine, theirs = p["challenger"]["coverage"], p["champion"]["coverage"]
    assert mine < theirs
    assert p["summary"] == f"v2 trained; kept v1 active: v2 keeps {mine:.2f} vs {theirs:.2f} on {RECENT} recent labels"
    assert p["events"][-1]["action"] == "rejected"
    assert not router_retrain_due()  # the rejected version was trained on every label there is
    client.force_login(admin_user)
    body = client.get(reverse("routing:model")).content.decode()
    assert p["summary"] in body and f'data-n-recent="{RECENT}"' in body and 'data-fallback="no"' in body
    assert 'data-status="rejected"' in body and 'data-status="active"' in body
    assert 'data-promote="2"' in body and "data-confirm=" in body
    client.force_login(lead_user)
    body = client.get(reverse("routing:model")).content.decode()
    assert p["summary"] in body and "data-promote" not in body and "data-rollback" not in body


def test_router_promotion_better_challenger_is_activated_by_the_beat_task(db):
    lines = factories.shuffled_lines("llmbar.jsonl")
    batch_import(batch_name="history", lines=lines[:HISTORY])
    items, ids = labeled_history()
    bad = router_model_save(trained=_inverted(items, ids), n_labels_seen=human_label_count(), activate=True)
    assert (bad.status, _active()) == ("active", [1])
    batch_import(batch_name="later", lines=lines[HISTORY:])
    assert router_retrain_due()
    assert router_retrain_check() == 2
    bad.refresh_from_db()
    challenger = RouterModel.objects.get(version=2)
    assert _active() == [2] and (bad.status, challenger.status) == ("retired", "active")
    p = challenger.promotion
    assert (p["decision"], p["fallback"], p["replaced"]) == ("activated", False, 1)
    assert p["n_recent"] == _recent_count(challenger) == RECENT
    mine, theirs = p["challenger"]["coverage"], p["champion"]["coverage"]
    assert mine > theirs
    assert p["summary"] == (f"v2 trained and activated, replacing v1: v2 keeps {mine:.2f} vs {theirs:.2f} "
                            f"on {RECENT} recent labels")
    assert bad.promotion["events"][-1] | {"at": None} == {"action": "retired", "by": "retrain", "replaced_by": 2,
                                                          "at": None}
    assert not router_retrain_due()


def test_router_promotion_falls_back_to_own_calibration_without_recent_labels(db):
    batch_import(batch_name="history", lines=factories.data_lines("llmbar.jsonl", 400))
    champion = router_train(seed=0)
    items, ids = labeled_history()
    trained = router_train_items(items, seed=0, ids=ids)
    for stage in trained.calibration["stages"]:  # held-out labels on which the judge is always wrong
        stage["agree"] = [0] * len(stage["agree"])
    challenger = router_model_save(trained=trained, n_labels_seen=human_label_count(), activate=False)
    decided = router_promotion_decide(challenger=challenger, items=items, ids=ids)
    assert _active() == [champion.version] and decided.status == "rejected"
    p = decided.promotion
    assert (p["fallback"], p["n_recent"]) == (True, 0)
    assert p["challenger"] | {"coverage": None} == {"version": 2, "score_name": champion.score_name, "n": 236,
                                                    "coverage": None, "held": 1.0, "unseen_score_name": "",
                                                    "n_unseen": 0}
    assert p["challenger"]["coverage"] == 0.0 < p["champion"]["coverage"]
    assert p["champion"]["n"] == champion.n_calibration == 236
    theirs = p["champion"]["coverage"]
    assert p["reason"] == (f"v2 keeps 0.00 of its 236 held-out labels vs v1 {theirs:.2f} of its 236 (only 0 recent "
                           f"labels, fewer than {PROMOTION_MIN_RECENT}: each measured on its own held-out part)")


def test_router_promotion_activates_without_a_usable_champion(db):
    trained = factories.router_trained_items()
    first = router_model_save(trained=trained, n_labels_seen=0, activate=False)
    first = router_promotion_decide(challenger=first, items=[], ids=[])
    assert (first.status, first.promotion["reason"], _active()) == ("active", "no active router", [1])
    assert first.promotion["summary"] == "v1 trained and activated: no active router"
    RouterModel.objects.filter(pk=first.pk).update(feature_spec={**first.feature_spec, "version": 2})
    first.refresh_from_db()
    second = router_model_save(trained=trained, n_labels_seen=0, activate=False)
    second = router_promotion_decide(challenger=second, items=[], ids=[])
    assert _active() == [2] and second.promotion["decision"] == "activated"
    assert second.promotion["reason"] == stale_reason(first)
    assert "challenger" not in second.promotion and second.promotion["replaced"] == 1


def _versions() -> list[RouterModel]:
    """v1 retired, v2 active (replaced v1), v3 a candidate."""
    trained = factories.router_trained_items()
    return [router_model_save(trained=trained, n_labels_seen=0, activate=activate) for activate in (True, True, False)]


def test_router_promote_and_roll_back_by_admin(db, client, admin_user):
    v1, v2, v3 = _versions()
    assert [RouterModel.objects.get(pk=m.pk).status for m in (v1, v2, v3)] == ["retired", "active", "candidate"]
    client.force_login(admin_user)
    assert 'data-promote="3"' in client.get(reverse("routing:model")).content.decode()
    response = client.post(reverse("routing:router_promote", args=[3]), follow=True)
    assert response.status_code == 200 and "v3 is now the active router." in response.content.decode()
    assert _active() == [3]
    v3.refresh_from_db()
    assert (v3.status, v3.promotion["replaced"]) == ("active", 2)
    assert v3.promotion["events"][-1]["action"] == "promoted" and v3.promotion["events"][-1]["by"] == "admin"
    assert v3.promotion["events"][-1]["user_id"] == admin_user.pk and v3.promotion["events"][-1]["at"]
    assert RouterModel.objects.get(pk=v2.pk).status == "retired"
    body = client.get(reverse("routing:model")).content.decode()
    assert 'data-rollback="2"' in body
    response = client.post(reverse("routing:router_rollback"), follow=True)
    assert "Rolled back: v2 is active again, v3 retired." in response.content.decode()
    assert _active() == [2]
    v2.refresh_from_db()
    assert (v2.status, v2.promotion["replaced"], v2.promotion["events"][-1]["action"]) == ("active", 3, "rolled back")
    assert RouterModel.objects.get(pk=v3.pk).status == "retired"
    again = client.post(reverse("routing:router_promote", args=[2]), follow=True)
    assert "Not promoted: v2 is already active" in again.content.decode() and _active() == [2]
    assert client.post(reverse("routing:router_promote", args=[99])).status_code == 404


@pytest.mark.parametrize("who", ["lead", "reviewer"])
def test_router_promote_and_roll_back_forbidden_to_others(db, client, lead_user, reviewer_user, who):
    _versions()
    client.force_login(lead_user if who == "lead" else reviewer_user)
    assert client.post(reverse("routing:router_promote", args=[3])).status_code == 403
    assert client.post(reverse("routing:router_rollback")).status_code == 403
    assert _active() == [2]


def test_router_promote_and_roll_back_are_post_only(db, client, admin_user):
    _versions()
    client.force_login(admin_user)
    assert client.get(reverse("routing:router_promote", args=[3])).status_code == 405
    assert client.get(reverse("routing:router_rollback")).status_code == 405
    assert _active() == [2]


@pytest.fixture
def eager():
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.mark.django_db(transaction=True)
def test_router_retrain_now_says_what_was_decided(client, lead_user, eager):
    batch_import(batch_name="history", lines=factories.data_lines("llmbar.jsonl", 400))
    client.force_login(lead_user)
    first = post_confirmed(client, reverse("routing:router_retrain"), follow=True).content.decode()
    assert "v1 trained and activated: no active router" in first
    second = post_confirmed(client, reverse("routing:router_retrain"), follow=True).content.decode()
    p = RouterModel.objects.get(version=2).promotion
    # No label arrived after v1, and the same history and seed train the same model: a tie, which
    # goes to the challenger since its guarantee held as often.
    assert (p["fallback"], p["decision"], _active()) == (True, "activated", [2])
    assert p["challenger"]["coverage"] == p["champion"]["coverage"] and p["challenger"]["held"] == p["champion"]["held"]
    assert p["summary"].startswith("v2 trained and activated, replacing v1: v2 keeps ")
    assert p["summary"].endswith("; a tie, guarantee held in 100% vs 100% of splits") and p["summary"] in second
