"""``features_of``: the router's features for a batch of items at once, as sparse matrices.

The ONE feature function of the router: live routing, training and the backtest all build
(unsaved or stored) ``Judgment`` objects, compute the confidence signals with
``routing.judging.signals.signals_from`` (``ItemInput``) and pass a batch of them here, so a
backtest measures exactly the features the live router sees. The features are named (a test
spells them out for a few items) and hashed into sparse columns (stateless, so nothing about the
vocabulary must be stored with a model), computed column-wise with numpy instead of one Python
dict per item: scoring speed is dominated by feature building. Feature names are hashed like
sklearn's ``FeatureHasher`` (signed murmurhash3 of the UTF-8 name, seed 0, ``abs(h) % n``) so
that models trained before this module existed keep reading the same columns. Novelty (distance
to the labeled history) depends on the training set: ``routing.scoring.model``.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain
from operator import attrgetter, itemgetter

import numpy as np
from scipy import sparse
from sklearn.preprocessing import normalize
from sklearn.utils import murmurhash3_32

from routing.judging.models import Judgment
from routing.judging.signals import Signals, signals_from

FEATURE_VERSION = 3
N_FEATURES = 2**15
N_TEXT_FEATURES = 2**16
# Long prompts would dominate the cost of scoring; the first characters carry the task type.
TEXT_CHARS = 400


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


def feature_spec() -> dict[str, object]:
    """Stored with every model so a later feature change is detectable."""
    return {
        "version": FEATURE_VERSION,
        "n_features": N_FEATURES,
        "n_text_features": N_TEXT_FEATURES,
        "text_chars": TEXT_CHARS,
        "groups": ["signals", "variants", "other_judges", "domain", "text", "ngrams", "novelty", "flags"],
    }


# Columns of feature names and prompt words seen so far; bounded so odd input cannot grow it forever.
_COLUMNS_MAX = 500_000
_columns: dict[tuple[int, str | bytes], int] = {}
_word_column: dict[bytes, int] = {}  # prompt words (N_TEXT_FEATURES), looked up per word: no tuple keys
# Prompt tokens are runs of [a-z0-9] after lower(): every other byte (also UTF-8 of non-ASCII) splits.
# The table also lowercases ASCII letters, which is all lower() does to an ASCII text.
_TOKEN_BYTES = bytes(ord(chr(b).lower()) if chr(b).lower() in "abcdefghijklmnopqrstuvwxyz0123456789" else 32
                     for b in range(256))


def hashed_column(name: str | bytes, n_features: int, *, cache: bool = True) -> int:
    """The ``FeatureHasher`` column of a feature name."""
    key = (n_features, name)
    col = _columns.get(key) if cache else None
    if col is None:
        h = murmurhash3_32(name.encode("utf-8") if isinstance(name, str) else name, seed=0)
        col = (2147483647 - (n_features - 1)) % n_features if h == -2147483648 else abs(h) % n_features
        if cache:
            if len(_columns) >= _COLUMNS_MAX:
                _columns.clear()
            _columns[key] = col
    return col


def _scaled(lengths: Iterable[int]) -> np.ndarray:
    # math.log1p, not np.log1p: numpy's SIMD log1p may differ in the last bit from the named form.
    return np.array([math.log1p(n) for n in lengths], dtype=float) / 10.0


@dataclass
class _Entries:
    """(row, column, value) triples of a sparse matrix under construction."""

    n_rows: int
    rows: list[np.ndarray] = field(default_factory=list)
    cols: list[np.ndarray] = field(default_factory=list)
    vals: list[np.ndarray] = field(default_factory=list)

    def add(self, rows: np.ndarray, cols: np.ndarray | int, vals: np.ndarray | float) -> None:
        rows = np.asarray(rows, dtype=np.int64)
        self.rows.append(rows)
        self.cols.append(np.broadcast_to(np.asarray(cols, dtype=np.int64), rows.shape))
        self.vals.append(np.broadcast_to(np.asarray(vals, dtype=float), rows.shape))

    def named(self, name: str, vals: np.ndarray | float, rows: np.ndarray | None = None) -> None:
        self.add(np.arange(self.n_rows) if rows is None else rows, hashed_column(name, N_FEATURES), vals)

    def categorical(self, prefix: str, values: Sequence[object]) -> None:
        """One feature ``{prefix}{value}`` = 1 per row."""
        cols = {v: hashed_column(f"{prefix}{v}", N_FEATURES) for v in set(values)}
        self.add(np.arange(self.n_rows), np.array([cols[v] for v in values], dtype=np.int64), 1.0)

    def csr(self) -> sparse.csr_matrix:
        rows, cols = (np.concatenate(p) if p else np.zeros(0, dtype=np.int64) for p in (self.rows, self.cols))
        vals = np.concatenate(self.vals) if self.vals else np.zeros(0)
        keep = vals != 0  # FeatureHasher skips zero values
        out = sparse.csr_matrix((vals[keep], (rows[keep], cols[keep])), shape=(self.n_rows, N_FEATURES))
        out.sum_duplicates()
        return out


def _optional(m: _Entries, name: str, missing_name: str, values: list[float | None]) -> None:
    """``name`` = value where present, ``missing_name`` = 1 where None."""
    arr = np.array(values, dtype=float)
    missing = np.array([v is None for v in values], dtype=bool)
    m.named(missing_name, 1.0, np.flatnonzero(missing))
    m.named(name, arr[~missing], np.flatnonzero(~missing))


def _signal_features(m: _Entries, items: Sequence[ItemInput]) -> None:
    sig = [it.signals for it in items]
    n_usable = np.array([s.n_usable for s in sig])
    n_votes = np.array([s.n_votes for s in sig])
    failures = np.array([s.parse_failures for s in sig])
    m.named("vote_share", np.array([s.vote_share or 0.0 for s in sig], dtype=float))
    m.named("n_usable", _scaled(n_usable.tolist()))
    m.named("single_vote", (n_usable == 1).astype(float))
    m.named("parse_fail_share", np.where(n_votes > 0, failures / np.maximum(n_votes, 1), 1.0))
    m.named("position_biased", np.array([s.position_biased for s in sig], dtype=float))
    _optional(m, "order_consistency", "order_consistency_missing", [s.order_consistency for s in sig])
    _optional(m, "mean_probability", "probability_missing", [s.mean_probability for s in sig])
    m.categorical("verdict=", [s.verdict for s in sig])


def verdicts_of(items: Sequence[ItemInput]) -> list[int | None]:
    """The primary judge's majority verdict of each item; None when it has no usable, untied verdict."""
    return [None if it.signals.n_usable == 0 or it.signals.tied else it.signals.verdict for it in items]


def _fields(objs: list[Judgment], names: tuple[str, ...]) -> list[list]:
    """Per field name, its value on every object, read in C: ``itemgetter`` on the instances'
    ``__dict__`` (twice as fast as Django's field descriptors), ``attrgetter`` when a field is
    deferred and so absent from ``__dict__``. Scoring speed is dominated by these reads."""
    try:
        dicts = list(map(attrgetter("__dict__"), objs))
        return [list(map(itemgetter(name), dicts)) for name in names]
    except KeyError:
        return [list(map(attrgetter(name), objs)) for name in names]


def _variant_features(m: _Entries, items: Sequence[ItemInput], verdict: np.ndarray) -> None:
    """Per (item, prompt variant): the share of its usable votes that agree with the verdict."""
    flat = list(chain.from_iterable(it.primary for it in items))
    if not flat:
        return
    rows = np.repeat(np.arange(len(items)), [len(it.primary) for it in items])
    choice_l, error_l, variants, scores = _fields(flat, ("choice", "error", "variant", "scores"))
    choices = np.array(choice_l, dtype=float)  # None -> NaN
    usable = ~np.isnan(choices)
    if error_l.count("") != len(error_l):  # errors are rare: skip the per-vote test without any
        usable &= ~np.fromiter(map(bool, error_l), bool, len(flat))
    votes = np.flatnonzero(usable)
    names = list(dict.fromkeys(variants))
    code = np.fromiter(map(dict(zip(names, range(len(names)), strict=True)).__getitem__, variants), np.int64,
                       len(flat))
    groups, inverse = np.unique(rows[votes] * len(names) + code[votes], return_inverse=True)
    agree = np.bincount(inverse, weights=choices[votes] == verdict[rows[votes]])
    cols = np.array([hashed_column(f"variant_agree={v}", N_FEATURES) for v in names], dtype=np.int64)
    m.add(groups // len(names), cols[groups % len(names)], agree / np.bincount(inverse))
    margins: dict[int, list[float]] = defaultdict(list)
    with_scores = np.flatnonzero(np.fromiter(map(bool, scores), bool, len(flat))).tolist()
    row_of = rows.tolist() if with_scores else []
    for k in with_scores:  # Python sums, as the named form (3.12's sum() is compensated, numpy's is not)
        if len(sc := scores[k]) == 2:
            margins[row_of[k]].append(abs(float(sc[0]) - float(sc[1])))
    m.named("score_margin", np.array([min(sum(v) / len(v), 10.0) / 10.0 for v in margins.values()]),
            np.array(list(margins), dtype=np.int64))


def _most_common(choices: list[int]) -> int:
    """``Counter(choices).most_common(1)[0][0]`` (first seen wins a tie) without its heap."""
    if len(choices) == 1:
        return choices[0]
    counts = Counter(choices)
    return max(counts, key=counts.__getitem__)


def _other_judge_features(m: _Entries, items: Sequence[ItemInput], verdicts: list[int | None]) -> None:
    """Whether the other judges' majority verdicts agree with the primary judge's."""
    multi = [i for i, it in enumerate(items) if len(it.judgments) != len(it.primary)]
    flat = list(chain.from_iterable(items[i].judgments for i in multi))
    rows = list(chain.from_iterable([i] * len(items[i].judgments) for i in multi))
    judges, choices, errors = _fields(flat, ("judge", "choice", "error"))
    by_judge: dict[tuple[int, str], list[int]] = defaultdict(list)
    for i, judge, choice, error in zip(rows, judges, choices, errors, strict=True):
        if choice is not None and not error and judge != items[i].primary_judge:
            by_judge[(i, judge)].append(int(choice))
    per_item: dict[int, list[float]] = defaultdict(list)
    agree = np.array([float(_most_common(votes) == verdicts[i]) for (i, _), votes in by_judge.items()])
    rows_j = np.array([i for i, _ in by_judge], dtype=np.int64)
    for i, a in zip(rows_j.tolist(), agree.tolist(), strict=True):
        per_item[i].append(a)
    judges_j = [judge for _, judge in by_judge]
    for what, vals in (("agree", agree), ("disagree", 1.0 - agree)):
        cols = {judge: hashed_column(f"judge_{what}={judge}", N_FEATURES) for judge in set(judges_j)}
        m.add(rows_j, np.array([cols[judge] for judge in judges_j], dtype=np.int64), vals)
    m.named("other_judges_agree", np.array([sum(v) / len(v) for v in per_item.values()]),
            np.array(list(per_item), dtype=np.int64))


def _text_features(m: _Entries, items: Sequence[ItemInput], verdict: np.ndarray) -> None:
    m.named("prompt_len", _scaled(len(it.prompt) for it in items))
    counts = np.array([len(it.responses) for it in items], dtype=np.int64)
    lengths = np.array([len(r) for it in items for r in it.responses], dtype=np.int64)
    rows = np.repeat(np.arange(len(items)), counts)
    position = np.arange(lengths.size) - np.repeat(np.cumsum(counts) - counts, counts)
    cols = np.array([hashed_column(f"response{k + 1}_len", N_FEATURES) for k in range(int(counts.max(initial=0)))])
    m.add(rows, cols[position], _scaled(lengths.tolist()))
    pairs = np.flatnonzero(counts == 2)
    first = lengths[(np.cumsum(counts) - counts)[pairs]]
    second = lengths[(np.cumsum(counts) - counts)[pairs] + 1]
    short, long_ = np.minimum(first, second), np.maximum(first, second)
    m.named("length_ratio", (short + 1) / (long_ + 1), pairs)
    v = verdict[pairs]
    chose = np.flatnonzero(((v == 1) | (v == 2)) & (short != long_))
    chosen_len = np.where(v[chose] == 1, first[chose], second[chose])
    m.named("chose_longer", (chosen_len == long_[chose]).astype(float), pairs[chose])


def hashed_features(items: Sequence[ItemInput]) -> sparse.csr_matrix:
    """The named features of every item (see the module docstring), hashed, for the batch at once."""
    m = _Entries(len(items))
    if not items:
        return m.csr()
    m.named("bias", 1.0)
    m.categorical("task=", [it.task for it in items])
    m.named("flagged", np.array([it.flagged for it in items], dtype=float))
    domains = [it.domain for it in items]
    m.categorical("domain=", domains)
    m.categorical("domain0=", [d.strip("/").split("/")[0] for d in domains])
    verdicts = verdicts_of(items)
    verdict = np.array(verdicts, dtype=float)  # None -> NaN, which equals nothing
    _signal_features(m, items)
    _variant_features(m, items, verdict)
    _other_judge_features(m, items, verdicts)
    _text_features(m, items, verdict)
    return m.csr()


def _word_columns(words: list[set[bytes]], n: int) -> np.ndarray:
    """The hashed column of each word of each set (n in all): one C-level dict pass; only words
    not seen before are hashed."""
    try:
        return np.fromiter(map(_word_column.__getitem__, chain.from_iterable(words)), np.int64, n)
    except KeyError:  # hash the batch's new words, then look up in a local table (no race with clear())
        local = {w: _word_column.get(w) for w in set().union(*words)}
        new = {w: hashed_column(w, N_TEXT_FEATURES, cache=False) for w, col in local.items() if col is None}
        local.update(new)
        if len(_word_column) + len(new) > _COLUMNS_MAX:
            _word_column.clear()
        _word_column.update(new)
        return np.fromiter(map(local.__getitem__, chain.from_iterable(words)), np.int64, n)


def _token_bytes(text: str) -> bytes:
    # bytes.translate + split tokenize in C. Non-ASCII text needs str.lower() first (it maps e.g.
    # the Kelvin sign to "k"); "replace" only touches lone surrogates, which are separators anyway.
    return text.encode("ascii") if text.isascii() else text.lower().encode("utf-8", "replace")


def prompt_vectors(prompts: Sequence[str]) -> sparse.csr_matrix:
    """L2-normalised hashed words (``[a-z0-9]+`` runs, each counted once) of each prompt's first
    TEXT_CHARS characters: the model's text features (they tell the task type; bigrams added
    nothing in backtests) and the basis of novelty (cosine distance)."""
    words = [set(_token_bytes(p[:TEXT_CHARS]).translate(_TOKEN_BYTES).split()) for p in prompts]
    indptr = np.zeros(len(prompts) + 1, dtype=np.int64)
    np.cumsum([len(w) for w in words], out=indptr[1:])
    cols = _word_columns(words, int(indptr[-1]))
    out = sparse.csr_matrix((np.ones(cols.size, dtype=np.float32), cols, indptr), shape=(len(prompts), N_TEXT_FEATURES))
    out.sum_duplicates()  # sorts each row; two words hashed to one column count 2, as FeatureHasher does
    return normalize(out) if prompts else out


@dataclass
class FeatureRows:
    """The router's input for a batch: hashed named features and prompt word vectors."""

    hashed: sparse.csr_matrix
    vectors: sparse.csr_matrix


def features_of(items: Sequence[ItemInput]) -> FeatureRows:
    """The ONE feature function of the router: live routing, training and the backtest call it."""
    return FeatureRows(hashed_features(items), prompt_vectors([it.prompt for it in items]))
