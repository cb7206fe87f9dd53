"""Load the whole org into a fresh process, answer questions, report time and peak memory.

Run by `benchmarks.run` as a subprocess, so that the peak resident memory measured is the
bot's own: encoder, router (people, contact graph, vector index, activity) and SQLite.
Prints one JSON line: {"startup_s", "peak_rss_mb", "answered"}.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

from benchmarks.synth import SyntheticOrg, questions
from bot.router import Router
from bot.settings import Settings
from data.store import Store
from embeddings.encoder import Encoder


def peak_rss_mb() -> float:
    """This process's peak resident memory in MiB.

    VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across fork and exec, so a
    child of a big process would report its parent's size."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # pragma: no cover


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--people", type=int, required=True)
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--ann", default="auto")
    parser.add_argument("--backend", default="onnx-int8")
    parser.add_argument("--max-seq-length", type=int, default=128)
    parser.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args()
    settings = Settings(
        _env_file=None, db_path=args.db, ann=args.ann, max_seq_length=args.max_seq_length
    )
    start = time.perf_counter()
    encoder = Encoder(
        max_seq_length=args.max_seq_length, backend=args.backend, cache_dir=args.cache_dir
    )
    router = Router(Store(args.db), encoder, settings)
    startup = time.perf_counter() - start
    answered = 0
    for n, question in enumerate(questions(args.questions, seed=11)):
        asker = SyntheticOrg.person_id((n * 7919) % args.people)
        answered += bool(router.rank(question, asker, limit=5))
    print(json.dumps({"startup_s": startup, "peak_rss_mb": peak_rss_mb(), "answered": answered}))


if __name__ == "__main__":
    main()
