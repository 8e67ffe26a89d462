"""The import's one-pass test of plain lines against the full rules: it never passes a line the
rules refuse, it passes the common lines (else the hot path is never taken), and a valid line it
does not pass still imports through the full rules."""

import json
import random

from routing.ingest.import_json import line_parse, quick_item
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
    lines = [_line(rng) for _ in range(3000)]
    items = [(line, item) for line in lines if (item := quick_item(line)) is not None]
    refused = [item for _, item in items if validate_item(item, storable=True)]
    assert len(refused) > 1500  # most mutated lines parse fast and so reach the check
    assert [item for item in refused if plain(item)] == []


def _number(rng):
    """Mostly ordinary numbers; else one at or past what orjson reads as the exact parse does."""
    if rng.random() < 0.75:
        return rng.choice([rng.randrange(-10**6, 10**6), rng.uniform(-1, 1)])
    return rng.choice([2**63 - 1, -(2**63), 2**64 + 1, 10**20, 9.3e18, 2.0**63, 1e300, 10**30])


def test_plain_check_passes_only_what_the_exact_parse_reads_the_same_way():
    rng = random.Random(20261204)
    plain = plain_check(current_limits())
    items = [factories.pairwise_item(i, metadata={"n": _number(rng), "m": _number(rng)}, judgments=[
        {"judge": "j", "choice": 1, "scores": [_number(rng), _number(rng)]}]) for i in range(1000)]
    lines = [json.dumps(item) for item in items]
    passed = [line for line in lines if (quick := quick_item(line)) is not None and plain(quick)]
    assert 200 < len(passed) < 800
    assert [line for line in passed if line_parse(line) != (quick_item(line), None)] == []
    assert [line for line in passed if validate_item(quick_item(line))] == []


def test_plain_check_leaves_what_orjson_may_read_differently_to_the_exact_parse(settings):
    plain = plain_check(current_limits())
    huge = [factories.pairwise_item(1, metadata={"n": 2.0**63}),
            factories.pairwise_item(2, judgments=[{"judge": "j", "choice": 1, "scores": [-(2.0**63)]}]),
            factories.pairwise_item(3, judgments=[{"judge": "j", "choice": 1, "scores": [2.0**62, 1e18]}])]
    assert [plain(item) for item in huge] == [False, False, True]
    # A file limit shallower than a judgment's scores: the walk decides (its depth, 2, passes at 3).
    shallow = factories.pairwise_item(4, judgments=[{"judge": "j", "choice": 1, "scores": [1]}])
    settings.IMPORT_MAX_DEPTH = 2
    assert plain_check(current_limits())(shallow) is False
    settings.IMPORT_MAX_DEPTH = 3
    assert plain_check(current_limits())(shallow) is True


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
