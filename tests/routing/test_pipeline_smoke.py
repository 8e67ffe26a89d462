from routing.models import RoutingDecision
from routing.services.import_v1 import batch_import
from routing.services.pipeline import batch_route
from tests import factories


def test_pipeline_routes_real_llmbar_file_in_process(db, reviewer_user):
    result = batch_import(batch_name="llmbar", lines=factories.data_lines("llmbar.jsonl"))
    routed = batch_route(batch=result.batch)
    assert result.created == 619
    assert routed == 619
    assert RoutingDecision.objects.filter(example__batch=result.batch).count() == 619
