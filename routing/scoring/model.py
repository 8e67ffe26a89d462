"""Train, score, save and load the routing model: P(judge verdict == human reference).

A logistic regression on the hashed features of ``routing.scoring.vectorized`` plus one novelty
column (cosine distance of the prompt to the nearest labeled prompt), with sigmoid-calibrated
probabilities (cross-validated). Saved with skops, never pickle; loading checks that every type
in the blob is one we expect before anything is constructed. A ``Router`` derives its scoring
state once (``NoveltyIndex``, ``LinearForm``); ``routing.decisions.route.router_of`` keeps loaded
routers per process, so live scoring is feature building plus two sparse-dense products.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import skops.io as sio
from scipy import sparse
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression

from routing.scoring.vectorized import N_FEATURES, N_TEXT_FEATURES, ItemInput, features_of

# A sample of the labeled prompts is enough to tell familiar from novel, and keeps scoring fast.
NOVELTY_REFERENCE_MAX = 500
NOVELTY_CHUNK = 4096
# Items scored per step: bounds memory on huge batches, large enough for numpy's batching gains.
PREDICT_CHUNK = 4096
CALIBRATION_FOLDS = 3
C = 1.0
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


class UntrustedModelError(ValueError):
    """A stored model blob contains a type the router does not expect."""


class NoveltyIndex:
    """Nearest-reference cosine similarity, prepared once per reference set (a loaded model keeps
    its own): only the reference prompts' word columns can contribute, so the references become a
    small dense (columns x references) matrix and each chunk is one sparse-dense product."""

    def __init__(self, ref: sparse.csr_matrix) -> None:
        self.n_ref = ref.shape[0]
        self.columns = np.unique(ref.indices)
        self.position = np.full(ref.shape[1], -1, dtype=np.int64)
        self.position[self.columns] = np.arange(self.columns.size)
        self.dense = np.ascontiguousarray(ref[:, self.columns].toarray().T)

    def novelty(self, vectors: sparse.csr_matrix, exclude: np.ndarray | None = None) -> np.ndarray:
        """1 - cosine similarity to the nearest reference prompt; ``exclude[i]`` is the reference
        index of row i itself (leave-one-out on training rows) or -1."""
        out = np.ones(vectors.shape[0], dtype=np.float64)
        if self.n_ref == 0:
            return out
        for start in range(0, vectors.shape[0], NOVELTY_CHUNK):
            sims = self._similarities(vectors[start : start + NOVELTY_CHUNK])
            if exclude is not None:
                own = exclude[start : start + NOVELTY_CHUNK]
                mask = own >= 0
                sims[np.flatnonzero(mask), own[mask]] = 0.0
            out[start : start + sims.shape[0]] = 1.0 - sims.max(axis=1)
        return np.clip(out, 0.0, 1.0)

    def _similarities(self, chunk: sparse.csr_matrix) -> np.ndarray:
        pos = self.position[chunk.indices]
        keep = pos >= 0
        row_of = np.repeat(np.arange(chunk.shape[0]), np.diff(chunk.indptr))
        sub = sparse.csr_matrix((chunk.data[keep], (row_of[keep], pos[keep])),
                                shape=(chunk.shape[0], self.columns.size))
        return np.asarray(sub @ self.dense)


class LinearForm:
    """The calibrated classifier's ``predict_proba(X[:, columns])[:, 1]`` as plain numpy on the
    full design: each fold's logistic regression and sigmoid calibrator, with the fold weights
    spread over all columns (zero where unused), so one sparse-dense product scores every fold
    without sklearn's per-call validation or the column selection. The sums run in the same
    order as sklearn's (the extra terms are exact zeros), so the probabilities are identical."""

    def __init__(self, classifier: CalibratedClassifierCV, columns: np.ndarray, width: int) -> None:
        folds = classifier.calibrated_classifiers_
        self.weights = np.zeros((width, len(folds)))
        self.weights[columns] = np.column_stack([f.estimator.coef_[0] for f in folds])
        self.intercept = np.array([f.estimator.intercept_[0] for f in folds])
        self.a = [f.calibrators[0].a_ for f in folds]
        self.b = [f.calibrators[0].b_ for f in folds]

    @staticmethod
    def applies(classifier: CalibratedClassifierCV) -> bool:
        """Whether the classifier has the shape this form reproduces (binary, sigmoid, logistic)."""
        folds = getattr(classifier, "calibrated_classifiers_", [])
        return (classifier.method == "sigmoid" and len(classifier.classes_) == 2 and bool(folds)
                and all(isinstance(f.estimator, LogisticRegression) and len(f.calibrators) == 1 for f in folds))

    def proba(self, design: sparse.csr_matrix) -> np.ndarray:
        decision = np.asarray(design @ self.weights) + self.intercept
        mean = np.zeros(design.shape[0])
        for k in range(decision.shape[1]):
            mean += expit(-(self.a[k] * decision[:, k] + self.b[k]))
        return mean / decision.shape[1]


@dataclass
class Router:
    """A fitted routing model: the calibrated classifier and the novelty reference prompts."""

    classifier: CalibratedClassifierCV
    novelty_ref: sparse.csr_matrix
    columns: np.ndarray
    text: bool = True  # whether the prompt's words (and novelty) are features
    index: NoveltyIndex = field(init=False, repr=False)
    linear: LinearForm | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.index = NoveltyIndex(self.novelty_ref)
        width = N_FEATURES + N_TEXT_FEATURES + 1
        self.linear = LinearForm(self.classifier, self.columns, width) if LinearForm.applies(self.classifier) else None

    def predict(self, items: Sequence[ItemInput]) -> np.ndarray:
        """P(judge agrees with the human reference) for each item, PREDICT_CHUNK items at a time."""
        out = np.empty(len(items), dtype=np.float64)
        for start in range(0, len(items), PREDICT_CHUNK):
            rows = features_of(items[start : start + PREDICT_CHUNK])
            out[start : start + PREDICT_CHUNK] = self.predict_matrices(rows.hashed, rows.vectors)
        return out

    def predict_matrices(self, hashed: sparse.csr_matrix, vectors: sparse.csr_matrix) -> np.ndarray:
        """``predict`` on rows already built by ``features_of``."""
        vectors = vectors if self.text else _no_text(vectors)
        design = _design(hashed, vectors, self.index.novelty(vectors))
        if self.linear is not None:
            return self.linear.proba(design)
        return self.classifier.predict_proba(design[:, self.columns])[:, 1]


def _no_text(vectors: sparse.csr_matrix) -> sparse.csr_matrix:
    """The word vectors of a router without text features: all zero (novelty is then constant)."""
    return sparse.csr_matrix(vectors.shape, dtype=vectors.dtype)


def _design(hashed: sparse.csr_matrix, vectors: sparse.csr_matrix, novelty: np.ndarray) -> sparse.csr_matrix:
    return sparse.hstack([hashed, vectors, sparse.csr_matrix(novelty[:, None])], format="csr")


def router_fit(items: Sequence[ItemInput], agree: Sequence[int], *, seed: int = 0, c: float = C,
               text: bool = True) -> Router:
    """Fit the router on labeled items; ``agree[i]`` is 1 where the judge matched the reference."""
    rows = features_of(items)
    return router_fit_matrices(rows.hashed, rows.vectors, agree, seed=seed, c=c, text=text)


def router_fit_matrices(
    hashed: sparse.csr_matrix, vectors: sparse.csr_matrix, agree: Sequence[int] | np.ndarray, *,
    seed: int = 0, c: float = C, text: bool = True,
) -> Router:
    """``router_fit`` on rows already built by ``features_of`` (the backtest builds each item once)."""
    y = np.asarray(agree, dtype=int)
    if y.size == 0 or y.min() == y.max():
        raise ValueError("training needs both judge agreements and disagreements")
    rng = np.random.default_rng(seed)
    vectors = vectors if text else _no_text(vectors)
    n = vectors.shape[0]
    ref_idx = np.sort(rng.choice(n, min(NOVELTY_REFERENCE_MAX, n), replace=False))
    exclude = np.full(n, -1)
    exclude[ref_idx] = np.arange(ref_idx.size)
    ref = vectors[ref_idx]
    novelty = NoveltyIndex(ref).novelty(vectors, exclude)
    folds = max(2, min(CALIBRATION_FOLDS, int(np.bincount(y).min())))
    base = LogisticRegression(C=c, solver="liblinear", max_iter=200)
    classifier = CalibratedClassifierCV(base, method="sigmoid", cv=folds)
    design = _design(hashed, vectors, novelty)
    # Only hashed columns seen in training carry weight; dropping the rest makes fitting fast.
    columns = np.flatnonzero(design.getnnz(axis=0))
    classifier.fit(design[:, columns], y)
    return Router(classifier=classifier, novelty_ref=ref, columns=columns, text=text)


def router_dumps(router: Router) -> bytes:
    """skops bytes of a fitted router."""
    return sio.dumps({"classifier": router.classifier, "novelty_ref": router.novelty_ref, "columns": router.columns,
                      "text": router.text})


def router_loads(blob: bytes) -> Router:
    """Load a router from skops bytes, refusing any type outside TRUSTED_TYPES."""
    untrusted = sio.get_untrusted_types(data=blob)
    unexpected = sorted(set(untrusted) - TRUSTED_TYPES)
    if unexpected:
        raise UntrustedModelError(f"router blob contains unexpected types: {', '.join(unexpected)}")
    data: dict[str, Any] = sio.loads(blob, trusted=list(untrusted))
    return Router(classifier=data["classifier"], novelty_ref=data["novelty_ref"], columns=data["columns"],
                  text=bool(data.get("text", True)))
