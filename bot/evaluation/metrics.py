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


@dataclass
class MetricSummary:
    """Accumulates per-question metric values and reports their means."""

    values: dict[str, list[float]] = field(
        default_factory=lambda: {name: [] for name in METRIC_NAMES}
    )

    def add(self, ranking: Sequence[str], target: str, gains: dict[str, int]) -> dict[str, float]:
        """Score one question's ranking against its accepted answerer `target` and graded
        `gains`; record and return the per-question values."""
        result = question_metrics(ranking, target, gains)
        self.add_values(result)
        return result

    def add_values(self, result: dict[str, float]) -> None:
        """Record already computed per-question values (all of METRIC_NAMES required)."""
        missing = [name for name in METRIC_NAMES if name not in result]
        if missing:
            raise ValueError(f"missing metric values: {', '.join(missing)}")
        for name in METRIC_NAMES:
            self.values[name].append(float(result[name]))

    @property
    def count(self) -> int:
        """How many questions were scored."""
        return len(self.values[METRIC_NAMES[0]])

    def mean(self, name: str) -> float:
        """The mean of one metric over the questions scored (NaN if none)."""
        if name not in self.values:
            raise KeyError(f"unknown metric {name!r} (expected one of {METRIC_NAMES})")
        vals = self.values[name]
        # NaN rather than 0 for an empty summary: "no questions" is not "all wrong".
        return float(np.mean(vals)) if vals else math.nan

    def means(self) -> dict[str, float]:
        """Every metric's mean, keyed by METRIC_NAMES in table order."""
        return {name: self.mean(name) for name in METRIC_NAMES}


def format_table(rows: dict[str, MetricSummary], with_count: bool = True) -> str:
    """A plain-text table: one line per system with the six means to 3 decimals, aligned,
    plus the number of questions scored when `with_count` is set."""
    headers = ["system", *METRIC_NAMES] + (["n"] if with_count else [])
    body: list[list[str]] = []
    for system, summary in rows.items():
        cells = [system, *(f"{v:.3f}" for v in summary.means().values())]
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
