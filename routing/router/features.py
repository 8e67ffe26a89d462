"""The router's features: ONE function (``features_of``) used by live routing and the backtest.

Both paths build (unsaved or stored) ``Judgment`` objects, compute the confidence signals with
``routing.services.signals.signals_from`` and pass a batch of ``ItemInput`` to ``features_of``, so
a backtest measures exactly the features the live router sees. The features are named
(``item_features`` spells them out for one item) and hashed into sparse columns (stateless, so
nothing about the vocabulary must be stored with a model). ``features_of`` computes the same
hashed matrix for a whole batch at once (``routing.router.vectorized``); a test pins the two equal.
Novelty (distance to the labeled history) depends on the training set: ``routing.router.model``.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from scipy import sparse
from sklearn.feature_extraction import FeatureHasher

from routing.models import Judgment
from routing.services.signals import Signals, signals_from

FEATURE_VERSION = 3
N_FEATURES = 2**15
N_TEXT_FEATURES = 2**16
# Long prompts would dominate the cost of scoring; the first characters carry the task type.
TEXT_CHARS = 400

_hasher = FeatureHasher(n_features=N_FEATURES, input_type="dict", alternate_sign=False)


@dataclass
class ItemInput:
    """What the router may look at for one example: never the human labels."""

    domain: str
    task: str
    prompt: str
    responses: Sequence[str]
    judgments: Sequence[Judgment]
    primary_judge: str
    flagged: bool = False
    signals: Signals = field(init=False)
    primary: list[Judgment] = field(init=False)

    def __post_init__(self) -> None:
        self.primary = [j for j in self.judgments if j.judge == self.primary_judge]
        self.signals = signals_from(self.primary, self.task)


def judge_verdict(item: ItemInput) -> int | None:
    """The primary judge's majority verdict; None when it has no usable, untied verdict."""
    s = item.signals
    if s.n_usable == 0 or s.tied:
        return None
    return s.verdict


def _scale(length: int) -> float:
    return math.log1p(length) / 10.0


def _signal_features(s: Signals, out: dict[str, float]) -> None:
    out["vote_share"] = s.vote_share or 0.0
    out["n_usable"] = _scale(s.n_usable)
    out["single_vote"] = float(s.n_usable == 1)
    out["parse_fail_share"] = s.parse_failures / s.n_votes if s.n_votes else 1.0
    out["position_biased"] = float(s.position_biased)
    if s.order_consistency is None:
        out["order_consistency_missing"] = 1.0
    else:
        out["order_consistency"] = s.order_consistency
    if s.mean_probability is None:
        out["probability_missing"] = 1.0
    else:
        out["mean_probability"] = s.mean_probability
    out[f"verdict={s.verdict}"] = 1.0


def _variant_features(primary: Sequence[Judgment], verdict: int | None, out: dict[str, float]) -> None:
    """Per prompt variant: the share of its votes that agree with the majority verdict."""
    by_variant: dict[str, list[int]] = defaultdict(list)
    margins = []
    for j in primary:
        if j.usable and j.choice is not None:
            by_variant[j.variant].append(int(j.choice == verdict))
        if j.scores and len(j.scores) == 2:
            margins.append(abs(float(j.scores[0]) - float(j.scores[1])))
    for variant, agree in by_variant.items():
        out[f"variant_agree={variant}"] = sum(agree) / len(agree)
    if margins:
        out["score_margin"] = min(sum(margins) / len(margins), 10.0) / 10.0


def _other_judge_features(item: ItemInput, verdict: int | None, out: dict[str, float]) -> None:
    """Whether the other judges' majority verdicts agree with the primary judge's."""
    by_judge: dict[str, list[int]] = defaultdict(list)
    for j in item.judgments:
        if j.judge != item.primary_judge and j.usable and j.choice is not None:
            by_judge[j.judge].append(int(j.choice))
    agree = []
    for judge, choices in by_judge.items():
        top = Counter(choices).most_common(1)[0][0]
        agree.append(float(top == verdict))
        out[f"judge_agree={judge}"] = agree[-1]
        out[f"judge_disagree={judge}"] = 1.0 - agree[-1]
    if agree:
        out["other_judges_agree"] = sum(agree) / len(agree)


def _text_features(item: ItemInput, verdict: int | None, out: dict[str, float]) -> None:
    lengths = [len(r) for r in item.responses]
    out["prompt_len"] = _scale(len(item.prompt))
    for i, n in enumerate(lengths):
        out[f"response{i + 1}_len"] = _scale(n)
    if len(lengths) == 2:
        short, long_ = sorted(lengths)
        out["length_ratio"] = (short + 1) / (long_ + 1)
        if verdict in (1, 2) and short != long_:
            # LLM judges prefer longer answers; humans often do not.
            out["chose_longer"] = float(lengths[verdict - 1] == long_)


def item_features(item: ItemInput) -> dict[str, float]:
    """The router's named features of one example (see the module docstring)."""
    out: dict[str, float] = {"bias": 1.0, f"task={item.task}": 1.0, "flagged": float(item.flagged)}
    parts = item.domain.strip("/").split("/")
    out[f"domain={item.domain}"] = 1.0
    out[f"domain0={parts[0]}"] = 1.0
    verdict = judge_verdict(item)
    _signal_features(item.signals, out)
    _variant_features(item.primary, verdict, out)
    _other_judge_features(item, verdict, out)
    _text_features(item, verdict, out)
    return out


def features_matrix(rows: Sequence[dict[str, float]]) -> sparse.csr_matrix:
    """Hash named feature dicts into columns: ``vectorized.hashed_features`` equals this."""
    return _hasher.transform(rows).tocsr()


def feature_spec() -> dict[str, object]:
    """Stored with every model so a later feature change is detectable."""
    return {
        "version": FEATURE_VERSION,
        "n_features": N_FEATURES,
        "n_text_features": N_TEXT_FEATURES,
        "text_chars": TEXT_CHARS,
        "groups": ["signals", "variants", "other_judges", "domain", "text", "ngrams", "novelty", "flags"],
    }
