"""Is the lab faithful? Re-score the dumps with the product's own code and the lab's.

    .venv/bin/python -m benchmarks.ranking_lab.check

For each dataset: the default `LinearRanker` and a prequential `OnlineLearner` fed the
eval's examples (`bot.training.make_example`, same sampling seed and call order), scored
with `LinearRanker.score` and `top_ranking` on tables rebuilt from the dump; then the same
two with the lab's vectorised path (`lab.LinearFit`, `lab.Prequential`, `lab.rank_of`).
All four should give the MRR `whoknows eval` printed.
"""

from __future__ import annotations

import numpy as np

from benchmarks.ranking_lab.lab import (
    DATASETS,
    DEFAULT_WEIGHTS,
    Dataset,
    LinearFit,
    eval_examples,
    evaluate,
    linear_model,
    prequential,
)
from bot.evaluation.systems import top_ranking
from bot.features import PERSON_AT, QUESTION_AT, FeatureTable
from bot.ranking import LinearRanker
from bot.training import Example, OnlineLearner

# What `whoknows eval` printed for the router (default weights, learned), this checkout.
EVAL_MRR = {
    "beer": (0.297, 0.328),
    "racket2017": (0.543, 0.558),
    "racket2018": (0.465, 0.451),
}


def table_of(matrix: np.ndarray) -> FeatureTable:
    """A FeatureTable with the dense matrix's values (only what ranking reads)."""
    rows = np.flatnonzero((matrix[:, QUESTION_AT] != 0).any(axis=1))
    return FeatureTable(
        rows=rows,
        question=matrix[np.ix_(rows, QUESTION_AT)],
        person=matrix[:, PERSON_AT],
        expertise=None,  # type: ignore[arg-type]
        proximity=None,  # type: ignore[arg-type]
    )


def product_mrr(ds: Dataset) -> tuple[float, float]:
    """MRR of the default ranker and of the product OnlineLearner, product code only."""
    default = LinearRanker(DEFAULT_WEIGHTS.copy())
    learner = OnlineLearner(default)
    for e in eval_examples(ds):
        learner.add(Example(e.rows.astype(np.float32), np.isfinite(e.pos_time), e.known_at))
    ids = [str(i) for i in range(int(ds.offsets[-1]))]  # row index as the id
    rr: dict[str, list[float]] = {"default": [], "learned": []}
    for q in ds.scored:
        table = table_of(ds.matrix(int(q)))
        eligible = ds.mask(int(q))
        gold = str(int(ds.gold[q]))
        for name, ranker in (("default", default), ("learned", learner.model(ds.asked_at[q]))):
            ranking = top_ranking(table, ranker.score(table, eligible), ids[: len(eligible)])
            rr[name].append(1.0 / (ranking.index(gold) + 1) if gold in ranking else 0.0)
    return float(np.mean(rr["default"])), float(np.mean(rr["learned"]))


def main() -> None:
    """Print product-path and lab-path MRRs next to the eval's."""
    print("dataset      eval default/learned   product path          lab path")
    for name in DATASETS:
        ds = Dataset.load(name)
        p_default, p_learned = product_mrr(ds)
        l_default = evaluate(ds, lambda _now: linear_model(DEFAULT_WEIGHTS)).mrr
        l_learned = prequential(ds, LinearFit(), eval_examples(ds))[0].mrr
        e_default, e_learned = EVAL_MRR[name]
        print(
            f"{name:<12} {e_default:.3f} / {e_learned:.3f}        "
            f"{p_default:.4f} / {p_learned:.4f}     {l_default:.4f} / {l_learned:.4f}"
        )


if __name__ == "__main__":
    main()
