"""Prequential comparison of learners, hyperparameters chosen leave-one-dataset-out.

    .venv/bin/python -m benchmarks.ranking_lab.compare [--out /tmp/ranking_lab/compare.md]

Every candidate ranks each evaluable question with a model fitted only on answers known
before it was asked, on the eval's refit schedule (see `lab.Prequential`). A family of
candidates is a grid of hyperparameters; for each held-out dataset the grid point with
the best mean "MRR / strongest baseline's MRR" on the two other datasets is chosen and
scored on the held-out one, so no number in the per-dataset tables was tuned on its own
dataset. Intervals: 95% bootstrap over questions; deltas: paired bootstrap against the
current OnlineLearner on the same questions.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from benchmarks.ranking_lab.lab import (
    CURRENT,
    DATASETS,
    DEFAULT_WEIGHTS,
    Dataset,
    Fitter,
    Gated,
    GbmFit,
    LabExample,
    LinearFit,
    Schedule,
    Scores,
    all_replier_examples,
    bootstrap_ci,
    eval_examples,
    evaluate,
    linear_model,
    paired_ci,
    prequential,
    strongest_baseline,
    transfer_weights,
)

L2S = (1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)


@dataclass(frozen=True)
class Config:
    """One candidate: a fitter (None: the default weights), its schedule and examples."""

    family: str
    label: str
    fitter: Fitter | None
    schedule: Schedule = CURRENT
    examples: str = "eval"  # "eval": the eval's own; "all": every replier / answerer
    gate: int | None = None  # champion/challenger window (0: all); None: no gate
    transfer: float | None = None  # defaults learned from the other orgs (their fit's L2)


def families() -> dict[str, list[Config]]:
    """Every candidate family and its grid."""
    f: dict[str, list[Config]] = {}

    def add(family: str, label: str, fitter: Fitter | None, **kw: object) -> None:
        f.setdefault(family, []).append(Config(family, label, fitter, **kw))  # type: ignore[arg-type]

    add("current OnlineLearner", "l2=10 min=10 window=3000", LinearFit())
    add("default weights", "-", None)
    for l2 in L2S:
        add("L2 towards 0 (current form)", f"l2={l2:g}", LinearFit(l2=l2))
    for prior in ("default", "default_t"):
        for l2 in L2S:
            add("L2 towards defaults", f"prior={prior} l2={l2:g}", LinearFit(l2=l2, prior=prior))
    for k in (10, 30, 100, 300, 1000, 3000):
        add("blend n/(n+k) with t*defaults", f"k={k}", LinearFit(blend_k=k))
    for m in (10, 20, 30, 60, 100):
        add("min_examples", f"min={m}", LinearFit(), schedule=Schedule(min_examples=m))
    for w in (50, 100, 200, 400, 3000):
        add("window (max_examples)", f"window={w}", LinearFit(), schedule=Schedule(max_examples=w))
    for l2 in (3.0, 10.0, 30.0, 100.0, 300.0):
        for m in (10, 30, 60):
            for w in (100, 200, 3000):
                add(
                    "L2 x min x window",
                    f"l2={l2:g} min={m} window={w}",
                    LinearFit(l2=l2),
                    schedule=Schedule(min_examples=m, max_examples=w),
                )
    for h in (25, 50, 100, 200, 400):
        for prior, l2 in (("zero", 10.0), ("default_t", 30.0), ("default_t", 100.0)):
            add(
                "recency-weighted examples",
                f"half_life={h} prior={prior} l2={l2:g}",
                LinearFit(l2=l2, prior=prior, half_life=h),
            )
    for prior in ("zero", "default_t"):
        for l2 in (10.0, 30.0, 100.0, 300.0):
            add(
                "all repliers / answerers positive",
                f"prior={prior} l2={l2:g}",
                LinearFit(l2=l2, prior=prior),
                examples="all",
            )
    for prior in ("zero", "default_t"):
        for l2 in (1.0, 10.0, 100.0):
            add(
                "group weights (8, not 24)",
                f"prior={prior} l2={l2:g}",
                LinearFit(l2=l2, prior=prior, groups=True),
            )
    for l2 in (0.3, 1.0, 3.0, 10.0, 30.0):
        add("no standardisation", f"l2={l2:g}", LinearFit(l2=l2, standardise=False))
    for pooled in (10.0, 100.0):
        add(
            "defaults learned on the other orgs",
            f"pooled l2={pooled:g}, fixed",
            None,
            transfer=pooled,
        )
        for l2 in (10.0, 30.0, 100.0, 300.0, 1000.0):
            add(
                "defaults learned on the other orgs",
                f"pooled l2={pooled:g}, org fit towards them l2={l2:g}",
                LinearFit(l2=l2, prior="default"),
                transfer=pooled,
            )
    for floor in (0.05, 0.1, 0.2):
        for l2 in (10.0, 100.0):
            add(
                "std floor in the standardisation",
                f"floor={floor} l2={l2:g}",
                LinearFit(l2=l2, std_floor=floor),
            )
    for base, fitter in (
        ("current", LinearFit()),
        ("prior=default_t l2=100", LinearFit(100.0, "default_t")),
    ):
        for window in (20, 50, 100, 0):
            add(
                "gate: learned only while it beats defaults",
                f"{base} window={window or 'all'}",
                fitter,
                gate=window,
            )
    gbm = Schedule(min_examples=30)
    for trees in (50, 200):
        for leaves in (3, 7):
            add(
                "GBM LambdaRank",
                f"trees={trees} leaves={leaves} min=30",
                GbmFit(trees=trees, leaves=leaves),
                schedule=gbm,
            )
    for leaves in (3, 7):
        add(
            "GBM pointwise (binary)",
            f"trees=100 leaves={leaves} min=30",
            GbmFit(objective="binary", leaves=leaves),
            schedule=gbm,
        )
    for trees in (25, 100):
        add(
            "GBM LambdaRank on the linear score",
            f"trees={trees} leaves=3 min=30",
            GbmFit(trees=trees, leaves=3, on_linear=True),
            schedule=gbm,
        )
    return f


@dataclass
class Bench:
    """The datasets, their examples and strongest baselines, and a cache of results."""

    data: dict[str, Dataset]
    examples: dict[tuple[str, str], list[LabExample]]
    peers: dict[str, tuple[str, Scores]]
    results: dict[tuple[str, str, str, tuple[str, ...]], Scores]
    transfers: dict[tuple[tuple[str, ...], float], np.ndarray] = field(default_factory=dict)

    @classmethod
    def load(cls, names: Iterable[str] = DATASETS) -> Bench:
        """Load the dumps and build both kinds of examples."""
        data = {n: Dataset.load(n) for n in names}
        examples = {}
        for n, ds in data.items():
            examples[n, "eval"] = eval_examples(ds)
            examples[n, "all"] = all_replier_examples(ds)
        return cls(data, examples, {n: strongest_baseline(ds) for n, ds in data.items()}, {})

    def score(self, config: Config, name: str, held_out: str | None = None) -> Scores:
        """Prequential scores of a candidate on one dataset (cached). Defaults learned
        from other orgs (`config.transfer`) come from every dataset but `name` and
        `held_out`, so choosing on two datasets never sees the third."""
        sources = tuple(n for n in self.data if n not in (name, held_out))
        key = (config.family, config.label, name, sources if config.transfer else ())
        if key in self.results:
            return self.results[key]
        ds = self.data[name]
        examples = self.examples[name, config.examples]
        defaults = DEFAULT_WEIGHTS
        fitter = config.fitter
        if config.transfer is not None:
            if (sources, config.transfer) not in self.transfers:
                pooled = [self.examples[n, "eval"] for n in sources]
                self.transfers[sources, config.transfer] = transfer_weights(pooled, config.transfer)
            defaults = self.transfers[sources, config.transfer]
            if isinstance(fitter, LinearFit):
                fitter = replace(fitter, default=defaults)
        if fitter is None:
            fixed = linear_model(defaults)
            result = evaluate(ds, lambda _now: fixed)
        elif config.gate is not None:
            gated = Gated(examples, ds.asked_at, fitter, config.gate, config.schedule)
            result = evaluate(ds, gated.model)
        else:
            default = linear_model(defaults)
            result = prequential(ds, fitter, examples, config.schedule, default)[0]
        self.results[key] = result
        return result

    def ratio(self, config: Config, name: str, held_out: str | None = None) -> float:
        """MRR / the strongest baseline's MRR on that dataset."""
        return self.score(config, name, held_out).mrr / self.peers[name][1].mrr


def choose(bench: Bench, grid: list[Config], held_out: str, worst: bool = False) -> Config:
    """The grid point with the best mean (or, with `worst`, the best smallest) MRR ratio
    to the strongest baseline over every dataset but `held_out` (the first if tied)."""
    on = [n for n in bench.data if n != held_out]
    combine = np.min if worst else np.mean
    return max(grid, key=lambda c: float(combine([bench.ratio(c, n, held_out) for n in on])))


def md_table(header: list[str], rows: list[list[str]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def dataset_table(bench: Bench, name: str, fams: dict[str, list[Config]]) -> str:
    """Per-dataset table: each family at the grid point chosen on the other datasets."""
    current = bench.score(fams["current OnlineLearner"][0], name)
    peer_name, peer = bench.peers[name]
    rows = []
    for family, grid in fams.items():
        config = choose(bench, grid, name) if len(grid) > 1 else grid[0]
        s = bench.score(config, name)
        low, high = bootstrap_ci(s.rr)
        d_low, d_high, _ = paired_ci(s.rr, current.rr)
        delta = s.mrr - current.mrr
        rows.append(
            [
                family,
                config.label,
                f"{s.mrr:.3f}",
                f"{low:.3f}-{high:.3f}",
                f"{s.hit(1).mean():.3f}",
                f"{s.hit(5).mean():.3f}",
                f"{s.any_rr.mean():.3f}",
                "-"
                if family.startswith("current")
                else f"{delta:+.3f} ({d_low:+.3f}, {d_high:+.3f})",
                f"{s.mrr / peer.mrr:.2f}x",
            ]
        )
    low, high = bootstrap_ci(peer.rr)
    rows.append(
        [
            f"strongest baseline: {peer_name}",
            "-",
            f"{peer.mrr:.3f}",
            f"{low:.3f}-{high:.3f}",
            f"{peer.hit(1).mean():.3f}",
            f"{peer.hit(5).mean():.3f}",
            f"{peer.any_rr.mean():.3f}",
            "-",
            "1.00x",
        ]
    )
    header = [
        "method",
        "hyperparameters (chosen on the other two)",
        "MRR",
        "95% CI",
        "Hit@1",
        "Hit@5",
        "any-MRR",
        "ΔMRR vs current (paired 95% CI)",
        "/ peer",
    ]
    n = len(bench.data[name].scored)
    return f"### {name} ({n} questions)\n\n" + md_table(header, rows)


def lodo_table(bench: Bench, fams: dict[str, list[Config]], worst: bool = False) -> str:
    """Leave-one-dataset-out: per family and held-out dataset, the choice and its score
    (chosen by the mean ratio on the other two, or by their worst with `worst`)."""
    names = list(bench.data)
    rows = []
    for family, grid in fams.items():
        cells = [family]
        lowest = np.inf
        for name in names:
            config = choose(bench, grid, name, worst) if len(grid) > 1 else grid[0]
            s = bench.score(config, name)
            current = bench.score(fams["current OnlineLearner"][0], name)
            lowest = min(lowest, bench.ratio(config, name))
            label = config.label if len(grid) > 1 else ""
            cells.append(f"{s.mrr:.3f} ({s.mrr - current.mrr:+.3f}) {label}".strip())
        cells.append(f"{lowest:.2f}x")
        rows.append(cells)
    header = ["method", *[f"held out: {n}" for n in names], "worst / peer"]
    return md_table(header, rows)


def everything_table(bench: Bench, fams: dict[str, list[Config]]) -> str:
    """Model selection itself left out: the best config of every family together, chosen
    on two datasets, scored on the third."""
    pool = [c for grid in fams.values() for c in grid]
    names = list(bench.data)
    current = fams["current OnlineLearner"][0]
    rows = []
    for name in names:
        config = choose(bench, pool, name)
        s, c = bench.score(config, name), bench.score(current, name)
        d_low, d_high, _ = paired_ci(s.rr, c.rr)
        rows.append(
            [
                name,
                f"{config.family}: {config.label}",
                f"{s.mrr:.3f}",
                f"{s.mrr - c.mrr:+.3f} ({d_low:+.3f}, {d_high:+.3f})",
                f"{bench.ratio(config, name):.2f}x",
            ]
        )
    header = ["held out", "chosen on the other two", "MRR", "Δ vs current (paired CI)", "/ peer"]
    return md_table(header, rows)


def grid_table(bench: Bench, fams: dict[str, list[Config]]) -> str:
    """Every grid point on every dataset (for sensitivity; not for choosing)."""
    names = list(bench.data)
    rows = []
    for family, grid in fams.items():
        for config in grid:
            mrrs = [bench.score(config, n).mrr for n in names]
            ratios = [bench.ratio(config, n) for n in names]
            rows.append(
                [
                    family,
                    config.label,
                    *[f"{m:.3f}" for m in mrrs],
                    f"{np.mean(ratios):.3f}",
                    f"{min(ratios):.2f}x",
                ]
            )
    return md_table(["family", "config", *names, "mean / peer", "worst / peer"], rows)


def report(bench: Bench, progress: Callable[[str], None] = print) -> str:
    """All tables as markdown."""
    fams = families()
    started = time.monotonic()
    for family, grid in fams.items():
        for config in grid:
            for name in bench.data:
                bench.score(config, name)
        progress(f"  {family}: {len(grid)} configs, {time.monotonic() - started:.0f}s")
    parts = ["## Per dataset (every family at the point chosen on the other two datasets)"]
    parts += [dataset_table(bench, name, fams) for name in bench.data]
    parts += [
        "## Leave-one-dataset-out, per family (MRR on the held-out set, Δ vs current, choice)",
        lodo_table(bench, fams),
        "Same, choosing by the worse of the two other datasets (maximin) instead of the mean:",
        lodo_table(bench, fams, worst=True),
    ]
    parts += ["## Leave-one-dataset-out over all families at once", everything_table(bench, fams)]
    parts += ["## Every grid point (sensitivity only)", grid_table(bench, fams)]
    return "\n\n".join(parts) + "\n"


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/ranking_lab/compare.md"))
    args = parser.parse_args()
    text = report(Bench.load())
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
