"""Time `whoknows import slack-export` at a million messages: one command, one table.

    python -m benchmarks.slack_import [--messages N] [--runs R] [--small N] [--work DIR]

A synthetic Slack admin export (`users.json`, `channels.json`, `<channel>/<day>.json`) is
written to a temporary folder (not timed), shaped like the real racket 2018 export in
`../shared/data/slack-racket/2018` (its message lengths, thread sizes, people per thread,
share of own replies in a thread, reply delays that cross into later day files, mentions,
links, code and entities), with many channels and people instead of one channel of 144,
and a few per cent of system and bot messages. Without the racket export, fixed figures
measured on it are used.

Then `import_slack_export` reads it into a fresh store, R times at N messages and
`--small-runs` times at `--small` messages (the median is reported; default R = 1 at 1M,
3 at the smaller size). Each figure has its baseline run in the same process, right
after: the raw floor of the same work, which is `json.loads` of every day file plus the
importer's own knowledge items written with one plain `executemany` into a table with
the same columns and no full-text index, triggers or secondary indexes. The ratio says
how far the importer is from that floor. Peak RSS is the process's VmHWM, reset before
each run (`/proc/self/clear_refs`), so it is that run's peak with the interpreter and
modules included (what a `whoknows import slack-export` process needs).
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import ctypes
import gc
import json
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RACKET = ROOT.parent / "shared" / "data" / "slack-racket" / "2018"
OUT = Path(__file__).resolve().parent / "out"
START = datetime(2021, 1, 4, tzinfo=UTC)

# Used when the racket export is not there: what racket 2018 measures (9,709 messages).
FALLBACK_LENGTHS = [12, 21, 30, 45, 62, 83, 110, 153, 205, 275, 402, 829, 1500]
FALLBACK_REPLIES = [1, 1, 2, 2, 3, 5, 7, 9, 12, 17, 26, 40, 92]
FALLBACK_DELAYS = [30, 194, 500, 882, 2000, 3424, 7000, 13326, 30000, 55112, 254259]

WORDS = (
    "the a to is it i and of in that you for this be with on not if can but do have are "
    "what so as just an or at use there like my think would one from get no way module "
    "function macro syntax racket define lambda list string struct contract require "
    "provide type typed error value expander phase namespace eval compile raco package "
    "install docs scribble test rackunit match hash vector stream thread place future "
    "channel port file path regexp parameter continuation prompt exception handler class "
    "object interface mixin gui frame canvas draw pict plot slideshow drracket repl "
    "version release build bug issue patch commit github pull request merge branch "
    "performance memory gc allocation benchmark fast slow loop recursion tail call "
    "closure binding scope identifier hygiene transformer template pattern literal "
    "keyword argument optional rest apply values define-values let letrec begin cond "
    "when unless case quote quasiquote unquote syntax-parse syntax-case datum srcloc "
    "reader lang language dsl parser lexer grammar token ast interpreter compiler "
    "chez scheme cs bc jit machine code linklet instance visit instantiate submodule "
    "main configure-runtime info collection setup server web http request response "
    "json xml database sqlite postgres query connection ffi unsafe pointer c library"
).split()


# ----------------------------------------------------------------------- the shape


@dataclass
class Shape:
    """Distributions of a real export, to draw a synthetic one from."""

    lengths: list[int]  # message text lengths (characters)
    replies: list[int]  # replies per thread
    delays: list[float]  # seconds from a thread's root to a reply
    repliers: list[int]  # distinct repliers per thread
    own_reply: float  # share of replies written by the thread's root author
    lone: float  # share of human messages outside threads (no replies)
    roots: float  # share of human messages that start a thread
    mention: float
    link: float
    code: float
    entity: float
    multiline: float
    source: str


def racket_shape(folder: Path = RACKET) -> Shape:
    """The shape of racket 2018 (or fixed figures measured on it, without the export)."""
    day_files = sorted(folder.glob("*/*.json"))
    if not day_files:
        return Shape(
            FALLBACK_LENGTHS, FALLBACK_REPLIES, FALLBACK_DELAYS, [1, 2, 2, 3, 4, 7],
            0.40, 0.03, 0.083, 0.20, 0.078, 0.05, 0.05, 0.09, "racket 2018 figures",
        )  # fmt: skip
    msgs = [m for f in day_files for m in json.loads(f.read_text(encoding="utf-8"))]
    human = [m for m in msgs if not m.get("subtype") and m.get("user")]
    texts = [m.get("text") or "" for m in human]
    replies = [m for m in human if m.get("thread_ts") and m["thread_ts"] != m["ts"]]
    by_thread: dict[str, list[dict]] = defaultdict(list)
    for m in replies:
        by_thread[m["thread_ts"]].append(m)
    roots = sum(1 for m in human if m.get("thread_ts") == m["ts"])
    n = len(human)
    return Shape(
        lengths=sorted(len(t) for t in texts),
        replies=sorted(len(v) for v in by_thread.values()),
        delays=sorted(float(m["ts"]) - float(m["thread_ts"]) for m in replies),
        repliers=sorted(len({m["user"] for m in v}) for v in by_thread.values()),
        own_reply=sum(m["user"] == m.get("parent_user_id") for m in replies) / len(replies),
        lone=(n - roots - len(replies)) / n,
        roots=roots / n,
        mention=sum("<@" in t for t in texts) / n,
        link=sum("<http" in t for t in texts) / n,
        code=sum("`" in t for t in texts) / n,
        entity=sum("&gt;" in t or "&amp;" in t for t in texts) / n,
        multiline=sum("\n" in t for t in texts) / n,
        source=f"racket 2018 ({n:,} human messages)",
    )


# ------------------------------------------------------------------- the generator


class _Writer:
    """Draws messages of the shape and writes them as an export folder."""

    def __init__(self, shape: Shape, rng: random.Random, n_users: int) -> None:
        self.shape = shape
        self.rng = rng
        self.users = [f"U{i:08X}" for i in range(n_users)]
        # Activity is heavy-tailed, as in racket (its 10 busiest people wrote 64%).
        weights = [1.0 / (i + 1) ** 0.9 for i in range(n_users)]
        self.cum = list(_cumsum(weights))
        self.names = {sid: f"Person {i}" for i, sid in enumerate(self.users)}
        self.ts_used: set[str] = set()
        self.counter = 0

    def user(self) -> str:
        return self.users[bisect.bisect(self.cum, self.rng.random() * self.cum[-1])]

    def draw(self, values: list) -> float:
        return values[int(self.rng.random() * len(values))]

    def text(self) -> str:
        rng, shape = self.rng, self.shape
        length = max(1, int(self.draw(shape.lengths)))
        words: list[str] = []
        size = 0
        while size < length:
            word = WORDS[min(int(rng.expovariate(1 / 40)), len(WORDS) - 1)]
            words.append(word)
            size += len(word) + 1
        if rng.random() < shape.multiline and len(words) > 6:
            words.insert(len(words) // 2, "\n")
        text = " ".join(words)[:length]
        if rng.random() < shape.code:
            text = f"how about `({WORDS[int(rng.random() * 60) + 40]} x)` {text}"
        if rng.random() < shape.entity:
            text = f"&gt; {text} &amp; so on"
        if rng.random() < shape.link:
            text += f" <https://docs.example.org/{int(rng.random() * 1000)}|the docs>"
        if rng.random() < shape.mention:
            text = f"<@{self.user()}> {text}"
        return text

    def ts(self, t: float) -> str:
        stamp = f"{t:.6f}"
        while stamp in self.ts_used:
            t += 0.000001
            stamp = f"{t:.6f}"
        self.ts_used.add(stamp)
        return stamp

    def message(self, sid: str, ts: str, text: str) -> dict:
        self.counter += 1
        name = self.names[sid]
        return {
            "client_msg_id": f"{self.counter:08x}-0000-4000-8000-{self.counter:012x}",
            "type": "message",
            "text": text,
            "user": sid,
            "ts": ts,
            "team": "T0BENCH01",
            "user_team": "T0BENCH01",
            "source_team": "T0BENCH01",
            "user_profile": {
                "first_name": name.split()[0],
                "real_name": name,
                "display_name": name,
                "team": "T0BENCH01",
                "name": name.lower().replace(" ", "."),
                "is_restricted": False,
                "is_ultra_restricted": False,
            },
        }

    def system(self, ts: str) -> dict:
        kind = self.rng.random()
        sid = self.user()
        if kind < 0.5:
            return {"type": "message", "subtype": "channel_join", "user": sid, "ts": ts,
                    "text": f"<@{sid}> has joined the channel"}  # fmt: skip
        if kind < 0.6:
            topic = f"<@{sid}> set the channel topic: builds"
            return {"type": "message", "subtype": "channel_topic", "user": sid, "ts": ts,
                    "text": topic, "topic": "builds"}  # fmt: skip
        return {"type": "message", "subtype": "bot_message", "bot_id": "B0BENCH01", "ts": ts,
                "username": "ci", "text": "build #123 passed"}  # fmt: skip

    def channel(self, folder: Path, n_messages: int, days: int) -> int:
        """Write one channel's day files; returns how many messages (system ones included)."""
        rng, shape = self.rng, self.shape
        self.ts_used = set()
        span = days * 86400.0
        start = START.timestamp()
        by_day: dict[str, list[dict]] = defaultdict(list)
        written = 0
        while written < n_messages:
            t = start + rng.random() * span
            root_sid = self.user()
            kind = rng.random()
            if kind < 0.08:  # a system or bot message (about 1% of all messages)
                msg = self.system(self.ts(t))
                by_day[_day(t)].append(msg)
                written += 1
                continue
            root_ts = self.ts(t)
            root = self.message(root_sid, root_ts, self.text())
            by_day[_day(t)].append(root)
            written += 1
            if kind < 0.08 + shape.lone / (shape.lone + shape.roots) * 0.92:
                continue  # nobody replied
            n_replies = int(self.draw(shape.replies))
            others = [self.user() for _ in range(int(self.draw(shape.repliers)))]
            replies = []
            for _ in range(n_replies):
                sid = root_sid if rng.random() < shape.own_reply else rng.choice(others)
                rt = min(t + self.draw(shape.delays) + rng.random(), start + span - 1)
                replies.append((rt, sid))
            replies.sort()
            stamps = []
            for rt, sid in replies:
                reply = self.message(sid, self.ts(rt), self.text())
                reply["thread_ts"] = root_ts
                reply["parent_user_id"] = root_sid
                by_day[_day(rt)].append(reply)
                stamps.append((sid, reply["ts"]))
            written += len(replies)
            # The root's snapshot fields (which the importer must never read).
            root.update(
                thread_ts=root_ts,
                reply_count=len(stamps),
                reply_users_count=len({s for s, _ in stamps}),
                latest_reply=stamps[-1][1] if stamps else root_ts,
                reply_users=sorted({s for s, _ in stamps}),
                replies=[{"user": s, "ts": ts} for s, ts in stamps],
                is_locked=False,
                subscribed=False,
            )
        folder.mkdir(parents=True, exist_ok=True)
        for day, msgs in by_day.items():
            msgs.sort(key=lambda m: float(m["ts"]))
            (folder / f"{day}.json").write_text(json.dumps(msgs, indent=4), encoding="utf-8")
        return written


def _cumsum(values: list[float]):
    total = 0.0
    for v in values:
        total += v
        yield total


def _day(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d")


def write_export(folder: Path, n_messages: int, shape: Shape, seed: int = 7) -> dict:
    """A synthetic export of about `n_messages` messages in `folder`; what it holds."""
    rng = random.Random(seed)
    n_users = max(150, n_messages // 400)
    n_channels = max(1, n_messages // 25_000)
    per_channel = n_messages // n_channels
    days = max(7, per_channel // 27)  # racket 2018: a median day file of about 20-30
    writer = _Writer(shape, rng, n_users)
    users = []
    for i, sid in enumerate(writer.users):
        name = writer.names[sid]
        users.append({
            "id": sid, "team_id": "T0BENCH01", "name": name.lower().replace(" ", "."),
            "deleted": i % 97 == 96, "real_name": name, "tz": "Europe/Berlin",
            "profile": {"title": "", "real_name": name, "display_name": name,
                        "email": f"person{i}@example.com", "team": "T0BENCH01"},
            "is_bot": i % 211 == 210, "is_app_user": False,
        })  # fmt: skip
    users.append({"id": "USLACKBOT", "name": "slackbot", "real_name": "Slackbot",
                  "deleted": False, "is_bot": False, "profile": {}})  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "users.json").write_text(json.dumps(users, indent=4), encoding="utf-8")
    channels = []
    total = 0
    for c in range(n_channels):
        name = f"team-{c:03d}"
        channels.append({"id": f"C{c:08X}", "name": name, "created": int(START.timestamp()),
                         "creator": writer.users[0], "is_archived": False,
                         "is_general": c == 0, "members": []})  # fmt: skip
        count = per_channel + (n_messages - per_channel * n_channels if c == 0 else 0)
        total += writer.channel(folder / name, count, days)
    (folder / "channels.json").write_text(json.dumps(channels, indent=4), encoding="utf-8")
    size = sum(f.stat().st_size for f in folder.rglob("*.json"))
    files = sum(1 for _ in folder.glob("*/*.json"))
    return {"messages": total, "users": n_users, "channels": n_channels, "days": days,
            "day_files": files, "bytes": size}  # fmt: skip


# ---------------------------------------------------------------------- measuring


def reset_peak() -> bool:
    """Start a new peak-RSS measurement (Linux: VmHWM back to the current RSS)."""
    gc.collect()
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:  # pragma: no cover
        return False


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")  # pragma: no cover


def _fresh(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def run_import(export: Path, db: Path, profile: Path | None = None) -> tuple[float, float, int]:
    """Seconds, peak RSS (MiB) and items of one import into a fresh store."""
    from data.importers.slack_export import import_slack_export
    from data.store import Store

    _fresh(db)
    reset_peak()
    start = time.perf_counter()
    if profile is not None:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    store = Store(db)
    result = import_slack_export(store, export)
    store.close()
    seconds = time.perf_counter() - start
    if profile is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    return seconds, peak_rss_mb(), result.items.inserted


def run_floor(export: Path, items_db: Path, db: Path) -> tuple[float, float]:
    """Seconds and peak RSS of the raw floor: `json.loads` of every day file, and the
    items the importer wrote (read back from `items_db` beforehand, not timed) written by
    one plain `executemany` into a table with the same columns, no FTS, in one
    transaction, with the store's pragmas."""
    src = sqlite3.connect(items_db)
    rows = src.execute(
        "SELECT id, person_id, title, text, kind, source, url, tags, created_at, content_hash "
        "FROM knowledge ORDER BY rowid"
    ).fetchall()
    src.close()
    files = sorted(export.glob("*/*.json"))
    _fresh(db)
    reset_peak()
    start = time.perf_counter()
    messages = 0
    for f in files:
        messages += len(json.loads(f.read_bytes().decode("utf-8")))
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(
        "CREATE TABLE knowledge (id TEXT PRIMARY KEY, person_id TEXT NOT NULL, title TEXT, "
        "text TEXT NOT NULL, kind TEXT, source TEXT, url TEXT, tags TEXT, created_at TEXT, "
        "content_hash TEXT NOT NULL, seq INTEGER)"
    )
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO knowledge VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(*r, n) for n, r in enumerate(rows, 1)],
    )
    conn.execute("COMMIT")
    conn.close()
    seconds = time.perf_counter() - start
    del rows
    return seconds, peak_rss_mb()


@dataclass
class Figure:
    messages: int
    runs: list[float]
    floors: list[float]
    peaks: list[float]
    floor_peaks: list[float]
    items: int

    def row(self) -> list[str]:
        seconds = statistics.median(self.runs)
        floor = statistics.median(self.floors)
        runs = f"{len(self.runs)} run" + ("s" if len(self.runs) > 1 else "")
        goal = f"<= {60 * self.messages / 1_000_000:.0f} s" if self.messages >= 1_000_000 else "-"
        return [
            f"{self.messages:,}",
            f"{self.items:,}",
            f"{seconds:.1f} s ({runs})",
            f"{self.messages / seconds:,.0f}",
            f"{statistics.median(self.peaks):,.0f} MiB",
            f"{floor:.1f} s, {statistics.median(self.floor_peaks):,.0f} MiB",
            f"{seconds / floor:.2f}x",
            goal,
        ]


def measure(export: Path, messages: int, runs: int, work: Path, profile: Path | None) -> Figure:
    fig = Figure(messages, [], [], [], [], 0)
    db = work / "import.db"
    for run in range(runs):
        seconds, peak, items = run_import(export, db, profile if run == 0 else None)
        fig.items = items
        floor, floor_peak = run_floor(export, db, work / "floor.db")
        fig.runs.append(seconds)
        fig.peaks.append(peak)
        fig.floors.append(floor)
        fig.floor_peaks.append(floor_peak)
        log(f"{messages:,} messages, run {run + 1}: import {seconds:.1f} s "
            f"(peak {peak:,.0f} MiB), floor {floor:.1f} s")  # fmt: skip
    _fresh(db)
    _fresh(work / "floor.db")
    return fig


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def table(figures: list[Figure]) -> str:
    header = ["messages", "items", "import (median)", "messages/s", "peak RSS",
              "floor: json.loads + plain executemany", "ratio", "goal"]  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(f.row()) + " |" for f in figures]
    return "\n".join(lines)


def export_for(work: Path, n: int, shape: Shape) -> tuple[Path, dict]:
    """The export of `n` messages in `work` (written once; kept with --work)."""
    folder = work / f"export-{n}"
    info_file = folder / "bench-info.json"
    if info_file.exists():
        return folder, json.loads(info_file.read_text())
    if folder.exists():
        shutil.rmtree(folder)
    start = time.perf_counter()
    info = write_export(folder, n, shape)
    info_file.write_text(json.dumps(info))
    log(f"export of {info['messages']:,} messages written in {time.perf_counter() - start:.0f} s: "
        f"{info['day_files']:,} day files, {info['bytes'] / 2**20:,.0f} MiB")  # fmt: skip
    return folder, info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.slack_import", description=__doc__)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=1, help="runs at --messages")
    parser.add_argument("--small", type=int, default=100_000, help="0: no smaller size")
    parser.add_argument("--small-runs", type=int, default=3)
    parser.add_argument("--work", type=Path, help="folder kept between runs (default: temp)")
    parser.add_argument("--profile", type=Path, help="cProfile the first big run to this file")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    load_at_start = os.getloadavg()[1]
    shape = racket_shape()
    with tempfile.TemporaryDirectory(prefix="whoknows-slack-bench-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        sizes = []
        if args.small and args.small < args.messages:
            sizes.append((args.small, args.small_runs, None))
        sizes.append((args.messages, args.runs, args.profile))
        figures = []
        infos = []
        for n, runs, profile in sizes:
            export, info = export_for(work, n, shape)
            infos.append(info)
            figures.append(measure(export, info["messages"], runs, work, profile))
    big = infos[-1]
    text = (
        f"whoknows slack-export import, synthetic export shaped like {shape.source}: "
        f"{big['messages']:,} messages in {big['channels']} channels, {big['users']:,} people, "
        f"{big['day_files']:,} day files ({big['bytes'] / 2**20:,.0f} MiB); "
        f"{os.cpu_count()} cores, load average {load_at_start:.1f} at start and "
        f"{os.getloadavg()[1]:.1f} at end; {(time.perf_counter() - started) / 60:.1f} min\n\n"
        + table(figures)
    )
    print(text)
    OUT.mkdir(exist_ok=True)
    (OUT / "slack-import.md").write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
