from reviewers.models import HumanLabel
from routing.models import RoutingDecision, RoutingRun
from routing.selectors import batch_routing_runs
from routing.services.pipeline import batch_route
from routing.services.route import batch_reroute
from tests import factories


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
