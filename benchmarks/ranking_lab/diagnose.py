"""Why does learning the weights hurt on racket 2018? Numbers for RESULTS.md.

    .venv/bin/python -m benchmarks.ranking_lab.diagnose [--out /tmp/ranking_lab/diagnose.md]

Every dataset is shown, so 2018 can be read against the two where learning helps:

1. the prequential learning curve: learned minus default MRR by quarter of the timeline
   (paired bootstrap intervals) and by how many examples the model had;
2. hindsight: what the logit would reach fitted on the whole timeline (in-sample), a
   greedy coordinate search of the weights on the dataset's own MRR (an optimistic
   ceiling for any reweighting of these features), and blocks of the timeline fitted on
   one block and scored on another (drift shows as off-diagonal loss);
3. the objective: log-likelihood gained by fitting versus MRR gained;
4. estimation noise: the spread of weights between consecutive refits, and models
   fitted on bootstrap resamples of all examples;
5. features whose meaning moves along an export: gold-minus-others gaps per quarter.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.ranking_lab.compare import md_table
from benchmarks.ranking_lab.lab import (
    DATASETS,
    DEFAULT_WEIGHTS,
    Dataset,
    LabExample,
    LinearFit,
    Model,
    Stacked,
    eval_examples,
    evaluate,
    linear_model,
    paired_ci,
    prequential,
    softmax_loss,
    temperature,
)
from bot.features import FEATURES

WATCH = ("act_recency", "act_recent_answers", "avail_day", "resp_answer_share", "mentioned")


def fixed(weights: np.ndarray) -> Callable[[float], Model]:
    """A picker that always returns the same linear model."""
    model = linear_model(weights)
    return lambda _now: model


def mrr_of(ds: Dataset, weights: np.ndarray, part: slice | np.ndarray = slice(None)) -> float:
    """MRR of fixed weights on (a part of) the scored questions."""
    return float(evaluate(ds, fixed(weights)).rr[part].mean())


def coordinate_ceiling(
    ds: Dataset, starts: dict[str, np.ndarray], sweeps: int = 3
) -> tuple[float, str, dict[str, float]]:
    """Greedy search of single-weight changes (x0, x0.5, x0.8, x1.25, x2, x4, sign flip;
    +-0.25 for a zero weight) on the dataset's own MRR, from each start; the best found,
    its start and the weights it changed. Optimistic: it is tuned on the test questions."""
    best_overall = (-1.0, "", {})
    for start_name, start in starts.items():
        w, best = start.copy(), mrr_of(ds, start)
        for _ in range(sweeps):
            for j in range(len(FEATURES)):
                for mult in (0.0, 0.5, 0.8, 1.25, 2.0, 4.0, -1.0):
                    v = w.copy()
                    v[j] = w[j] * mult if w[j] else (0.25 if mult > 1 else -0.25 if mult < 0 else 0)
                    m = mrr_of(ds, v)
                    if m > best + 1e-4:
                        best, w = m, v
        if best > best_overall[0]:
            changed = {f: float(w[i]) for i, f in enumerate(FEATURES) if w[i] != start[i]}
            best_overall = (best, start_name, changed)
    return best_overall


def learning_curve(ds: Dataset, examples: list[LabExample]) -> list[list[str]]:
    """Rows: quarter, questions, examples known, default MRR, learned MRR, delta (CI)."""
    learned = prequential(ds, LinearFit(), examples)[0]
    default = evaluate(ds, fixed(DEFAULT_WEIGHTS))
    known = np.array([e.known_at for e in examples])
    rows = []
    for i, part in enumerate(np.array_split(np.arange(len(ds.scored)), 4)):
        times = ds.asked_at[ds.scored[part]]
        n_lo, n_hi = np.searchsorted(known, times[[0, -1]])
        low, high, _ = paired_ci(learned.rr[part], default.rr[part])
        rows.append(
            [
                f"Q{i + 1}",
                str(len(part)),
                f"{n_lo}-{n_hi}",
                f"{default.rr[part].mean():.3f}",
                f"{learned.rr[part].mean():.3f}",
                f"{learned.rr[part].mean() - default.rr[part].mean():+.3f} "
                f"({low:+.3f}, {high:+.3f})",
            ]
        )
    return rows


def block_matrix(ds: Dataset, examples: list[LabExample], k: int = 5) -> list[list[str]]:
    """Fit on example block i (time order), score question block j; last row default."""
    ex_blocks = np.array_split(np.arange(len(examples)), k)
    q_blocks = np.array_split(np.arange(len(ds.scored)), k)
    rows = []
    for i, block in enumerate(ex_blocks):
        w = LinearFit().weights([examples[b] for b in block], np.inf)
        rr = evaluate(ds, fixed(w)).rr
        rows.append(
            [f"fit on block {i + 1}"]
            + [
                f"**{rr[q].mean():.3f}**" if i == j else f"{rr[q].mean():.3f}"
                for j, q in enumerate(q_blocks)
            ]
        )
    rr = evaluate(ds, fixed(DEFAULT_WEIGHTS)).rr
    rows.append(["default weights"] + [f"{rr[q].mean():.3f}" for q in q_blocks])
    return rows


def refit_spread(ds: Dataset, examples: list[LabExample]) -> tuple[list[list[str]], float]:
    """Watched weights at each refit (in units of t*default where defaults are nonzero),
    and the mean relative change between consecutive refits."""
    _, learner = prequential(ds, LinearFit(), examples)
    rows, changes, previous = [], [], None
    for _, n, model in learner.fitted_at:
        w = model.weights  # type: ignore[attr-defined]
        rows.append([str(n), *[f"{w[FEATURES.index(f)]:+.2f}" for f in WATCH]])
        if previous is not None:
            changes.append(np.linalg.norm(w - previous) / max(np.linalg.norm(previous), 1e-9))
        previous = w
    return rows, float(np.mean(changes)) if changes else float("nan")


def bootstrap_fits(
    ds: Dataset, examples: list[LabExample], samples: int = 30, seed: int = 0
) -> tuple[float, float]:
    """MRR (all scored questions) of models fitted on bootstrap resamples of every
    example: mean and standard deviation. Against the fit on all examples, the gap is
    what estimation noise alone costs at this many examples."""
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(samples):
        pick = np.sort(rng.integers(0, len(examples), len(examples)))
        values.append(mrr_of(ds, LinearFit().weights([examples[i] for i in pick], np.inf)))
    return float(np.mean(values)), float(np.std(values))


def feature_gaps(ds: Dataset) -> list[list[str]]:
    """Per quarter: candidates, and mean scaled feature of the gold minus the mean over
    the other candidates, for the watched features."""
    rows = []
    for i, part in enumerate(np.array_split(ds.scored, 4)):
        gaps = []
        for q in part:
            s, m = ds.scaled[int(q)], ds.mask(int(q)).copy()
            g = int(ds.gold[q])
            m[g] = False
            gaps.append(s[g] - s[m].mean(axis=0))
        gap = np.mean(gaps, axis=0)
        cands = np.mean([ds.mask(int(q)).sum() for q in part])
        rows.append(
            [f"Q{i + 1}", f"{cands:.0f}", *[f"{gap[FEATURES.index(f)]:+.2f}" for f in WATCH]]
        )
    return rows


def rank_trade(ds: Dataset, weights: np.ndarray) -> list[list[str]]:
    """Where fitted weights gain and lose against the defaults, by the gold's place under
    the defaults: questions, mean change in log place, summed change in reciprocal rank."""
    default, fitted = evaluate(ds, fixed(DEFAULT_WEIGHTS)), evaluate(ds, fixed(weights))

    def place(rr: np.ndarray) -> np.ndarray:
        return np.where(rr > 0, 1.0 / np.maximum(rr, 1e-12), 101.0)

    pd, pf = place(default.rr), place(fitted.rr)
    rows = []
    for lo, hi in ((1, 1), (2, 3), (4, 10), (11, 101)):
        m = (pd >= lo) & (pd <= hi)
        rows.append(
            [
                f"{lo}-{hi}" if hi > lo else str(lo),
                str(int(m.sum())),
                f"{np.mean(np.log(pf[m]) - np.log(pd[m])):+.3f}",
                f"{np.sum(fitted.rr[m] - default.rr[m]):+.2f}",
            ]
        )
    return rows


def transfer_matrix() -> list[list[str]]:
    """Weights fitted on all of one dataset's examples, scored on every dataset."""
    data = {n: Dataset.load(n) for n in DATASETS}
    rows = []
    for source in DATASETS:
        w = LinearFit().weights(eval_examples(data[source]), np.inf)
        rows.append(
            [f"fitted on all of {source}", *[f"{mrr_of(data[n], w):.3f}" for n in DATASETS]]
        )
    rows.append(["default weights", *[f"{mrr_of(data[n], DEFAULT_WEIGHTS):.3f}" for n in DATASETS]])
    return rows


def report() -> str:
    """The whole diagnosis as markdown."""
    parts = [
        "### Weights fitted on one whole dataset, scored on each (diagonal in-sample)",
        md_table(["", *DATASETS], transfer_matrix()),
    ]
    summary = []
    for name in DATASETS:
        ds = Dataset.load(name)
        examples = eval_examples(ds)
        default = mrr_of(ds, DEFAULT_WEIGHTS)
        learned = prequential(ds, LinearFit(), examples)[0].mrr
        w_all = LinearFit().weights(examples, np.inf)
        in_sample = mrr_of(ds, w_all)
        ceiling, start, changed = coordinate_ceiling(
            ds, {"default": DEFAULT_WEIGHTS, "the in-sample logit": w_all}
        )
        data = Stacked.of(examples, np.inf)
        t = temperature(data, DEFAULT_WEIGHTS)
        ll_default = -softmax_loss(data.x, data, t * DEFAULT_WEIGHTS)[0]
        ll_fit = -softmax_loss(data.x, data, w_all)[0]
        boot_mean, boot_sd = bootstrap_fits(ds, examples)
        half = len(ds.scored) // 2
        t_half = ds.asked_at[ds.scored[half]]
        first = [e for e in examples if e.known_at < t_half]
        second = slice(half, None)
        w_first = LinearFit().weights(first, t_half)
        spread_rows, spread = refit_spread(ds, examples)
        summary.append(
            [
                name,
                str(len(examples)),
                f"{default:.3f}",
                f"{learned:.3f}",
                f"{in_sample:.3f}",
                f"{boot_mean:.3f} ± {boot_sd:.3f}",
                f"{ceiling:.3f}",
                f"{ll_fit - ll_default:+.3f}",
                f"{mrr_of(ds, DEFAULT_WEIGHTS, second):.3f} / {mrr_of(ds, w_first, second):.3f}",
                f"{spread:.2f}",
            ]
        )
        parts.append(f"### {name}")
        parts.append(
            "The logit fitted on all examples against the defaults, by the gold's place "
            "under the defaults:\n\n"
            + md_table(
                ["default place", "questions", "mean Δ log place", "summed Δ reciprocal rank"],
                rank_trade(ds, w_all),
            )
        )
        parts.append(
            "Learning curve (prequential, learned minus default, paired 95% CI):\n\n"
            + md_table(
                ["quarter", "questions", "examples known", "default", "learned", "Δ (CI)"],
                learning_curve(ds, examples),
            )
        )
        q_names = [f"questions block {j + 1}" for j in range(5)]
        parts.append(
            "Fitted on one fifth of the examples, scored on each fifth of the questions "
            "(diagonal in-sample):\n\n" + md_table(["", *q_names], block_matrix(ds, examples))
        )
        parts.append(
            "Watched weights at each refit (n = examples fitted):\n\n"
            + md_table(["n", *WATCH], spread_rows)
        )
        parts.append(
            "Gold minus other candidates, mean scaled feature, per quarter:\n\n"
            + md_table(["quarter", "candidates", *WATCH], feature_gaps(ds))
        )
        parts.append(
            f"Greedy search on its own MRR, best from {start}, changed: "
            + ", ".join(f"{f} -> {v:.2f}" for f, v in changed.items())
        )
    header = [
        "dataset",
        "examples",
        "default",
        "prequential learned",
        "logit fitted on all (in-sample)",
        "fits on bootstrap resamples (in-sample)",
        "greedy search on own MRR (ceiling)",
        "log-lik gain of the fit (nats/question)",
        "2nd half: default / weights of 1st half",
        "mean relative weight change per refit",
    ]
    return (
        "## Summary (MRR unless stated)\n\n"
        + md_table(header, summary)
        + "\n\n"
        + "\n\n".join(parts)
        + "\n"
    )


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/ranking_lab/diagnose.md"))
    args = parser.parse_args()
    text = report()
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
