"""Scoring the two-part feature table gives what scoring the dense table gives."""

from __future__ import annotations

import numpy as np
import pytest

from bot.features import FEATURES, QUESTION_FEATURES, FeatureTable
from bot.ranking import LinearRanker, scale_per_question, top_indices
from embeddings.expertise import ExpertiseScores
from graph.contact_graph import Proximity


def _random_table(rng: np.random.Generator, n: int, with_signal: int) -> FeatureTable:
    """A table where only `with_signal` people have question features, and person
    features take few distinct values (so ties happen, as they do in a real org)."""
    rows = np.sort(rng.choice(n, with_signal, replace=False))
    question = rng.random((with_signal, len(QUESTION_FEATURES)))
    question[rng.random(question.shape) < 0.5] = 0.0
    person = rng.integers(0, 3, (n, len(FEATURES) - len(QUESTION_FEATURES))) / 2.0
    zeros = np.zeros(n)
    return FeatureTable(
        rows=rows,
        question=question,
        person=person,
        expertise=ExpertiseScores(zeros, zeros, zeros, zeros),
        proximity=Proximity(zeros, zeros, zeros),
    )


def _dense_top(table: FeatureTable, scores: np.ndarray, k: int) -> list[int]:
    """The reference order: sort everyone by score, then answers, items, index."""
    n = len(scores)
    order = np.lexsort(
        (np.arange(n), -table.column("act_items"), -table.column("act_answers"), -scores)
    )[:k]
    return [int(i) for i in order if np.isfinite(scores[i])]


@pytest.mark.parametrize("seed", range(5))
def test_two_part_scores_and_top_match_the_dense_table(seed):
    rng = np.random.default_rng(seed)
    table = _random_table(rng, n=400, with_signal=30)
    weights = rng.normal(size=len(FEATURES))  # learned weights may be negative
    ranker = LinearRanker(weights)
    eligible = rng.random(400) > 0.1
    eligible[table.rows[0]] = False  # the best question match may be the asker

    scores = ranker.score(table, eligible)
    dense = scale_per_question(table.matrix, eligible) @ weights
    assert np.array_equal(np.isfinite(scores), eligible)
    np.testing.assert_allclose(scores[eligible], dense[eligible], rtol=1e-12, atol=1e-12)
    for k in (1, 5, 50):
        assert top_indices(table, scores, k) == _dense_top(table, scores, k)


def test_rows_and_columns_agree_with_the_dense_matrix():
    table = _random_table(np.random.default_rng(9), n=50, with_signal=7)
    for name in FEATURES:
        assert np.array_equal(table.column(name), table.matrix[:, FEATURES.index(name)])
    for person in (0, int(table.rows[3]), 49):
        assert np.array_equal(table.row(person), table.matrix[person])


def test_nobody_eligible_scores_nobody():
    table = _random_table(np.random.default_rng(1), n=20, with_signal=3)
    scores = LinearRanker(np.ones(len(FEATURES))).score(table, np.zeros(20, dtype=bool))
    assert np.isneginf(scores).all()
    assert top_indices(table, scores, 5) == []
