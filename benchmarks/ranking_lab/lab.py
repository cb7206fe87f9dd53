"""The lab's core: dumped replays, training examples, learners and prequential scoring.

Everything here works on the .npz files `dump.py` writes, so a candidate learner is
scored on exactly the feature tables `whoknows eval` ranks, in the same time order, with
the same rule: a question is ranked by a model fitted only on answers known before it was
asked, refitted on the eval's schedule (`bot.training.OnlineLearner`).

Scores are the product's: per-question scaled features (`scale_per_question`) times the
weights; ties go to more answers, then more items, then the earlier person
(`bot.ranking.top_indices`); only the top 100 count.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from scipy.optimize import minimize, minimize_scalar
from threadpoolctl import threadpool_limits

from bot.features import FEATURES
from bot.ranking import GROUP_SPLIT, LinearRanker, scale_per_question
from bot.settings import RankingWeights
from bot.training import (
    MAX_EXAMPLES,
    MIN_EXAMPLES,
    NEGATIVES,
    REFIT_EVERY,
    REFIT_GROWTH,
    make_example,
)

DATA = Path("/tmp/ranking_lab")
DATASETS = ("beer", "racket2017", "racket2018")
TOP_K = 100
ACT_ANSWERS = FEATURES.index("act_answers")
ACT_ITEMS = FEATURES.index("act_items")
DEFAULT_WEIGHTS = LinearRanker.from_groups(RankingWeights()).weights

# A model ranks one question: scaled feature matrix (n, F) -> one score per person.
Model = Callable[[np.ndarray], np.ndarray]


def _segments(values: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    return [values[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]


@dataclass
class Dataset:
    """One dumped replay: every answered question's table, in time order."""

    name: str
    kind: str  # "slack" or "stackexchange"
    X: np.ndarray  # all questions' rows stacked, float32
    eligible: np.ndarray
    offsets: np.ndarray
    evaluable: np.ndarray
    gold: np.ndarray
    asked_at: np.ndarray
    learn_rows: list[np.ndarray]
    learn_known_at: np.ndarray
    pos_rows: list[np.ndarray]
    pos_times: list[np.ndarray]
    pos_gain: list[np.ndarray]
    baselines: dict[str, np.ndarray]  # name -> (n_evaluable, 100) row indexes, -1 padded

    @classmethod
    def load(cls, name: str, folder: Path = DATA) -> Dataset:
        """Read `folder/name.npz`."""
        d = np.load(folder / f"{name}.npz")
        if tuple(d["features"]) != FEATURES:
            raise ValueError(f"{name}: dumped with another feature set; dump it again")
        meta = dict(m.split("=", 1) for m in d["meta"])
        return cls(
            name=name,
            kind=meta["kind"],
            X=d["X"],
            eligible=d["eligible"],
            offsets=d["offsets"],
            evaluable=d["evaluable"],
            gold=d["gold"],
            asked_at=d["asked_at"],
            learn_rows=_segments(d["learn_rows"].astype(np.int64), d["learn_offsets"]),
            learn_known_at=d["learn_known_at"],
            pos_rows=_segments(d["pos_rows"].astype(np.int64), d["pos_offsets"]),
            pos_times=_segments(d["pos_times"].astype(np.float64), d["pos_offsets"]),
            pos_gain=_segments(d["pos_gain"].astype(np.int64), d["pos_offsets"]),
            baselines={str(n): d[f"base_{i}"] for i, n in enumerate(d["baselines"])},
        )

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def matrix(self, q: int) -> np.ndarray:
        """Question q's dense feature matrix, float64 (as `FeatureTable.matrix`)."""
        return self.X[self.offsets[q] : self.offsets[q + 1]].astype(np.float64)

    def mask(self, q: int) -> np.ndarray:
        """Who could be asked for question q."""
        return self.eligible[self.offsets[q] : self.offsets[q + 1]]

    @cached_property
    def scored(self) -> np.ndarray:
        """Indexes of the evaluable questions (the ones the eval scores), in time order."""
        return np.flatnonzero(self.evaluable)

    @cached_property
    def scaled(self) -> dict[int, np.ndarray]:
        """Scaled matrices of the scored questions, computed once."""
        return {int(q): scale_per_question(self.matrix(q), self.mask(q)) for q in self.scored}


# ------------------------------------------------------------------------- metrics


def rank_of(matrix: np.ndarray, scores: np.ndarray, eligible: np.ndarray, row: int) -> int:
    """1-based place of `row` in the product's ranking (ties: more answers, more items,
    earlier person), or 0 if it is not eligible or outside the top 100."""
    if row < 0 or row >= len(eligible) or not eligible[row]:
        return 0
    s, aa, ai = scores, matrix[:, ACT_ANSWERS], matrix[:, ACT_ITEMS]
    idx = np.arange(len(s))
    better = (s > s[row]) | (
        (s == s[row])
        & ((aa > aa[row]) | ((aa == aa[row]) & ((ai > ai[row]) | ((ai == ai[row]) & (idx < row)))))
    )
    place = 1 + int((better & eligible).sum())
    return place if place <= TOP_K else 0


@dataclass
class Scores:
    """Per-question metric values of one system on one dataset (scored questions)."""

    rr: np.ndarray  # reciprocal rank of the gold (0 outside the top 100)
    any_rr: np.ndarray  # best reciprocal rank of anyone who replied / answered

    @classmethod
    def from_places(cls, gold: Sequence[int], best: Sequence[int]) -> Scores:
        """From 1-based places (0 = not in the top 100)."""
        g, b = np.asarray(gold, float), np.asarray(best, float)
        return cls(
            np.divide(1.0, g, out=np.zeros_like(g), where=g > 0),
            np.divide(1.0, b, out=np.zeros_like(b), where=b > 0),
        )

    def hit(self, k: int) -> np.ndarray:
        """1 where the gold is in the top k."""
        return (self.rr >= 1.0 / k - 1e-12).astype(float)

    @property
    def mrr(self) -> float:
        return float(self.rr.mean())


def baseline_scores(ds: Dataset) -> dict[str, Scores]:
    """Each baseline's metrics, from the rankings saved at dump time."""
    out = {}
    for name, rankings in ds.baselines.items():
        gold, best = [], []
        for ranking, q in zip(rankings, ds.scored, strict=True):
            place = {int(r): i + 1 for i, r in reversed(list(enumerate(ranking))) if r >= 0}
            gold.append(place.get(int(ds.gold[q]), 0))
            found = [place[int(r)] for r in ds.pos_rows[q] if int(r) in place]
            best.append(min(found, default=0))
        out[name] = Scores.from_places(gold, best)
    return out


def strongest_baseline(ds: Dataset) -> tuple[str, Scores]:
    """The baseline with the best MRR on this dataset (the peer the goal is set against)."""
    scores = baseline_scores(ds)
    name = max(scores, key=lambda n: scores[n].mrr)
    return name, scores[name]


# ------------------------------------------------------------------------ examples


@dataclass
class LabExample:
    """A training example whose labels may arrive over time.

    `rows` are scaled features of the positives and a sample of the other candidates; a
    row is a positive from `pos_time` on (inf: never). The example can be used for a
    question asked after `known_at` (its first positive), labelled as known then.
    """

    rows: np.ndarray
    pos_time: np.ndarray
    known_at: float
    question: int  # index into the dataset

    def labels(self, now: float) -> np.ndarray:
        """Which rows are positives for a model fitted at `now`."""
        return self.pos_time < now


def eval_examples(ds: Dataset, seed: int = 0) -> list[LabExample]:
    """The eval's own examples: `bot.training.make_example` with the eval's random
    sampling of negatives (same seed, same call order), the eval's positives and times."""
    rng = np.random.default_rng(seed)
    out = []
    for q in range(len(ds)):
        rows = ds.learn_rows[q]
        if len(rows) == 0:
            continue
        table = SimpleNamespace(matrix=ds.matrix(q))
        example = make_example(table, ds.mask(q), list(rows), ds.learn_known_at[q], rng)  # type: ignore[arg-type]
        if example is None:
            continue
        known = float(example.known_at)
        times = np.where(example.positive, known, np.inf)
        out.append(LabExample(example.rows.astype(np.float64), times, known, q))
    return _ordered(out)


def all_replier_examples(
    ds: Dataset, seed: int = 0, negatives: int = NEGATIVES
) -> list[LabExample]:
    """Everyone who replied (chat) or answered (SE) is a positive from the moment their
    reply existed; the example counts from its first reply. Until a later replier's
    reply exists they stay in the example as a negative (what was known then)."""
    rng = np.random.default_rng(seed)
    out = []
    for q in range(len(ds)):
        eligible = ds.mask(q)
        times = {int(r): float(t) for r, t in zip(ds.pos_rows[q], ds.pos_times[q], strict=True)}
        positives = [r for r in times if 0 <= r < len(eligible) and eligible[r]]
        if not positives:
            continue
        is_pos = np.zeros(len(eligible), dtype=bool)
        is_pos[positives] = True
        others = np.flatnonzero(eligible & ~is_pos)
        if len(others) == 0:
            continue
        if len(others) > negatives:
            others = rng.choice(others, negatives, replace=False)
        keep = np.r_[np.array(positives), np.sort(others)]
        scaled = scale_per_question(ds.matrix(q), eligible)[keep].astype(np.float32)
        pos_time = np.array([times.get(int(r), np.inf) for r in keep])
        out.append(LabExample(scaled.astype(np.float64), pos_time, float(pos_time.min()), q))
    return _ordered(out)


def _ordered(examples: list[LabExample]) -> list[LabExample]:
    """Sorted by `known_at`, stable (as OnlineLearner's insort in walk order)."""
    return sorted(examples, key=lambda e: e.known_at)


# -------------------------------------------------------------------------- fitting


@dataclass
class Stacked:
    """Examples stacked for a fit: rows, labels and group structure."""

    x: np.ndarray
    y: np.ndarray
    starts: np.ndarray
    group: np.ndarray
    sizes: np.ndarray

    @classmethod
    def of(cls, examples: Sequence[LabExample], now: float) -> Stacked:
        """Stack `examples`, labelled as known at `now`."""
        x = np.vstack([e.rows for e in examples])
        y = np.concatenate([e.labels(now) for e in examples]).astype(np.float64)
        sizes = np.array([len(e.rows) for e in examples])
        starts = np.r_[0, np.cumsum(sizes)[:-1]]
        return cls(x, y, starts, np.repeat(np.arange(len(examples)), sizes), sizes)


def softmax_loss(
    z: np.ndarray, data: Stacked, w: np.ndarray, example_weight: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """Mean over examples of -log P(positives) under a softmax of z @ w; and its gradient.
    Several positives share an example's probability mass equally (as `bot.training.fit`);
    `example_weight` (mean 1) weighs examples unequally."""
    n_groups = len(data.sizes)
    ew = np.ones(n_groups) if example_weight is None else example_weight
    pos_weight = data.y / np.add.reduceat(data.y, data.starts)[data.group]
    s = z @ w
    top = np.maximum.reduceat(s, data.starts)
    e = np.exp(s - top[data.group])
    total = np.add.reduceat(e, data.starts)
    p = e / total[data.group]
    row_weight = ew[data.group]
    value = (ew @ (top + np.log(total)) - (row_weight * pos_weight) @ s) / n_groups
    return value, (row_weight * (p - pos_weight)) @ z / n_groups


def temperature(data: Stacked, weights: np.ndarray) -> float:
    """The scale t >= 0 under which t * weights fits the examples best (1-D logit)."""
    s = data.x @ weights

    def loss(t: float) -> float:
        return softmax_loss(s[:, None], data, np.array([t]))[0]

    return float(minimize_scalar(loss, bounds=(0.0, 200.0), method="bounded").x)


def group_basis() -> np.ndarray:
    """(len(FEATURES), groups) matrix: a group weight spread over its features as
    GROUP_SPLIT does, so DEFAULT_WEIGHTS = group_basis() @ default group weights."""
    basis = np.zeros((len(FEATURES), len(GROUP_SPLIT)))
    for g, split in enumerate(GROUP_SPLIT.values()):
        for feature, share in split.items():
            basis[FEATURES.index(feature), g] = share
    return basis


@dataclass
class LinearFit:
    """A conditional-logit fit in the form of `bot.training.fit`, with choices:

    - `prior`: what the L2 pulls towards: zero (the product), the default weights, or
      the default weights at their best-fitting scale t ("default_t", t fitted by a 1-D
      logit on the same examples: the defaults' scale is arbitrary, the logit's is not);
    - `blend_k`: after the fit, w = n/(n+k) w_fit + k/(n+k) t w_default;
    - `half_life`: examples weighted 2^(-age / half_life), age in examples (newest 0);
    - `groups`: learn one weight per signal group (8), split inside the group as the
      defaults are (GROUP_SPLIT), instead of one per feature (24);
    - `standardise`: the product standardises features for the fit (L2 in units of
      standard deviations); False puts the L2 on the raw scaled-feature weights;
    - `std_floor`: standardise by max(std, floor), so a feature that barely varies in
      the examples (recency early in a history: everyone was active lately) cannot get
      a huge raw weight from a modest standardised one.

    Standardisation, the L2 form (0.5 * l2 * |w - prior|^2 / n), the start point (the
    prior) and the fallback for constant columns (their default weight) follow the
    product, so `LinearFit()` is `bot.training.fit(examples, fallback=default)`.
    """

    l2: float = 10.0
    prior: str = "zero"  # "zero" | "default" | "default_t"
    blend_k: float | None = None
    half_life: float | None = None
    groups: bool = False
    standardise: bool = True
    std_floor: float = 0.0
    default: np.ndarray | None = None  # the defaults (None: the product's)

    def __call__(self, examples: Sequence[LabExample], now: float) -> Model:
        return linear_model(self.weights(examples, now))

    def weights(
        self,
        examples: Sequence[LabExample],
        now: float,
        example_weight: np.ndarray | None = None,
    ) -> np.ndarray:
        """The fitted weights (aligned with FEATURES); `example_weight` weighs examples
        (times the half-life weights, if any)."""
        data = Stacked.of(examples, now)
        basis = group_basis() if self.groups else np.eye(len(FEATURES))
        defaults = DEFAULT_WEIGHTS if self.default is None else self.default
        default = np.linalg.lstsq(basis, defaults, rcond=None)[0]
        x = data.x @ basis
        mean, std = x.mean(axis=0), x.std(axis=0)
        live = std > 1e-9
        if not self.standardise:
            mean, std = np.zeros_like(mean), np.ones_like(std)
        std = np.maximum(std, self.std_floor)
        z = np.zeros_like(x)
        z[:, live] = (x[:, live] - mean[live]) / std[live]
        t = 1.0
        if self.prior == "default_t" or self.blend_k is not None:
            t = temperature(data, defaults)
        scale = {"zero": 0.0, "default": 1.0, "default_t": t}[self.prior]
        w_prior = scale * default * std
        n = len(examples)
        weight = np.ones(n) if example_weight is None else np.asarray(example_weight, float)
        if self.half_life is not None:
            weight = weight * 0.5 ** ((n - 1 - np.arange(n)) / self.half_life)
        weight = weight / weight.mean()

        def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
            value, grad = softmax_loss(z, data, w, weight)
            d = w - w_prior
            return value + 0.5 * self.l2 * (d @ d) / n, grad + self.l2 * d / n

        with threadpool_limits(1, user_api="blas"):
            result = minimize(loss, w_prior.copy(), jac=True, method="L-BFGS-B")
        w = np.where(live, result.x / np.where(live, std, 1.0), default)
        if self.blend_k is not None:
            a = n / (n + self.blend_k)
            w = a * w + (1 - a) * t * default
        return basis @ w


def transfer_weights(
    examples_by_dataset: Sequence[Sequence[LabExample]], l2: float = 10.0
) -> np.ndarray:
    """Defaults learned from other orgs: one conditional logit over all their examples
    (each org weighing the same in total), shrunk towards zero like the product's fit."""
    pooled = [e for examples in examples_by_dataset for e in examples]
    weight = np.concatenate([np.full(len(x), 1.0 / len(x)) for x in examples_by_dataset])
    return LinearFit(l2=l2).weights(pooled, np.inf, example_weight=weight)


@dataclass
class GbmFit:
    """LightGBM on the scaled features, one query per example: LambdaRank (listwise,
    NDCG-driven pairwise gradients) or a pointwise binary objective. With `on_linear`,
    it boosts from the scores of `LinearFit()` fitted on the same examples (init_score)
    and ranks by linear + trees."""

    objective: str = "lambdarank"  # or "binary"
    trees: int = 100
    leaves: int = 7
    learning_rate: float = 0.05
    min_child: int = 20
    on_linear: bool = False

    def __call__(self, examples: Sequence[LabExample], now: float) -> Model:
        import lightgbm as lgb

        data = Stacked.of(examples, now)
        params = dict(
            n_estimators=self.trees,
            num_leaves=self.leaves,
            learning_rate=self.learning_rate,
            min_child_samples=self.min_child,
            reg_lambda=1.0,
            num_threads=1,
            deterministic=True,
            force_row_wise=True,
            verbose=-1,
        )
        linear = LinearFit().weights(examples, now) if self.on_linear else None
        init = data.x @ linear if linear is not None else None
        labels = data.y.astype(int)
        if self.objective == "lambdarank":
            model = lgb.LGBMRanker(objective="lambdarank", **params)
            model.fit(data.x, labels, group=data.sizes, init_score=init)
        else:
            model = lgb.LGBMClassifier(objective="binary", **params)
            model.fit(data.x, labels, init_score=init)

        def score(scaled: np.ndarray) -> np.ndarray:
            base = scaled @ linear if linear is not None else 0.0
            return base + model.predict(scaled, raw_score=True)

        return score


def linear_model(weights: np.ndarray) -> Model:
    """Scores = scaled features @ weights."""

    def score(scaled: np.ndarray) -> np.ndarray:
        return scaled @ weights

    score.weights = weights  # type: ignore[attr-defined]
    return score


Fitter = Callable[[Sequence[LabExample], float], Model]


# ----------------------------------------------------------------------- prequential


@dataclass(frozen=True)
class Schedule:
    """When the learner refits and on what (bot.training's constants by default)."""

    min_examples: int = MIN_EXAMPLES
    max_examples: int = MAX_EXAMPLES
    refit_every: int = REFIT_EVERY
    refit_growth: float = REFIT_GROWTH


CURRENT = Schedule()


class Prequential:
    """`OnlineLearner.model(now)` for any fitter: the default model until
    `min_examples` examples are known, then a fit on the latest `max_examples` known
    strictly before `now`, refitted when REFIT_EVERY new ones or REFIT_GROWTH more."""

    def __init__(
        self,
        examples: Sequence[LabExample],
        fitter: Fitter,
        schedule: Schedule = CURRENT,
        default: Model | None = None,
    ) -> None:
        self.examples = list(examples)
        self.known = np.array([e.known_at for e in self.examples])
        self.fitter = fitter
        self.schedule = schedule
        self.default = default or linear_model(DEFAULT_WEIGHTS)
        self.fitted_on = 0
        self.fits = 0
        self.fitted_at: list[tuple[float, int, Model]] = []  # (now, n, model) per refit
        self._model: Model | None = None

    def model(self, now: float) -> Model:
        """The model for a question asked at `now` (ask in time order)."""
        n = int(np.searchsorted(self.known, now, side="left"))
        s = self.schedule
        if n < s.min_examples:
            return self.default
        due = (
            self._model is None
            or n < self.fitted_on
            or n - self.fitted_on >= max(s.refit_every, s.refit_growth * self.fitted_on)
        )
        if due:
            self._model = self.fitter(self.examples[max(0, n - s.max_examples) : n], now)
            self.fitted_on = n
            self.fits += 1
            self.fitted_at.append((now, n, self._model))
        assert self._model is not None
        return self._model


def example_rr(example: LabExample, model: Model, now: float) -> float:
    """Reciprocal rank of the best positive among the example's own rows (ties count
    half): what a live learner can compute from the examples it keeps."""
    s = model(example.rows)
    y = example.labels(now)
    best = 0.0
    for p in np.flatnonzero(y):
        place = 1.0 + (s[~y] > s[p]).sum() + 0.5 * (s[~y] == s[p]).sum()
        best = max(best, 1.0 / place)
    return best


class Gated:
    """Champion / challenger: rank with the learner's model only while it has ranked the
    latest `window` answered questions (0: all of them) better than the default weights
    did, each scored with the model that was in force when it was asked (prequential:
    nothing is judged on data it was fitted on)."""

    def __init__(
        self,
        examples: Sequence[LabExample],
        asked_at: np.ndarray,
        fitter: Fitter,
        window: int = 0,
        schedule: Schedule = CURRENT,
    ) -> None:
        self.learner = Prequential(examples, fitter, schedule)
        self.examples = self.learner.examples
        self.asked = np.array([asked_at[e.question] for e in self.examples])
        self.window = window
        self.margins: list[float] = []  # rr(learned) - rr(default), per answered question
        self.used_learned: list[bool] = []

    def _in_force(self, t: float) -> Model:
        model = self.learner.default
        for fitted, _, m in self.learner.fitted_at:
            if fitted > t:
                break
            model = m
        return model

    def model(self, now: float) -> Model:
        """The model for a question asked at `now` (ask in time order)."""
        learned = self.learner.model(now)
        default = self.learner.default
        while len(self.margins) < len(self.examples):
            e = self.examples[len(self.margins)]
            if e.known_at >= now:
                break
            then = self._in_force(self.asked[len(self.margins)])
            self.margins.append(example_rr(e, then, now) - example_rr(e, default, now))
        recent = self.margins[-self.window :] if self.window else self.margins
        use = bool(recent) and float(np.mean(recent)) > 0.0
        self.used_learned.append(use)
        return learned if use else default


def evaluate(ds: Dataset, pick: Callable[[float], Model]) -> Scores:
    """Score every evaluable question with `pick(asked_at)`'s model (in time order)."""
    gold, best = [], []
    for q in ds.scored:
        q = int(q)
        model = pick(float(ds.asked_at[q]))
        scaled, eligible = ds.scaled[q], ds.mask(q)
        scores = np.where(eligible, model(scaled), -np.inf)
        matrix = ds.X[ds.offsets[q] : ds.offsets[q + 1]]
        gold.append(rank_of(matrix, scores, eligible, int(ds.gold[q])))
        places = [p for r in ds.pos_rows[q] if (p := rank_of(matrix, scores, eligible, int(r)))]
        best.append(min(places, default=0))
    return Scores.from_places(gold, best)


def prequential(
    ds: Dataset,
    fitter: Fitter,
    examples: Sequence[LabExample],
    schedule: Schedule = CURRENT,
    default: Model | None = None,
) -> tuple[Scores, Prequential]:
    """Prequential scores of a learner, and the learner (its refits, for diagnosis);
    `default` ranks until there are enough examples (the product's defaults if None)."""
    learner = Prequential(examples, fitter, schedule, default)
    return evaluate(ds, learner.model), learner


# ------------------------------------------------------------------------- bootstrap


def bootstrap_ci(values: np.ndarray, samples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% percentile bootstrap interval of the mean (questions resampled)."""
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(samples, len(values)))].mean(axis=1)
    low, high = np.quantile(means, [0.025, 0.975])
    return float(low), float(high)


def paired_ci(
    a: np.ndarray, b: np.ndarray, samples: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """mean(a - b) with a paired 95% bootstrap interval, and P(resampled diff <= 0)."""
    d = a - b
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), size=(samples, len(d)))].mean(axis=1)
    low, high = np.quantile(means, [0.025, 0.975])
    return float(low), float(high), float((means <= 0).mean())


def fmt(x: float) -> str:
    """Three decimals, nan as '-'."""
    return "-" if math.isnan(x) else f"{x:.3f}"
