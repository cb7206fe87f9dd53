"""Ranking metrics against hand-computed values."""

from __future__ import annotations

import math

import pytest

from bot.evaluation.metrics import (
    METRIC_NAMES,
    MetricSummary,
    format_table,
    hit_at,
    ndcg_at,
    question_metrics,
    reciprocal_rank,
    split_halves,
)

RANKING = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"]


def test_reciprocal_rank() -> None:
    assert reciprocal_rank(RANKING, "a") == 1.0
    assert reciprocal_rank(RANKING, "c") == pytest.approx(1 / 3)
    assert reciprocal_rank(RANKING, "k") == pytest.approx(1 / 11)  # beyond 10 still counts
    assert reciprocal_rank(RANKING, "z") == 0.0
    assert reciprocal_rank([], "a") == 0.0


def test_hit_at() -> None:
    assert hit_at(RANKING, "a", 1) == 1.0
    assert hit_at(RANKING, "c", 1) == 0.0
    assert hit_at(RANKING, "c", 3) == 1.0
    assert hit_at(RANKING, "f", 5) == 0.0
    assert hit_at(RANKING, "j", 10) == 1.0
    assert hit_at(RANKING, "k", 10) == 0.0
    assert hit_at([], "a", 10) == 0.0
    with pytest.raises(ValueError):
        hit_at(RANKING, "a", 0)


def test_ndcg_perfect_and_empty() -> None:
    assert ndcg_at(["x", "y"], {"x": 2, "y": 1}) == pytest.approx(1.0)
    assert ndcg_at(RANKING, {}) == 0.0
    assert ndcg_at(RANKING, {"a": 0}) == 0.0  # no positive gain
    assert ndcg_at(RANKING, {"z": 2}) == 0.0  # relevant person not ranked


def test_ndcg_hand_computed() -> None:
    # Accepted answerer "c" (gain 2) at rank 3, other answerer "a" (gain 1) at rank 1.
    # DCG = 1/log2(2) + 2/log2(4) = 1 + 1 = 2; ideal = 2/log2(2) + 1/log2(3) = 2 + 0.6309.
    expected = 2 / (2 + 1 / math.log2(3))
    assert ndcg_at(RANKING, {"c": 2, "a": 1}) == pytest.approx(expected)
    assert ndcg_at(RANKING, {"c": 2, "a": 1}) == pytest.approx(0.76018, abs=1e-5)


def test_ndcg_cutoff() -> None:
    # Only "k" is relevant and it sits at rank 11: outside the top 10.
    assert ndcg_at(RANKING, {"k": 2}) == 0.0
    # With k=3, "d" at rank 4 is cut; "b" at rank 2 alone: (1/log2 3) / (2 + 1/log2 3).
    gains = {"d": 2, "b": 1}
    assert ndcg_at(RANKING, gains, k=3) == pytest.approx(
        (1 / math.log2(3)) / (2 + 1 / math.log2(3))
    )


def test_ndcg_counts_a_repeated_person_once() -> None:
    assert ndcg_at(["x", "x", "y"], {"x": 1}) == pytest.approx(1.0)


def test_question_metrics() -> None:
    values = question_metrics(RANKING, "d", {"d": 2})
    assert list(values) == list(METRIC_NAMES)
    assert values["MRR"] == pytest.approx(0.25)
    assert [values[f"Hit@{k}"] for k in (1, 3, 5, 10)] == [0.0, 0.0, 1.0, 1.0]
    assert values["nDCG@10"] == pytest.approx(2 / math.log2(5) / 2)  # 1/log2(5) = 0.4307


def test_summary_means() -> None:
    summary = MetricSummary()
    summary.add(["a", "b"], "a", {"a": 2})  # perfect
    summary.add(["b", "a"], "a", {"a": 2})  # rank 2
    summary.add(["b", "c"], "a", {"a": 2})  # missed
    assert summary.count == 3
    means = summary.means()
    assert means["MRR"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert means["Hit@1"] == pytest.approx(1 / 3)
    assert means["Hit@3"] == pytest.approx(2 / 3)
    assert means["Hit@10"] == pytest.approx(2 / 3)
    assert means["nDCG@10"] == pytest.approx((1 + 1 / math.log2(3)) / 3)


def test_empty_summary_is_nan_not_zero() -> None:
    assert math.isnan(MetricSummary().mean("MRR"))
    with pytest.raises(KeyError):
        MetricSummary().mean("MAP")
    with pytest.raises(ValueError):
        MetricSummary().add_values({"MRR": 1.0})


def test_format_table() -> None:
    good, bad = MetricSummary(), MetricSummary()
    good.add(["a"], "a", {"a": 2})
    bad.add(["b", "a"], "a", {"a": 2})
    table = format_table({"popularity": good, "bm25": bad})
    lines = table.splitlines()
    assert lines[0].split() == ["system", *METRIC_NAMES, "n"]
    assert lines[2].split() == [
        "popularity",
        "1.000",
        "1.000",
        "1.000",
        "1.000",
        "1.000",
        "1.000",
        "1",
    ]
    assert lines[3].split() == ["bm25", "0.500", "0.000", "1.000", "1.000", "1.000", "0.631", "1"]
    # Columns line up: every row is as wide as the header (numbers are right-aligned).
    assert len({len(line) for line in lines}) == 1
    assert format_table({"x": good}, with_count=False).splitlines()[0].split()[-1] == "nDCG@10"


def test_split_halves() -> None:
    assert split_halves([1, 2, 3, 4]) == ([1, 2], [3, 4])
    assert split_halves([1, 2, 3]) == ([1], [2, 3])
    assert split_halves([]) == ([], [])
