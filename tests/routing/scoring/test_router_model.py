import math
import re
from collections import Counter

import numpy as np
import pytest
import skops.io as sio
from scipy import sparse
from sklearn.feature_extraction import FeatureHasher
from sklearn.preprocessing import normalize

from hybridqc.flows.imports import batch_import
from routing.batches.models import Example
from routing.batches.selectors import example_references
from routing.judging.models import Judgment
from routing.scoring.model import NoveltyIndex, UntrustedModelError, router_dumps, router_fit, router_loads
from routing.scoring.selectors import example_inputs
from routing.scoring.vectorized import ItemInput, features_of, prompt_vectors
from routing.training.backtest import labeled_items
from tests import factories


def _same(a: sparse.csr_matrix, b: sparse.csr_matrix) -> bool:
    """Bit-identical sparse matrices: shape, structure and every stored value."""
    return (a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a.indptr, b.indptr)
            and np.array_equal(a.indices, b.indices) and np.array_equal(a.data, b.data))


def test_router_features_identical_between_backtest_and_live_path(db):
    lines = factories.data_lines("llmbar.jsonl", 40) + factories.data_lines("pandalm.jsonl", 20)
    file_items, tied = labeled_items(lines)
    batch = batch_import(batch_name="parity", lines=lines).batch
    examples = list(Example.objects.filter(batch=batch).select_related("domain", "batch").order_by("line_number"))
    inputs = example_inputs(examples)
    assert tied == 0
    assert len(file_items) == len(inputs) == 60
    file_rows, live_rows = features_of([it.item for it in file_items]), features_of(inputs)
    assert file_rows.hashed.shape == (60, 2**15) and file_rows.vectors.shape == (60, 2**16)
    assert _same(file_rows.hashed, live_rows.hashed)
    assert _same(file_rows.vectors, live_rows.vectors)
    references = example_references(examples)
    assert [references[e.pk] for e in examples] == [it.reference for it in file_items]


def _judgment(judge: str, variant: str = "v", order: str = "ab", **fields) -> Judgment:
    error = "" if fields.get("choice") is not None or fields.get("rating") is not None else "no usable verdict"
    return Judgment(judge=judge, variant=variant, order=order, error=fields.pop("error", error), **fields)


def _edge_items() -> list[ItemInput]:
    """Items exercising every feature branch: scores, errors, other judges (with a tie), ratings,
    probabilities, one or three responses, a tied primary vote, no judgments at all."""
    j = _judgment
    return [
        ItemInput(domain="a/b/c", task="pairwise", prompt="Write  a POEM: İstanbul\u212a x_y 42",
                  responses=["s", "longer"],
                  judgments=[j("p", choice=1, scores=[7, 3], probability=0.9),
                             j("p", order="ba", choice=1, scores=[2, 2.5]),
                             j("p", "w", choice=2, probability=0.6), j("p", "w", order="ba", choice=None),
                             j("o", choice=2), j("o", order="ba", choice=1), j("q", choice=1, error="timeout")],
                  primary_judge="p", flagged=True),
        ItemInput(domain="solo", task="pairwise", prompt="", responses=["one", "two", "three"],
                  judgments=[j("p", choice=1), j("p", order="ba", choice=2), j("o", choice=2), j("o", choice=2)],
                  primary_judge="p"),
        ItemInput(domain="r/x", task="rating", prompt="Rate it " * 80, responses=["only"],
                  judgments=[j("p", rating=4.0), j("p", order="ba", rating=5.0, probability=0.4)], primary_judge="p"),
        ItemInput(domain="e", task="pairwise", prompt="\ud800 déjà vu", responses=["same", "same"],
                  judgments=[], primary_judge="p"),
    ]


def _len(n: int) -> float:
    return math.log1p(n) / 10


# The named features of ``_edge_items()``, by hand (zero values are not stored).
EDGE_FEATURES = [
    # primary p: 3 usable votes of 4 (1, 1, 2), probabilities 0.9 and 0.6; variant v agrees in both
    # orders, variant w's one vote disagrees (0); margins 4 and 0.5; judge o splits 2/1 (first
    # seen, 2, wins the tie) so disagrees; q only errs.
    {"bias": 1.0, "task=pairwise": 1.0, "flagged": 1.0, "domain=a/b/c": 1.0, "domain0=a": 1.0,
     "vote_share": 2 / 3, "n_usable": _len(3), "parse_fail_share": 0.25, "order_consistency": 1.0,
     "mean_probability": 0.75, "verdict=1": 1.0, "variant_agree=v": 1.0, "score_margin": 0.225,
     "judge_disagree=o": 1.0, "prompt_len": _len(31), "response1_len": _len(1), "response2_len": _len(6),
     "length_ratio": 2 / 7},
    # a tied primary vote (no verdict), flipping with the order; judge o cannot agree with no verdict
    {"bias": 1.0, "task=pairwise": 1.0, "domain=solo": 1.0, "domain0=solo": 1.0, "vote_share": 0.5,
     "n_usable": _len(2), "position_biased": 1.0, "probability_missing": 1.0, "verdict=None": 1.0,
     "judge_disagree=o": 1.0, "response1_len": _len(3), "response2_len": _len(3), "response3_len": _len(5)},
    # a rating: both ratings within half a point of the median 4.5
    {"bias": 1.0, "task=rating": 1.0, "domain=r/x": 1.0, "domain0=r": 1.0, "vote_share": 1.0,
     "n_usable": _len(2), "order_consistency_missing": 1.0, "mean_probability": 0.4, "verdict=None": 1.0,
     "prompt_len": _len(640), "response1_len": _len(4)},
    # no judgments at all
    {"bias": 1.0, "task=pairwise": 1.0, "domain=e": 1.0, "domain0=e": 1.0, "parse_fail_share": 1.0,
     "order_consistency_missing": 1.0, "probability_missing": 1.0, "verdict=None": 1.0, "prompt_len": _len(9),
     "response1_len": _len(4), "response2_len": _len(4), "length_ratio": 1.0},
]


def test_router_hashed_features_match_hand_computed_values():
    hasher = FeatureHasher(n_features=2**15, input_type="dict", alternate_sign=False)
    assert _same(features_of(_edge_items()).hashed, hasher.transform(EDGE_FEATURES).tocsr())


def test_router_prompt_vectors_equal_hashed_regex_words():
    prompts = [it.prompt for it in _edge_items()] + ["The the THE 3rd-place winner, " * 30]
    hasher = FeatureHasher(n_features=2**16, input_type="string", alternate_sign=False, dtype=np.float32)
    words = [set(re.findall(r"[a-z0-9]+", p[:400].lower())) for p in prompts]
    assert _same(prompt_vectors(prompts), normalize(hasher.transform(words).tocsr()))
    assert prompt_vectors(prompts)[3].nnz == 3  # "d", "j", "vu": accented letters split words


def test_router_novelty_index_matches_nearest_cosine():
    vectors = prompt_vectors([f"task {i % 7} about topic {i % 5} number {i}" for i in range(60)])
    ref_rows = np.arange(0, 60, 3)
    exclude = np.full(60, -1)
    exclude[ref_rows] = np.arange(ref_rows.size)
    sims = (vectors @ vectors[ref_rows].T).toarray()
    sims[ref_rows, np.arange(ref_rows.size)] = 0.0
    got = NoveltyIndex(vectors[ref_rows]).novelty(vectors, exclude)
    assert np.allclose(got, np.clip(1.0 - sims.max(axis=1), 0, 1), rtol=0, atol=1e-6)
    assert NoveltyIndex(vectors[:0]).novelty(vectors).tolist() == [1.0] * 60


def _fitted():
    items, _ = labeled_items(factories.data_lines("llmbar.jsonl", 200))
    items = [i for i in items if i.verdict is not None]
    return router_fit([i.item for i in items], [i.agree for i in items], seed=0), [i.item for i in items]


def test_router_skops_round_trip_gives_identical_probabilities():
    router, items = _fitted()
    loaded = router_loads(router_dumps(router))
    before, after = router.predict(items), loaded.predict(items)
    assert before.shape == (len(items),)
    assert np.array_equal(before, after)
    assert 0.0 < before.min() < before.max() < 1.0


def test_router_load_refuses_unexpected_types():
    blob = sio.dumps({"classifier": Counter("abc"), "novelty_ref": None, "columns": None})
    with pytest.raises(UntrustedModelError, match="collections.Counter"):
        router_loads(blob)


def test_router_linear_form_gives_sklearn_probabilities_exactly():
    router, items = _fitted()
    assert router.linear is not None
    rows = features_of(items)
    design = sparse.hstack([rows.hashed, rows.vectors, sparse.csr_matrix(router.index.novelty(rows.vectors)[:, None])],
                           format="csr")
    expected = router.classifier.predict_proba(design[:, router.columns])[:, 1]
    assert np.array_equal(router.predict(items), expected)
