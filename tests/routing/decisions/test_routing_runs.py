import re

from django.urls import reverse

from hybridqc.flows.batches import batch_reroute, batch_route
from reviewers.models import HumanLabel
from routing.batches.models import Domain
from routing.decisions.models import RoutingDecision, RoutingRun
from routing.decisions.selectors import batch_routing_runs, router_model_runs, run_router_note
from routing.training.router_training import router_train
from tests import factories


def _panel(client, lead_user, batch) -> str:
    client.force_login(lead_user)
    response = client.get(reverse("dashboard:router_panel", args=[batch.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return response.content.decode()


def _attr(body: str, name: str) -> list[str]:
    return re.findall(rf'{name}="([^"]*)"', body)


def test_routing_runs_panel_after_a_retrain_shows_the_stored_certification(db, client, lead_user, reviewer_user):
    first = factories.router_trained()
    batch = factories.llmbar_live("certified", alpha=0.2, delta=0.1)
    batch_route(batch=batch)
    run = RoutingRun.objects.get(batch=batch)
    [cert] = run.certifications
    assert cert["threshold"] is not None and run.router_model == first
    second = router_train(seed=1)  # the retrain: v2 becomes the active router
    assert second.is_active and second.version == 2
    body = _panel(client, lead_user, batch)
    assert _attr(body, "data-run") == [str(run.pk)]
    assert _attr(body, "data-threshold") == [str(cert["threshold"])]
    assert _attr(body, "data-n-calibration") == [str(cert["n_calibration"])] == [str(first.n_calibration)]
    assert _attr(body, "data-calibration-errors") == [str(cert["calibration_errors"])]
    assert _attr(body, "data-bound") == [str(cert["bound"])]
    assert _attr(body, "data-batch-kept") == [str(cert["batch_items_kept"])]
    assert (_attr(body, "data-alpha"), _attr(body, "data-delta")) == (["0.2"], ["0.1"])
    assert "routed with router v1; v2 is active now — re-route to use it" in body


def test_routing_runs_panel_without_a_newer_router_has_no_note(db, client, lead_user, reviewer_user):
    factories.router_trained()
    batch = factories.llmbar_live("certified", alpha=0.2, delta=0.1)
    batch_route(batch=batch)
    body = _panel(client, lead_user, batch)
    assert len(_attr(body, "data-run")) == 1 and "is active now" not in body


def test_routing_runs_reroute_creates_a_new_run_and_older_decisions_keep_theirs(db, reviewer_user):
    batch = factories.batch("rr", items=[factories.pairwise_item(i) for i in range(6)], audit_rate=0.0).batch
    batch_route(batch=batch)
    old = RoutingRun.objects.get(batch=batch)
    reviewed = RoutingDecision.objects.filter(example__batch=batch).order_by("example__line_number").first()
    HumanLabel.objects.create(example=reviewed.example, source=HumanLabel.Source.REVIEW, choice=1)
    assert batch_reroute(batch=batch) == 5
    new = RoutingRun.objects.exclude(pk=old.pk).get(batch=batch)
    runs = batch_routing_runs(batch)
    assert [(r.pk, r.n_current) for r in runs] == [(new.pk, 5), (old.pk, 1)]
    assert RoutingDecision.objects.get(pk=reviewed.pk).run_id == old.pk
    assert (old.n_routed, new.n_routed) == (6, 5)


def test_run_router_note_only_for_a_learned_run_behind_the_active_router(db, reviewer_user):
    first = factories.router_trained()
    learned = factories.llmbar_live("certified", alpha=0.2, delta=0.1)
    batch_route(batch=learned)
    threshold = factories.batch("th", audit_rate=0.0).batch
    batch_route(batch=threshold)
    learned_run, threshold_run = RoutingRun.objects.get(batch=learned), RoutingRun.objects.get(batch=threshold)
    assert run_router_note(learned_run, first) == ""
    assert run_router_note(learned_run, None) == ""
    second = router_train(seed=1)
    assert run_router_note(learned_run, second) == "routed with router v1; v2 is active now — re-route to use it"
    assert run_router_note(threshold_run, second) == ""


def test_router_model_runs_reconcile_with_what_batches_keep(db, client, lead_user, reviewer_user):
    model = factories.router_trained()
    batch = factories.llmbar_live("certified", alpha=0.2, delta=0.1)
    batch_route(batch=batch)
    run = RoutingRun.objects.get(batch=batch)
    kept = RoutingDecision.objects.filter(example__batch=batch, route="judge").count()
    scored = RoutingDecision.objects.filter(example__batch=batch).exclude(threshold=None).count()
    rows = router_model_runs(model)
    assert [(r["batch"], r["mode"], r["group"], r["threshold"], r["kept"], r["scored"], r["n_current"])
            for r in rows] == [(batch, "certified", "0.2/0.1", run.certifications[0]["threshold"], kept, scored, 219)]
    assert router_model_runs(router_train(seed=1)) == []
    client.force_login(lead_user)
    body = client.get(reverse("routing:model") + f"?version={model.version}").content.decode()
    assert f'data-kept="{kept}" data-scored="{scored}"' in body


def test_routing_run_certification_per_risk_group_counts_its_own_items(db, reviewer_user):
    factories.router_trained()
    batch = factories.llmbar_live("certified", alpha=0.2, delta=0.1)
    Domain.objects.filter(path="mtbench/coding").update(alpha=0.3)
    batch_route(batch=batch)
    run = RoutingRun.objects.get(batch=batch)
    groups = {c["group"]: c for c in run.certifications}
    assert set(groups) == {"0.2/0.1", "0.3/0.1"}
    decisions = RoutingDecision.objects.filter(example__batch=batch).select_related("example__domain")
    coding = [d for d in decisions if d.example.domain.path == "mtbench/coding"]
    open_coding = [d for d in coding if d.reason.startswith(("router score", "nothing certified"))]
    assert groups["0.3/0.1"]["batch_items_scored"] == len(open_coding) > 0
    assert groups["0.3/0.1"]["batch_items_kept"] == sum(d.route == "judge" for d in coding)
    assert sum(c["batch_items_kept"] for c in run.certifications) == run.n_judge_kept
    assert (groups["0.3/0.1"]["alpha"], groups["0.2/0.1"]["alpha"]) == (0.3, 0.2)


def test_routing_run_admin_is_read_only(db, client, reviewer_user):
    batch = factories.batch("adm", audit_rate=0.0).batch
    batch_route(batch=batch)
    run = RoutingRun.objects.get(batch=batch)
    client.force_login(factories.admin())
    assert client.get(reverse("admin:routing_routingrun_changelist")).status_code == 200
    assert client.get(reverse("admin:routing_routingrun_change", args=[run.pk])).status_code == 200
    assert client.post(reverse("admin:routing_routingrun_change", args=[run.pk]), {"mode": "budget"}).status_code == 403
    assert client.get(reverse("admin:routing_routingrun_add")).status_code == 403
