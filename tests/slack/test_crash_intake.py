"""Fault injection: SIGKILL a real Slack server at random moments while signed question
events pour in, with the Web API double answering 429s, 5xx, errors and slow responses at
random (seeded), and start it again on the same database. Whatever the moment of the kill
(in intake, routing or delivery): every event that was answered 200 becomes exactly one
question, nobody is asked twice, every message is delivered and none twice, and no request
goes out for an ask that had closed."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from data.store import Store
from tests.slack.double import BOT_USER, SlackDouble
from tests.slack.harness import CHANNEL, event_callback, sign

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 120
RATE = 100  # events a second, as Slack may send in a busy workspace
TOPICS = [
    "How do I roll back a Helm release after a bad deploy?",
    "Who can review an NDA for a new supplier?",
    "Why are our pods getting OOM killed since Tuesday?",
    "How do I get reimbursed for a conference ticket?",
    "What is the process for a SOC 2 evidence request?",
]


class Worker:
    """One run of tests/slack/crash_worker.py."""

    def __init__(self, db: Path, api_url: str) -> None:
        self.log = db.with_suffix(".log")
        with self.log.open("a") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.slack.crash_worker", str(db), api_url],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        if not line.startswith("ready"):
            self.proc.kill()
            raise RuntimeError(f"worker did not start: {line!r}; see {self.log}")
        self.port = int(line.split()[1])

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def health(self) -> dict:
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request("GET", "/healthz")
        data = json.loads(conn.getresponse().read())
        conn.close()
        return data

    def settle(self, timeout: float = 120) -> None:
        """Wait until every accepted input is handled and the job queue is empty."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            health = self.health()
            if health["jobs_waiting"] == 0 and not health["intake"].get("pending"):
                return
            time.sleep(0.2)
        raise AssertionError(f"worker did not settle: {self.health()}")


def post_event(port: int, n: int, user: str, retry: int | None = None) -> int | None:
    """Send question event #n; its HTTP status, or None if the server was gone."""
    import http.client

    text = f"{TOPICS[n % len(TOPICS)]} (#{n})"
    ts = f"1700000000.{n:06d}"
    event = {
        "type": "message",
        "user": user,
        "text": text,
        "ts": ts,
        "channel": CHANNEL,
        "channel_type": "channel",
        "event_ts": ts,
    }
    body = json.dumps(event_callback(event, f"EvCRASH{n:05d}")).encode()
    headers = {"Content-Type": "application/json", **sign(body)}
    if retry is not None:
        headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_error"}
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("POST", "/slack/events", body=body, headers=headers)
        status = conn.getresponse().status
        conn.close()
        return status
    except OSError:
        return None


def pour(port: int, todo: list[int], people: list, acked: set[int], stop: threading.Event) -> None:
    """Send the events `todo` at RATE a second until the server goes away or `stop`;
    the numbers of those answered 200 go into `acked`."""
    for n in todo:
        if stop.is_set():
            return
        status = post_event(port, n, people[n % len(people)].slack_id)
        if status is None:
            return
        if status == 200:
            acked.add(n)
        time.sleep(1 / RATE)


def questions_by_number(db: Path) -> Counter:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    texts = [r[0] for r in conn.execute("SELECT text FROM questions")]
    conn.close()
    return Counter(int(t.rsplit("(#", 1)[1].rstrip(")")) for t in texts)


def undelivered(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    n = conn.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0]
    conn.close()
    return n


def wait_delivered(db: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while undelivered(db) and time.monotonic() < deadline:
        time.sleep(0.5)


@pytest.mark.parametrize("seed", [11, 29, 47])
def test_no_acknowledged_event_is_lost_at_any_kill_moment(
    tmp_path: Path, sample_db: Path, seed: int
) -> None:
    rng = random.Random(seed)
    db = tmp_path / "whoknows.db"
    shutil.copy(sample_db, db)
    store = Store(db)
    people = [p for p in store.people() if p.slack_id]
    store.close()
    acked: set[int] = set()
    with SlackDouble() as double:
        for person in people:
            double.add_user(person.slack_id, person.name, person.email, tz=person.timezone)
        double.add_channel(CHANNEL, "eng-help", [BOT_USER, *(p.slack_id for p in people)])
        double.chaos(seed, rate=0.15)
        worker = Worker(db, double.api_url)
        unsent = list(range(EVENTS))
        for _ in range(3):  # three kills, each at a moment drawn at random
            stop = threading.Event()
            sender = threading.Thread(target=pour, args=(worker.port, unsent, people, acked, stop))
            sender.start()
            time.sleep(rng.uniform(0.05, 1.0))
            worker.kill()
            stop.set()
            sender.join(10)
            # Slack retries what it got no 200 for; what it got a 200 for, it never resends.
            unsent = [n for n in unsent if n not in acked]
            worker = Worker(db, double.api_url)
        for n in unsent:  # the last run takes the rest, as Slack's retries
            assert post_event(worker.port, n, people[n % len(people)].slack_id, retry=1) == 200
            acked.add(n)
        # A retry of an event that was already acknowledged changes nothing.
        for n in rng.sample(sorted(acked), 10):
            assert post_event(worker.port, n, people[n % len(people)].slack_id, retry=2) == 200
        worker.settle()
        wait_delivered(db)
        worker.kill()
        posted_keys = Counter(
            ((m.get("metadata") or {}).get("event_payload") or {}).get("key")
            for m in double.posts()
        )
        assert double.chaos_faults > 0  # the double did fail calls
    found = questions_by_number(db)
    assert acked == set(range(EVENTS))
    missing = sorted(acked - set(found))
    assert not missing, f"acknowledged but never became questions: {missing}"
    doubled = {n: c for n, c in found.items() if c > 1}
    assert not doubled, f"questions made twice: {doubled}"
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    pending = conn.execute("SELECT count(*) FROM intake WHERE state != 'done'").fetchone()[0]
    asked_twice = conn.execute(
        "SELECT count(*) FROM (SELECT question_id, person_id FROM asks "
        "GROUP BY 1, 2 HAVING count(*) > 1)"
    ).fetchone()[0]
    late_requests = conn.execute(
        "SELECT count(*) FROM outbox o JOIN asks a ON a.id = o.ask_id "
        "WHERE o.kind = 'ask_expert' AND a.closed_at IS NOT NULL AND o.sent_at > a.closed_at "
        "AND coalesce(o.result, '') NOT LIKE 'skipped%'"
    ).fetchone()[0]
    outbox_rows = conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
    # Every acknowledged message was learned too: stored once, in its author's knowledge
    # item for the day exactly once (a replayed event rebuilds the item, never adds to it).
    learned = {
        r[0] for r in conn.execute("SELECT ts FROM chat_messages WHERE channel = ?", (CHANNEL,))
    }
    day_items = [
        r[0]
        for r in conn.execute(
            "SELECT text FROM knowledge WHERE id LIKE ?", (f"slack:{CHANNEL}:day:%",)
        )
    ]
    conn.close()
    assert {f"1700000000.{n:06d}" for n in acked} <= learned
    in_items = Counter(
        int(line.rsplit("(#", 1)[1].rstrip(")")) for text in day_items for line in text.splitlines()
    )
    assert in_items == Counter(set(acked)), "messages learned twice or never"
    assert pending == 0
    assert asked_twice == 0
    assert late_requests == 0
    assert undelivered(db) == 0, "messages still undelivered"
    twice = {k: n for k, n in posted_keys.items() if k and n > 1}
    assert not twice, f"messages posted twice: {twice}"
    # Every outbox row went out exactly once, or was finished unsent on purpose.
    assert sum(1 for k in posted_keys if k) <= outbox_rows
