"""The rankers compared in an evaluation: the router and the baselines of EVAL.md.

Each is a function from the router's feature table and eligibility mask to one score per
person, so every system sees exactly the same data at the same moment of the replay.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bot.features import FeatureTable
from bot.ranking import LinearRanker, scale_per_question, top_indices

Scorer = Callable[[FeatureTable, np.ndarray], np.ndarray]


def _masked(scores: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    return np.where(eligible, scores, -np.inf)


def popularity(table: FeatureTable, eligible: np.ndarray) -> np.ndarray:
    """Most prior answers first."""
    return _masked(table.column("act_answers"), eligible)


def bm25_documents(table: FeatureTable, eligible: np.ndarray) -> np.ndarray:
    """Document-centric BM25: the sum of a person's five best item scores."""
    return _masked(table.column("lex_top5"), eligible)


def network(table: FeatureTable, eligible: np.ndarray) -> np.ndarray:
    """Closeness to the asker within two hops, direct ties counting most."""
    return _masked(table.column("net_direct") + 0.5 * table.column("net_two_hop"), eligible)


def bm25_network_popularity(table: FeatureTable, eligible: np.ndarray) -> np.ndarray:
    """BM25, network and a popularity prior, each scaled to the best candidate, summed."""
    cols = np.column_stack(
        [
            table.column("lex_top5"),
            table.column("net_direct") + 0.5 * table.column("net_two_hop"),
            table.column("act_answers"),
        ]
    )
    return _masked(scale_per_question(cols, eligible).sum(axis=1), eligible)


def embeddings_documents(table: FeatureTable, eligible: np.ndarray) -> np.ndarray:
    """Document-centric MiniLM: the mean cosine of a person's three best items."""
    return _masked(table.column("sem_top3"), eligible)


BASELINES: dict[str, Scorer] = {
    "popularity (most prior answers)": popularity,
    "BM25, document-centric (top-5 sum)": bm25_documents,
    "network (1-2 hops, weighted)": network,
    "BM25 + network + popularity": bm25_network_popularity,
    "MiniLM, document-centric (top-3 mean)": embeddings_documents,
}


def ranker_scorer(ranker: LinearRanker) -> Scorer:
    """A Scorer that uses the router's own ranking model."""
    return ranker.score


def top_ranking(table: FeatureTable, scores: np.ndarray, ids: list[str], k: int = 100) -> list[str]:
    """The ids of the `k` best finite scores, best first (ties broken as the router does)."""
    return [ids[i] for i in top_indices(table, scores, k)]
