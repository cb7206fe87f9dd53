"""Turning a feature table into one score per person.

Each feature is first scaled per question so that the best eligible person on it scores 1:
raw BM25 and tie strengths mean nothing across questions, but "as good as the best
candidate" does. Scores are then a weighted sum. The weights come from the settings until
they are learned from the org's answered questions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from bot.features import FEATURES, PERSON_AT, QUESTION_AT, FeatureTable
from bot.settings import RankingWeights

# How a group weight from the settings spreads over the features of that group.
GROUP_SPLIT: dict[str, dict[str, float]] = {
    "semantic": {"sem_max": 0.25, "sem_soft": 0.5, "sem_answer": 0.25},
    "lexical": {"lex_max": 0.2, "lex_top5": 0.6, "lex_answer": 0.2},
    "tags": {"tag_answers": 0.5, "tag_items": 0.5},
    "network": {"net_direct": 0.4, "net_two_hop": 0.2, "net_shared": 0.2, "net_helped": 0.2},
    "mention": {"mentioned": 1.0},
    "activity": {"act_answers": 0.25, "act_recency": 0.25, "act_recent_answers": 0.5},
    "availability": {"avail_hour": 0.4, "avail_day": 0.3, "avail_time_of_day": 0.3},
    "responsiveness": {"resp_answer_share": 0.5, "resp_ask_rate": 0.5},
}


def column_top(matrix: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """Each column's largest value among eligible rows, or 0 if none is above 0 (features
    are never negative, and a column with nothing above 0 is left at 0 by the scaling)."""
    return np.max(matrix, axis=0, where=eligible[:, None], initial=0.0)


def scale_per_question(matrix: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """Divide each column by its largest value among eligible people (0 stays 0)."""
    top = column_top(matrix, eligible)
    return np.divide(matrix, top, out=np.zeros_like(matrix), where=top > 0)


@dataclass
class LinearRanker:
    """score = sum over features of weight * scaled feature."""

    weights: np.ndarray  # aligned with FEATURES

    @classmethod
    def from_groups(cls, groups: RankingWeights) -> LinearRanker:
        """The default ranker: group weights from the settings, split as GROUP_SPLIT says."""
        weights = dict.fromkeys(FEATURES, 0.0)
        for group, split in GROUP_SPLIT.items():
            for feature, share in split.items():
                weights[feature] = getattr(groups, group) * share
        return cls.from_mapping(weights)

    @classmethod
    def from_mapping(cls, weights: Mapping[str, float]) -> LinearRanker:
        """A ranker from {feature: weight}; missing features weigh 0."""
        unknown = set(weights) - set(FEATURES)
        if unknown:
            raise ValueError(f"unknown features: {sorted(unknown)}")
        return cls(np.array([float(weights.get(f, 0.0)) for f in FEATURES]))

    def as_mapping(self) -> dict[str, float]:
        """{feature: weight}."""
        return {f: float(w) for f, w in zip(FEATURES, self.weights, strict=True)}

    def to_json(self) -> str:
        """The weights as JSON, for storing a learned model."""
        return json.dumps(self.as_mapping(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> LinearRanker:
        """A ranker from `to_json` output."""
        return cls.from_mapping(json.loads(text))

    def score(self, table: FeatureTable, eligible: np.ndarray) -> np.ndarray:
        """One score per person; ineligible people get -inf.

        The same as scaling the dense matrix per question and weighting it, computed on
        the table's two parts: the question features of the people who have any (everyone
        else has 0 in them, so their column maxima are the maxima over everyone) and the
        person features of everyone, weighted without a scaled copy.
        """
        scores = np.full(len(table), -np.inf)
        if not eligible.any():
            return scores
        total = _weighted(table.person, self.weights[PERSON_AT], eligible)
        if len(table.rows):
            total[table.rows] += _weighted(
                table.question, self.weights[QUESTION_AT], eligible[table.rows]
            )
        scores[eligible] = total[eligible]
        return scores


def _weighted(matrix: np.ndarray, weights: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """matrix @ weights, each column divided by its largest value among eligible rows.

    Computed with einsum, not a BLAS product: BLAS splits even a small product over worker
    threads, which on a busy 2-core machine made scoring one question 50 times slower.
    """
    top = column_top(matrix, eligible)
    scaled = np.divide(weights, top, out=np.zeros_like(top), where=top > 0)
    return np.einsum("ij,j->i", matrix, scaled)


def top_indices(table: FeatureTable, scores: np.ndarray, k: int) -> list[int]:
    """The people with the `k` best finite scores, best first.

    Many people tie (at 0 on the network, say); ties go to whoever has answered more, then
    written more, then was seen first, so nobody gains or loses by an arbitrary order.
    Only the people scoring at least the k-th best score are sorted.
    """
    finite = np.isfinite(scores)
    k = min(k, int(finite.sum()))
    if k <= 0:
        return []
    kth = np.partition(scores[finite], -k)[-k]
    pool = np.flatnonzero(scores >= kth)
    order = np.lexsort(
        (
            pool,
            -table.column("act_items")[pool],
            -table.column("act_answers")[pool],
            -scores[pool],
        )
    )[:k]
    return [int(i) for i in pool[order]]
