"""Kill -9 in the middle of routing, start again: nothing lost, nothing sent twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from data.lifecycle_store import LifecycleStore
from data.store import Store

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = 24


def start_worker(db: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.restart_worker", str(db), str(QUESTIONS)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def transcript(db: Path) -> list[dict]:
    path = Path(f"{db}.transcript.jsonl")
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_a_killed_process_resumes_every_question_without_double_sends(tmp_path):
    db = tmp_path / "whoknows.db"
    worker = start_worker(db)
    deadline = time.monotonic() + 240
    # Kill it once a good part, but not all, of the work has been delivered.
    while len(transcript(db)) < 15 and time.monotonic() < deadline:
        assert worker.poll() is None, worker.stderr.read()
        time.sleep(0.05)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    delivered_before = len(transcript(db))
    assert delivered_before > 0

    again = start_worker(db)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    assert out.strip().endswith("done")

    store = Store(db)
    lifecycle = LifecycleStore(store)
    questions = lifecycle.questions()
    assert len(questions) == QUESTIONS  # every question was taken, none twice
    for q in questions:
        asks = lifecycle.asks_of_question(q.id)
        assert len(asks) == 2, q  # the first wave went out in full
        assert len({a.person_id for a in asks}) == 2
    outbox = lifecycle.outbox()
    assert outbox and all(row.sent_at is not None for row in outbox)  # nothing lost
    keys = Counter(entry["key"] for entry in transcript(db))
    assert delivered_before < sum(keys.values())  # the kill did land in the middle
    assert set(keys) == {f"whoknows-{row.id}" for row in outbox}
    assert max(keys.values()) == 1  # nothing sent twice
    requests = Counter(
        e["text"].split("(request #")[1].split(")")[0]
        for e in transcript(db)
        if e["kind"] == "ask_expert"
    )
    assert len(requests) == 2 * QUESTIONS and max(requests.values()) == 1
