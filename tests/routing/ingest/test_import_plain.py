"""The import's one-pass test of plain lines against the full rules: it never passes a line the
rules refuse, it passes the common lines (else the hot path is never taken), and a valid line it
does not pass still imports through the full rules."""

import json
import random

from routing.ingest.import_json import fast_item
from routing.ingest.import_plain import plain_check
from routing.ingest.import_rules import current_limits, validate_item
from routing.ingest.import_v1 import parse_lines
from tests import factories
from tests.routing.ingest.test_import_fuzz import _line


def test_plain_check_passes_common_pairwise_and_rating_items(settings):
    plain = plain_check(current_limits())
    bench_like = factories.pairwise_item(1, metadata={"source": "bench", "n": 1}, judgments=[
        {"judge": "judge-0", "variant": "v0", "order": "ab", "choice": 2, "probability": 0.25, "scores": [1, 0.5]},
        {"judge": "judge-1", "variant": "v0", "order": "ba", "choice": None, "rationale": "close"},
    ])
    items = [factories.pairwise_item(0), factories.rating_item(0), bench_like]
    assert [plain(item) for item in items] == [True, True, True]


def test_plain_check_never_passes_a_line_the_rules_refuse():
    rng = random.Random(20261201)
    plain = plain_check(current_limits())
    items = [item for _ in range(3000) if (item := fast_item(_line(rng), current_limits().depth)) is not None]
    refused = [item for item in items if validate_item(item, storable=True)]
    assert len(refused) > 1500  # most mutated lines parse fast and so reach the check
    assert [item for item in refused if plain(item)] == []


def test_plain_check_leaves_unusual_valid_lines_to_the_full_rules():
    plain = plain_check(current_limits())
    unusual = [
        factories.pairwise_item(1, judgments=[{"judge": "j", "choice": 1.0}]),  # a whole float for a choice
        factories.pairwise_item(2, metadata={"tags": ["a", "b"]}),  # nested metadata
        factories.rating_item(3, judgments=[{"judge": "j", "rating": 7.5}], human_labels=[{"annotator": "a",
                                                                                          "rating": 2}]),
    ]
    parsed = parse_lines([json.dumps(item) for item in unusual])
    assert [plain(item) for item in unusual] == [False, False, True]
    assert [(number, item["id"]) for number, item in parsed] == [(1, "item-1"), (2, "item-2"), (3, "rating-3")]
