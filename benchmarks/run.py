"""Run every benchmark and print one table: `python -m benchmarks [--quick]`.

Figures (issue 7), each the median of several runs, each with its baseline measured in the
same run:
- routing latency p50 / p99, question embedding included, against a naive router;
- importing the directory and the contact graph through the real importers;
- peak resident memory of a fresh process holding the whole org and answering questions;
- embedding throughput of the fast encoder against plain `SentenceTransformer.encode`;
- routing quality (beer, EVAL.md) of the fast path against the exact router.

Everything is written to a temporary folder (or `--work DIR`); the table is also saved to
`benchmarks/out/` (ignored by git).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.naive import NaiveRouter
from benchmarks.synth import (
    SyntheticOrg,
    base_texts,
    grow_org,
    jittered,
    knowledge_chunks,
    questions,
    write_contacts_csv,
    write_people_csv,
)

ROOT = Path(__file__).resolve().parents[1]
BEER = ROOT.parent / "shared" / "data" / "stackexchange-beer"
OUT = Path(__file__).resolve().parent / "out"
FAST_SEQ = 128  # the fast encoder's token limit
FAST_BACKEND = "onnx-int8"


@dataclass(frozen=True)
class Scale:
    """How big the synthetic org is and how many repetitions each figure gets."""

    name: str
    people: int
    edges: int
    items: int
    bases: int  # distinct embedded texts the item vectors are jittered from
    questions: int  # per latency run of the fast router
    naive_questions: int  # per latency run of the naive router
    runs: int
    encode_texts: int
    quality: bool
    serve_runs: int  # fresh processes loading the org (each loads everything)


FULL = Scale("full", 100_000, 1_000_000, 1_000_000, 10_000, 100, 15, 3, 256, True, 2)
QUICK = Scale("quick", 10_000, 100_000, 100_000, 1_000, 30, 5, 3, 64, False, 3)


@dataclass
class Row:
    """One line of the results table."""

    figure: str
    goal: str
    measured: str
    baseline: str = "-"
    ratio: str = "-"
    passed: bool | None = None
    runs: list[float] = field(default_factory=list)

    def cells(self) -> list[str]:
        verdict = {True: "pass", False: "FAIL", None: "-"}[self.passed]
        return [self.figure, self.goal, self.measured, self.baseline, self.ratio, verdict]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


# ---------------------------------------------------------------------------- stages


def bench_import(scale: Scale, org: SyntheticOrg, work: Path) -> tuple[Row, Path]:
    """Import the directory and contacts files through the real importers, `runs` times."""
    from data.importers.contacts import import_contacts
    from data.importers.directory import import_directory
    from data.store import Store

    people_csv, contacts_csv = work / "people.csv", work / "contacts.csv"
    write_people_csv(org, people_csv)
    write_contacts_csv(org, contacts_csv)
    times = []
    db = work / "org.db"
    for run in range(scale.runs):
        db = work / f"import-{run}.db"
        start = time.perf_counter()
        store = Store(db)
        import_directory(store, people_csv)
        import_contacts(store, contacts_csv)
        store.close()
        times.append(time.perf_counter() - start)
        log(f"import run {run + 1}: {times[-1]:.1f} s")
        if run < scale.runs - 1:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
    took = median(times)
    row = Row(
        f"import {scale.people:,} people + {len(org.edges):,} contact edges",
        "<= 30 s",
        f"{took:.1f} s",
        passed=took <= 30,
        runs=times,
    )
    return row, db


def load_knowledge(scale: Scale, org: SyntheticOrg, db: Path, encoder) -> Row:
    """Write the knowledge items and their vectors (jittered real embeddings)."""
    from data.models import KnowledgeItem
    from data.store import Store

    rng = np.random.default_rng(6)
    texts, topics = base_texts(scale.bases)
    start = time.perf_counter()
    base = encoder.encode(texts)
    embed_s = time.perf_counter() - start
    store = Store(db)
    start = time.perf_counter()
    for rows, base_of in knowledge_chunks(org, scale.items, texts, topics):
        items = [KnowledgeItem(**r) for r in rows]
        store.upsert_knowledge(items)
        vectors = jittered(base[base_of], rng)
        store.save_vectors(
            encoder.model_id,
            ((i.id, i.content_hash(), v) for i, v in zip(items, vectors, strict=True)),
        )
    took = time.perf_counter() - start
    store.close()
    log(f"knowledge: {scale.items:,} items in {took:.0f} s (+{embed_s:.0f} s embedding bases)")
    return Row(
        f"write {scale.items:,} knowledge items + vectors (info)",
        "-",
        f"{took:.0f} s",
    )


def bench_latency(
    scale: Scale, org: SyntheticOrg, db: Path, fast_encoder, plain_encoder, work: Path
) -> list[Row]:
    """Route questions with the real router (fast path) and the naive one."""
    from bot.router import Router
    from bot.settings import Settings
    from data.store import Store

    settings = Settings(_env_file=None, db_path=db, ann="auto", max_seq_length=FAST_SEQ)
    store = Store(db)
    start = time.perf_counter()
    router = Router(store, fast_encoder, settings)
    startup = time.perf_counter() - start
    log(f"router loaded in {startup:.0f} s (approximate: {router.vectors.approximate})")
    qs = questions(scale.questions)
    rng = np.random.default_rng(7)
    askers = [SyntheticOrg.person_id(int(p)) for p in rng.integers(0, org.n_people, len(qs))]

    def timed(rank: Callable[[str, str], object], n: int) -> list[float]:
        out = []
        for q, a in zip(qs[:n], askers[:n], strict=True):
            t = time.perf_counter()
            rank(q, a)
            out.append((time.perf_counter() - t) * 1000)
        return out

    fast = lambda q, a: router.rank(q, a, limit=5)  # noqa: E731
    timed(fast, 5)  # warm up
    fast_runs = []
    for run in range(scale.runs):
        fast_runs.append(timed(fast, len(qs)))
        log(f"fast run {run + 1}: p50 {percentile(fast_runs[-1], 50):.1f} ms")
    log("building the naive router (networkx graph, float32 matrix)")
    naive = NaiveRouter(store, plain_encoder, router.graph, fast_encoder.model_id)
    slow = lambda q, a: naive.rank(q, a, limit=5)  # noqa: E731
    timed(slow, 1)
    naive_runs = []
    for run in range(scale.runs):
        naive_runs.append(timed(slow, scale.naive_questions))
        log(f"naive run {run + 1}: p50 {percentile(naive_runs[-1], 50):.1f} ms")
    # How much of the exact semantic pool the approximate index finds.
    pool = settings.semantic_pool
    recalls = []
    row_of = {item: n for n, item in enumerate(naive.item_ids)}
    for q in qs[:20]:
        qvec = fast_encoder.encode_one(q)
        exact = set(naive.top_items(qvec, pool).tolist())
        rows, _ = router.vectors.top(qvec, pool)
        found = {row_of[router.vectors.item_ids[r]] for r in rows}
        recalls.append(len(exact & found) / len(exact))
    p50 = median([percentile(r, 50) for r in fast_runs])
    p99 = median([percentile(r, 99) for r in fast_runs])
    n50 = median([percentile(r, 50) for r in naive_runs])
    n99 = median([percentile(r, 99) for r in naive_runs])
    store.close()
    # A restart: the router above saved its approximate index beside the database, so a
    # new one loads it and reads from the store only the vectors written since (none).
    reloads = []
    for run in range(scale.runs):
        store = Store(db)
        start = time.perf_counter()
        reloaded = Router(store, fast_encoder, settings)
        reloads.append(time.perf_counter() - start)
        log(f"router restart {run + 1}: {reloads[-1]:.1f} s ({len(reloaded.vectors):,} items)")
        store.close()
        del reloaded
        gc.collect()
    # The memory figure below starts its first serving process from nothing again, as a
    # first start does (its later runs load the index that first one saves).
    shutil.rmtree(f"{db}.vectors", ignore_errors=True)
    return [
        Row(
            "route one question, p50 (embedding included)",
            "<= 50 ms",
            f"{p50:.1f} ms",
            f"naive {n50:.0f} ms",
            f"{n50 / p50:.1f}x faster",
            p50 <= 50,
            [percentile(r, 50) for r in fast_runs],
        ),
        Row(
            "route one question, p99",
            "<= 150 ms",
            f"{p99:.1f} ms",
            f"naive {n99:.0f} ms",
            f"{n99 / p99:.1f}x faster",
            p99 <= 150,
            [percentile(r, 99) for r in fast_runs],
        ),
        Row(
            f"ANN recall of the {pool}-item semantic pool (info)",
            "-",
            f"{np.mean(recalls):.3f}",
            "exact scan 1.000",
        ),
        Row("router startup: first sync from the store (info)", "-", f"{startup:.0f} s"),
        Row(
            "router startup from the saved index (info)",
            "-",
            f"{median(reloads):.1f} s",
            f"from the store {startup:.0f} s",
            f"{startup / median(reloads):.1f}x faster",
            runs=reloads,
        ),
    ]


def bench_memory(scale: Scale, db: Path, work: Path) -> list[Row]:
    """Peak RSS of a fresh process that loads the org and answers questions."""
    peaks, startups = [], []
    for run in range(scale.serve_runs):
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.serve",
                "--db",
                str(db),
                "--people",
                str(scale.people),
                "--backend",
                FAST_BACKEND,
                "--max-seq-length",
                str(FAST_SEQ),
                "--cache-dir",
                str(work / "onnx"),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        peaks.append(result["peak_rss_mb"])
        startups.append(result["startup_s"])
        log(f"serve run {run + 1}: peak {peaks[-1]:.0f} MiB, startup {startups[-1]:.0f} s")
    peak = median(peaks)
    return [
        Row(
            "peak RSS, whole org loaded and serving",
            "<= 2 GiB",
            f"{peak / 1024:.2f} GiB",
            passed=peak <= 2048,
            runs=peaks,
        ),
        Row("startup of that process (info)", "-", f"{median(startups):.0f} s", runs=startups),
    ]


def post_texts(n: int) -> list[str]:
    """`n` real post-length texts: beer posts of 40 words or more, title and body."""
    from bot.evaluation.replay import question_text
    from data.importers.stackexchange import read_dump

    dump = read_dump(BEER)
    posts = [p for p in dump.posts.values() if len(p.body_text.split()) >= 40]
    posts.sort(key=lambda p: int(p.id))
    return [question_text(p) for p in posts[:n]]


def bench_encoder(scale: Scale, fast_encoder, work: Path) -> list[Row]:
    """Texts per second: the fast encoder against plain SentenceTransformer.encode."""
    from sentence_transformers import SentenceTransformer

    from embeddings.encoder import bundled_model_path

    texts = post_texts(scale.encode_texts)
    plain = SentenceTransformer(str(bundled_model_path()), device="cpu")
    plain_rate, fast_rate = [], []
    for run in range(scale.runs):  # interleaved, so both see the same machine
        start = time.perf_counter()
        reference = plain.encode(texts, normalize_embeddings=True)
        plain_rate.append(len(texts) / (time.perf_counter() - start))
        start = time.perf_counter()
        vectors = fast_encoder.encode(texts)
        fast_rate.append(len(texts) / (time.perf_counter() - start))
        log(f"encode run {run + 1}: plain {plain_rate[-1]:.1f}/s, fast {fast_rate[-1]:.1f}/s")
    cosine = (reference * vectors).sum(axis=1)
    ratio = median(fast_rate) / median(plain_rate)
    return [
        Row(
            f"embedding throughput, {len(texts)} real posts (>= 40 words)",
            ">= 2x plain encode",
            f"{median(fast_rate):.1f} texts/s",
            f"plain {median(plain_rate):.1f} texts/s",
            f"{ratio:.2f}x",
            ratio >= 2.0,
            fast_rate,
        ),
        Row(
            "fast vs plain vectors, cosine mean / min (info)",
            "-",
            f"{cosine.mean():.3f} / {cosine.min():.3f}",
        ),
    ]


def bench_quality(fast_encoder, plain_encoder, ablations: bool) -> list[Row]:
    """Router MRR on beer: exact path against the fast path (ANN + fast encoder)."""
    from bot.evaluation.run import ROUTER, evaluate_stackexchange
    from bot.settings import Settings

    def mrr(settings: Settings, encoder) -> float:
        start = time.perf_counter()
        report = evaluate_stackexchange(BEER, settings, None, encoder=encoder)
        value = report.whole[ROUTER].mean("MRR") if hasattr(report.whole[ROUTER], "mean") else None
        if value is None:
            value = _mrr_of(report.whole[ROUTER])
        log(f"beer eval ({settings.ann}, {encoder.model_id}): MRR {value:.4f} "
            f"in {time.perf_counter() - start:.0f} s")  # fmt: skip
        return value

    exact = mrr(Settings(_env_file=None, ann="off"), plain_encoder)
    fast_settings = Settings(_env_file=None, ann="on", max_seq_length=FAST_SEQ)
    fast = mrr(fast_settings, fast_encoder)
    rows = [
        Row(
            "routing quality, beer MRR (ANN on + fast encoder)",
            "within 1% of exact",
            f"{fast:.4f}",
            f"exact {exact:.4f}",
            f"{fast / exact:.3f}",
            fast >= 0.99 * exact,
        )
    ]
    if ablations:
        ann_only = mrr(Settings(_env_file=None, ann="on"), plain_encoder)
        enc_only = mrr(Settings(_env_file=None, ann="off", max_seq_length=FAST_SEQ), fast_encoder)
        rows += [
            Row("  ANN only (info)", "-", f"{ann_only:.4f}", "", f"{ann_only / exact:.3f}"),
            Row(
                "  fast encoder only (info)", "-", f"{enc_only:.4f}", "", f"{enc_only / exact:.3f}"
            ),
        ]
    return rows


def _mrr_of(summary) -> float:
    for name in ("mrr", "MRR"):
        value = getattr(summary, name, None)
        if value is not None:
            return float(value() if callable(value) else value)
    means = summary.means() if hasattr(summary, "means") else summary.as_dict()
    return float(means["MRR"] if "MRR" in means else means["mrr"])


# ------------------------------------------------------------------------------ main


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table."""
    header = ["figure", "goal", "measured (median)", "baseline (same run)", "ratio", "pass"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r.cells()) + " |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small org, no quality eval")
    parser.add_argument("--work", type=Path, help="folder for data (default: a temp dir)")
    parser.add_argument("--runs", type=int, help="repetitions per figure")
    parser.add_argument("--ablations", action="store_true", help="also ANN-only / encoder-only")
    parser.add_argument("--no-quality", action="store_true", help="skip the beer eval")
    parser.add_argument(
        "--only", choices=["encoder", "quality"], help="run just this figure (no synthetic org)"
    )
    args = parser.parse_args(argv)
    scale = QUICK if args.quick else FULL
    if args.runs:
        scale = Scale(**{**scale.__dict__, "runs": args.runs})
    warnings.filterwarnings("ignore")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    with tempfile.TemporaryDirectory(prefix="whoknows-bench-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        return _run(scale, work, args)


def _run(scale: Scale, work: Path, args: argparse.Namespace) -> int:
    from embeddings.encoder import Encoder

    started = time.perf_counter()
    load_at_start = os.getloadavg()[1]
    if args.only:
        fast_encoder = Encoder(
            max_seq_length=FAST_SEQ, backend=FAST_BACKEND, cache_dir=work / "onnx"
        )
        if args.only == "encoder":
            rows = bench_encoder(scale, fast_encoder, work)
        else:
            rows = bench_quality(fast_encoder, Encoder(), args.ablations)
        text = (
            f"whoknows benchmarks, {args.only} only, {os.cpu_count()} cores (load average "
            f"{load_at_start:.1f} at start, {os.getloadavg()[1]:.1f} at end), medians of "
            f"{scale.runs} runs, {(time.perf_counter() - started) / 60:.1f} min\n\n" + table(rows)
        )
        print(text)
        return 0
    log(f"{scale.name} scale: {scale.people:,} people, {scale.edges:,} edges, "
        f"{scale.items:,} items; work in {work}")  # fmt: skip
    org = grow_org(scale.people, scale.edges)
    log(f"org grown: {len(org.edges):,} contact edges, {org.teams.max() + 1:,} teams")
    rows: list[Row] = []
    import_row, db = bench_import(scale, org, work)
    rows.append(import_row)
    fast_encoder = Encoder(max_seq_length=FAST_SEQ, backend=FAST_BACKEND, cache_dir=work / "onnx")
    plain_encoder = Encoder()
    rows.append(load_knowledge(scale, org, db, fast_encoder))
    rows[:0] = bench_latency(scale, org, db, fast_encoder, plain_encoder, work)
    rows += bench_memory(scale, db, work)
    rows += bench_encoder(scale, fast_encoder, work)
    if scale.quality and not args.no_quality:
        rows += bench_quality(fast_encoder, plain_encoder, args.ablations)
    else:
        rows.append(Row("routing quality, beer MRR", "within 1% of exact",
                        "skipped (quick mode)"))  # fmt: skip
    elapsed = time.perf_counter() - started
    load = os.getloadavg()[1]
    text = (
        f"whoknows benchmarks, {scale.name} scale ({scale.people:,} people, "
        f"{len(org.edges):,} contact edges, {scale.items:,} knowledge items), "
        f"{os.cpu_count()} cores (load average {load_at_start:.1f} at start, {load:.1f} at end), "
        f"medians of {scale.runs} runs ({scale.serve_runs} for memory), "
        f"{elapsed / 60:.1f} min\n\n" + table(rows)
    )
    print(text)
    OUT.mkdir(exist_ok=True)
    (OUT / f"results-{scale.name}.md").write_text(text + "\n", encoding="utf-8")
    (OUT / f"results-{scale.name}.json").write_text(
        json.dumps([r.__dict__ for r in rows], indent=1), encoding="utf-8"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
