"""Socket Mode and SIGTERM: every envelope acknowledged is on disk, so a shutdown that
leaves queued jobs unfinished loses none of them; the next start handles them, once."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from data.store import Store
from tests.slack.double import BOT_USER, SlackDouble, SocketModeDouble
from tests.slack.harness import CHANNEL, event_callback
from tests.slack.test_crash_intake import TOPICS, questions_by_number

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 150


def start(db: Path, api_url: str, log: Path) -> subprocess.Popen:
    with log.open("a") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.slack.crash_worker", str(db), api_url, "--socket"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    assert proc.stdout.readline().startswith("ready"), f"worker did not start; see {log}"  # type: ignore[union-attr]
    return proc


def pending_intake(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    n = conn.execute("SELECT count(*) FROM intake WHERE state != 'done'").fetchone()[0]
    conn.close()
    return n


def test_sigterm_leaves_unfinished_work_on_disk_and_the_next_start_finishes_it(
    tmp_path: Path, sample_db: Path
) -> None:
    db = tmp_path / "whoknows.db"
    log = tmp_path / "worker.log"
    shutil.copy(sample_db, db)
    store = Store(db)
    people = [p for p in store.people() if p.slack_id]
    store.close()
    with SlackDouble() as double:
        for person in people:
            double.add_user(person.slack_id, person.name, person.email, tz=person.timezone)
        double.add_channel(CHANNEL, "eng-help", [BOT_USER, *(p.slack_id for p in people)])
        with SocketModeDouble() as socket:
            double.socket_url = socket.url
            worker = start(db, double.api_url, log)
            socket.wait_connected(30)
            envelopes = []
            for n in range(EVENTS):
                ts = f"1700000000.{n:06d}"
                event = {
                    "type": "message",
                    "user": people[n % len(people)].slack_id,
                    "text": f"{TOPICS[n % len(TOPICS)]} (#{n})",
                    "ts": ts,
                    "channel": CHANNEL,
                    "channel_type": "channel",
                    "event_ts": ts,
                }
                envelopes.append(socket.send("events_api", event_callback(event, f"EvSOCK{n:04d}")))
            for envelope in envelopes:  # acknowledged: written down
                socket.wait_ack(envelope, timeout=30)
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(30) == 0  # a graceful stop, not a kill
            left = pending_intake(db)
        # Routing 150 questions takes longer than the one second the shutdown gives them.
        assert left > 0, "the shutdown finished everything; the test proves nothing"
        with SocketModeDouble() as socket:
            double.socket_url = socket.url
            worker = start(db, double.api_url, log)
            deadline = time.monotonic() + 120
            while pending_intake(db) and time.monotonic() < deadline:
                time.sleep(0.2)
            worker.send_signal(signal.SIGTERM)
            worker.wait(30)
    found = questions_by_number(db)
    assert sorted(found) == list(range(EVENTS))
    assert set(found.values()) == {1}
    assert pending_intake(db) == 0
