"""Time (or profile) the directory + contacts import on existing CSV files.

    python -m benchmarks.import_profile PEOPLE_CSV CONTACTS_CSV --work DIR [--runs 3] [--profile]

The same steps as `benchmarks.run.bench_import` (a fresh `Store`, `import_directory`, then
`import_contacts`), without growing a synthetic org first, so a change to the importers can
be measured in seconds. Run it from another checkout's folder to time that checkout's code.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import time
from pathlib import Path


def import_once(people: Path, contacts: Path, db: Path) -> tuple[float, float]:
    """Seconds for the directory import and the contacts import into a fresh store."""
    from data.importers.contacts import import_contacts
    from data.importers.directory import import_directory
    from data.store import Store

    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    start = time.perf_counter()
    store = Store(db)
    import_directory(store, people)
    middle = time.perf_counter()
    import_contacts(store, contacts)
    store.close()
    return middle - start, time.perf_counter() - middle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.import_profile")
    parser.add_argument("people", type=Path)
    parser.add_argument("contacts", type=Path)
    parser.add_argument("--work", type=Path, required=True, help="folder for the database")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="cProfile one run instead")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    db = args.work / "import-profile.db"
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(import_once, args.people, args.contacts, db)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
        return 0
    totals = []
    for run in range(args.runs):
        people_s, contacts_s = import_once(args.people, args.contacts, db)
        totals.append(people_s + contacts_s)
        print(
            f"run {run + 1}: directory {people_s:.1f} s + contacts {contacts_s:.1f} s "
            f"= {totals[-1]:.1f} s",
            flush=True,
        )
    print(f"median of {args.runs}: {statistics.median(totals):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
