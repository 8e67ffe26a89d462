from collections import Counter

import numpy as np
import pytest
import skops.io as sio

from routing.models import Example
from routing.router.backtest import labeled_items
from routing.router.features import item_features
from routing.router.model import UntrustedModelError, router_dumps, router_fit, router_loads
from routing.selectors import example_inputs, example_references
from routing.services.import_v1 import batch_import
from tests import factories


def test_router_features_identical_between_backtest_and_live_path(db):
    lines = factories.data_lines("llmbar.jsonl", 40) + factories.data_lines("pandalm.jsonl", 20)
    file_items, tied = labeled_items(lines)
    batch = batch_import(batch_name="parity", lines=lines).batch
    examples = list(Example.objects.filter(batch=batch).select_related("domain", "batch").order_by("line_number"))
    live = [item_features(i) for i in example_inputs(examples)]
    assert tied == 0
    assert len(file_items) == len(live) == 60
    for file_item, live_features in zip(file_items, live, strict=True):
        assert file_item.features == live_features
    references = example_references(examples)
    assert [references[e.pk] for e in examples] == [it.reference for it in file_items]


def _fitted():
    items, _ = labeled_items(factories.data_lines("llmbar.jsonl", 200))
    items = [i for i in items if i.verdict is not None]
    rows, prompts = [i.features for i in items], [i.item.prompt for i in items]
    return router_fit(rows, prompts, [i.agree for i in items], seed=0), rows, prompts


def test_router_skops_round_trip_gives_identical_probabilities():
    router, rows, prompts = _fitted()
    loaded = router_loads(router_dumps(router))
    before, after = router.predict(rows, prompts), loaded.predict(rows, prompts)
    assert before.shape == (len(rows),)
    assert np.array_equal(before, after)
    assert 0.0 < before.min() < before.max() < 1.0


def test_router_load_refuses_unexpected_types():
    blob = sio.dumps({"classifier": Counter("abc"), "novelty_ref": None, "columns": None})
    with pytest.raises(UntrustedModelError, match="collections.Counter"):
        router_loads(blob)
