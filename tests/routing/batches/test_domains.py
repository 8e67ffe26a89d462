"""Domain-prefix coverage: one rule, in Python and as a filter, with the same answers."""

from __future__ import annotations

import pytest

from routing.batches.domains import path_covered, prefix_q
from routing.batches.models import Domain

PATHS = ["llmbar", "llmbar/natural", "llmbar/natural/x", "llmbarx", "mtbench/llmbar"]
CASES = [
    ("llmbar", {"llmbar", "llmbar/natural", "llmbar/natural/x"}),
    ("/llmbar/natural/", {"llmbar/natural", "llmbar/natural/x"}),
    ("llmbar/nat", set()),
    ("mtbench", {"mtbench/llmbar"}),
]


@pytest.mark.parametrize(("prefix", "covered"), CASES)
def test_domain_prefix_coverage_python_and_query_agree(db, prefix, covered):
    Domain.objects.bulk_create([Domain(path=p) for p in PATHS])
    assert {p for p in PATHS if path_covered(p, prefix)} == covered
    assert set(Domain.objects.filter(prefix_q(prefix, "path")).values_list("path", flat=True)) == covered
    assert {d.path for d in Domain.objects.all() if d.covered_by(prefix)} == covered
