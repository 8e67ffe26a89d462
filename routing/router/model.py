"""Train, score, save and load the routing model: P(judge verdict == human reference).

A logistic regression on the hashed features of ``routing.router.features`` plus one novelty
column (cosine distance of the prompt to the nearest labeled prompt), with sigmoid-calibrated
probabilities (cross-validated). Saved with skops, never pickle; loading checks that every type
in the blob is one we expect before anything is constructed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import skops.io as sio
from scipy import sparse
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression

from .features import features_matrix, prompt_vectors

# A sample of the labeled prompts is enough to tell familiar from novel, and keeps scoring fast.
NOVELTY_REFERENCE_MAX = 500
NOVELTY_CHUNK = 4096
CALIBRATION_FOLDS = 3
C = 1.0
SCORE_MODEL_WEIGHT = 0.5
# Types a router blob may contain besides builtins/numpy/scipy handled by skops itself.
TRUSTED_TYPES = {
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.frozen._frozen.FrozenEstimator",
    "scipy.sparse._csr.csr_matrix",
    "scipy.sparse._csr.csr_array",
    "numpy.float32",
    "numpy.float64",
    "numpy.int64",
    "numpy.dtype",
    "builtins.slice",
}


def routing_score(probability: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """The score thresholds are certified on: the model's probability averaged with the judge's
    own confidence. With a few hundred labels the model alone is unstable from one training
    draw to the next; anchoring it to the vote share keeps its ranking sane (NaN = no verdict)."""
    return SCORE_MODEL_WEIGHT * np.asarray(probability) + (1 - SCORE_MODEL_WEIGHT) * np.asarray(confidence)


class UntrustedModelError(ValueError):
    """A stored model blob contains a type the router does not expect."""


@dataclass
class Router:
    """A fitted routing model: the calibrated classifier and the novelty reference prompts."""

    classifier: CalibratedClassifierCV
    novelty_ref: sparse.csr_matrix
    columns: np.ndarray

    def predict(self, rows: Sequence[dict[str, float]], prompts: Sequence[str]) -> np.ndarray:
        """P(judge agrees with the human reference) for each row."""
        return self.predict_matrices(features_matrix(rows), prompt_vectors(prompts))

    def predict_matrices(self, hashed: sparse.csr_matrix, vectors: sparse.csr_matrix) -> np.ndarray:
        """``predict`` on rows already hashed (``features_matrix``, ``prompt_vectors``)."""
        design = _design(hashed, vectors, novelty_of(vectors, self.novelty_ref))
        return self.classifier.predict_proba(design[:, self.columns])[:, 1]


def novelty_of(vectors: sparse.csr_matrix, ref: sparse.csr_matrix, exclude: np.ndarray | None = None) -> np.ndarray:
    """1 - cosine similarity to the nearest reference prompt; ``exclude[i]`` is the reference
    index of row i itself (leave-one-out on training rows) or -1."""
    out = np.ones(vectors.shape[0], dtype=np.float64)
    if ref.shape[0] == 0:
        return out
    for start in range(0, vectors.shape[0], NOVELTY_CHUNK):
        sims = (vectors[start : start + NOVELTY_CHUNK] @ ref.T).toarray()
        if exclude is not None:
            rows = np.arange(sims.shape[0])
            own = exclude[start : start + NOVELTY_CHUNK]
            mask = own >= 0
            sims[rows[mask], own[mask]] = 0.0
        out[start : start + sims.shape[0]] = 1.0 - sims.max(axis=1)
    return np.clip(out, 0.0, 1.0)


def _design(hashed: sparse.csr_matrix, vectors: sparse.csr_matrix, novelty: np.ndarray) -> sparse.csr_matrix:
    return sparse.hstack([hashed, vectors, sparse.csr_matrix(novelty[:, None])], format="csr")


def router_fit(
    rows: Sequence[dict[str, float]], prompts: Sequence[str], agree: Sequence[int], *, seed: int = 0, c: float = C
) -> Router:
    """Fit the router on labeled rows; ``agree[i]`` is 1 where the judge matched the reference."""
    return router_fit_matrices(features_matrix(rows), prompt_vectors(prompts), agree, seed=seed, c=c)


def router_fit_matrices(
    hashed: sparse.csr_matrix, vectors: sparse.csr_matrix, agree: Sequence[int], *, seed: int = 0, c: float = C
) -> Router:
    """``router_fit`` on rows already hashed (the backtest hashes each item once)."""
    y = np.asarray(agree, dtype=int)
    if y.size == 0 or y.min() == y.max():
        raise ValueError("training needs both judge agreements and disagreements")
    rng = np.random.default_rng(seed)
    n = vectors.shape[0]
    ref_idx = np.sort(rng.choice(n, min(NOVELTY_REFERENCE_MAX, n), replace=False))
    exclude = np.full(n, -1)
    exclude[ref_idx] = np.arange(ref_idx.size)
    ref = vectors[ref_idx]
    novelty = novelty_of(vectors, ref, exclude)
    folds = max(2, min(CALIBRATION_FOLDS, int(np.bincount(y).min())))
    base = LogisticRegression(C=c, solver="liblinear", max_iter=200)
    classifier = CalibratedClassifierCV(base, method="sigmoid", cv=folds)
    design = _design(hashed, vectors, novelty)
    # Only hashed columns seen in training carry weight; dropping the rest makes fitting fast.
    columns = np.flatnonzero(design.getnnz(axis=0))
    classifier.fit(design[:, columns], y)
    return Router(classifier=classifier, novelty_ref=ref, columns=columns)


def router_dumps(router: Router) -> bytes:
    """skops bytes of a fitted router."""
    return sio.dumps({"classifier": router.classifier, "novelty_ref": router.novelty_ref, "columns": router.columns})


def router_loads(blob: bytes) -> Router:
    """Load a router from skops bytes, refusing any type outside TRUSTED_TYPES."""
    untrusted = sio.get_untrusted_types(data=blob)
    unexpected = sorted(set(untrusted) - TRUSTED_TYPES)
    if unexpected:
        raise UntrustedModelError(f"router blob contains unexpected types: {', '.join(unexpected)}")
    data: dict[str, Any] = sio.loads(blob, trusted=list(untrusted))
    return Router(classifier=data["classifier"], novelty_ref=data["novelty_ref"], columns=data["columns"])
