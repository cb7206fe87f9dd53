"""Ranking metrics for routing evaluation: MRR, Hit@k and nDCG@10 (see EVAL.md).

Rankings are lists of person ids, best first. All functions are pure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

# The metrics a summary reports, in table order.
METRIC_NAMES: tuple[str, ...] = ("MRR", "Hit@1", "Hit@3", "Hit@5", "Hit@10", "nDCG@10")
# EVAL-CHAT.md adds any-MRR: 1 / rank of the best-ranked of the people who replied.
CHAT_METRIC_NAMES: tuple[str, ...] = (
    "MRR", "Hit@1", "Hit@3", "Hit@5", "Hit@10", "any-MRR", "nDCG@10",
)  # fmt: skip
BOOTSTRAP_SAMPLES = 2000
HIT_KS: tuple[int, ...] = (1, 3, 5, 10)
NDCG_K = 10

T = TypeVar("T")


def reciprocal_rank(ranking: Sequence[str], target: str) -> float:
    """1 / (1-based rank of `target` in `ranking`), or 0.0 if it is not there."""
    for index, person in enumerate(ranking):
        if person == target:
            return 1.0 / (index + 1)
    return 0.0


def hit_at(ranking: Sequence[str], target: str, k: int) -> float:
    """1.0 if `target` is among the first `k` of `ranking`, else 0.0."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    return 1.0 if target in ranking[:k] else 0.0


def dcg(gains: Sequence[float]) -> float:
    """Discounted cumulative gain of gains listed in rank order: sum of gain / log2(rank + 1)."""
    values = np.asarray(gains, dtype=float)
    if values.size == 0:
        return 0.0
    discounts = np.log2(np.arange(2, values.size + 2))
    return float(np.sum(values / discounts))


def ndcg_at(ranking: Sequence[str], gains: dict[str, int], k: int = NDCG_K) -> float:
    """Normalised DCG of the first `k` of `ranking` given each person's gain (absent = 0).

    The ideal ranking orders the positive gains from high to low. Returns 0.0 when nobody has
    a positive gain. A person listed twice counts only at their first place, so a ranking
    cannot score above the ideal.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    ideal = sorted((g for g in gains.values() if g > 0), reverse=True)[:k]
    if not ideal:
        return 0.0
    seen: set[str] = set()
    ranked_gains: list[float] = []
    for person in ranking[:k]:
        ranked_gains.append(0.0 if person in seen else float(gains.get(person, 0)))
        seen.add(person)
    return dcg(ranked_gains) / dcg(ideal)


def question_metrics(
    ranking: Sequence[str], target: str, gains: dict[str, int]
) -> dict[str, float]:
    """All six metrics for one question, keyed by METRIC_NAMES."""
    values = {"MRR": reciprocal_rank(ranking, target)}
    for k in HIT_KS:
        values[f"Hit@{k}"] = hit_at(ranking, target, k)
    values[f"nDCG@{NDCG_K}"] = ndcg_at(ranking, gains, NDCG_K)
    return values


def chat_question_metrics(
    ranking: Sequence[str], gold: str, repliers: Sequence[str]
) -> dict[str, float]:
    """EVAL-CHAT.md's metrics for one question: the gold is the first other person who
    replied (gain 2 in nDCG), every other replier counts for any-MRR and nDCG (gain 1)."""
    gains = {person: 1 for person in repliers}
    gains[gold] = 2
    values = question_metrics(ranking, gold, gains)
    values["any-MRR"] = max((reciprocal_rank(ranking, p) for p in gains), default=0.0)
    return values


def bootstrap_interval(
    values: Sequence[float], level: float = 0.95, samples: int = BOOTSTRAP_SAMPLES, seed: int = 0
) -> tuple[float, float]:
    """A percentile bootstrap interval of the mean of `values` (questions resampled)."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(samples, data.size))].mean(axis=1)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(low), float(high)


def paired_ratio_interval(
    ours: Sequence[float], theirs: Sequence[float], level: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """mean(ours) / mean(theirs) over the same questions, with a paired bootstrap interval
    (each resample draws the same questions for both)."""
    a, b = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    if a.size == 0 or a.size != b.size or b.mean() == 0:
        return math.nan, math.nan, math.nan
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, a.size, size=(BOOTSTRAP_SAMPLES, a.size))
    ratios = a[picks].mean(axis=1) / np.maximum(b[picks].mean(axis=1), 1e-12)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(ratios, [tail, 1.0 - tail])
    return float(a.mean() / b.mean()), float(low), float(high)


@dataclass
class MetricSummary:
    """Accumulates per-question metric values and reports their means."""

    names: tuple[str, ...] = METRIC_NAMES
    values: dict[str, list[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in self.names:
            self.values.setdefault(name, [])

    def add(self, ranking: Sequence[str], target: str, gains: dict[str, int]) -> dict[str, float]:
        """Score one question's ranking against its accepted answerer `target` and graded
        `gains`; record and return the per-question values."""
        result = question_metrics(ranking, target, gains)
        self.add_values(result)
        return result

    def add_values(self, result: dict[str, float]) -> None:
        """Record already computed per-question values (all of `names` required)."""
        missing = [name for name in self.names if name not in result]
        if missing:
            raise ValueError(f"missing metric values: {', '.join(missing)}")
        for name in self.names:
            self.values[name].append(float(result[name]))

    @property
    def count(self) -> int:
        """How many questions were scored."""
        return len(self.values[self.names[0]])

    def mean(self, name: str) -> float:
        """The mean of one metric over the questions scored (NaN if none)."""
        if name not in self.values:
            raise KeyError(f"unknown metric {name!r} (expected one of {self.names})")
        vals = self.values[name]
        # NaN rather than 0 for an empty summary: "no questions" is not "all wrong".
        return float(np.mean(vals)) if vals else math.nan

    def means(self) -> dict[str, float]:
        """Every metric's mean, keyed by `names` in table order."""
        return {name: self.mean(name) for name in self.names}

    def interval(self, name: str = "MRR", level: float = 0.95) -> tuple[float, float]:
        """A bootstrap interval of one metric's mean over the questions scored."""
        return bootstrap_interval(self.values[name], level)


def format_table(
    rows: dict[str, MetricSummary], with_count: bool = True, interval: str | None = None
) -> str:
    """A plain-text table: one line per system with each metric's mean to 3 decimals,
    aligned, plus the number of questions scored when `with_count` is set; with
    `interval` (a metric name), that metric's 95% bootstrap interval too."""
    names = next(iter(rows.values())).names if rows else METRIC_NAMES
    headers = ["system", *names] + ([f"{interval} 95% CI"] if interval else [])
    headers += ["n"] if with_count else []
    body: list[list[str]] = []
    for system, summary in rows.items():
        cells = [system, *(f"{v:.3f}" for v in summary.means().values())]
        if interval:
            low, high = summary.interval(interval)
            cells.append(f"{low:.3f}-{high:.3f}")
        if with_count:
            cells.append(str(summary.count))
        body.append(cells)
    widths = [max(len(r[i]) for r in [headers, *body]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        # System names read left-aligned; numbers right-aligned so the decimals line up.
        parts = [cells[0].ljust(widths[0])]
        parts += [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in body)])


def split_halves(items: Sequence[T]) -> tuple[list[T], list[T]]:
    """Split a time-ordered sequence into its first and second halves (for tuning on the first
    and reporting on the second). With an odd length the second half gets the extra item."""
    middle = len(items) // 2
    return list(items[:middle]), list(items[middle:])
