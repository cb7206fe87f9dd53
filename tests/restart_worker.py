"""A whoknows process for the restart test: asks a batch of questions and delivers them,
slowly, so that the test can SIGKILL it mid-way and start it again.

Usage: python -m tests.restart_worker DB QUESTIONS
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.console import Sandbox, TranscriptDeliverer
from bot.demo import demo_questions, load_sample_org
from bot.settings import LifecycleSettings, Settings
from data.store import Store

START = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


class SlowTranscript(TranscriptDeliverer):
    """Takes its time, like a real platform call, widening the window for a crash."""

    def deliver(self, intent, key, message_ref):
        time.sleep(0.02)
        return super().deliver(intent, key, message_ref)


def main(db: Path, count: int) -> None:
    store = Store(db)
    if store.count("people") == 0:
        load_sample_org(store)
    store.close()
    limits = LifecycleSettings(
        quiet_start_hour=0,
        quiet_end_hour=0,
        quiet_weekends=False,
        daily_ask_cap=1000,
        max_open_asks=1000,
        first_wave=2,
    )
    sandbox = Sandbox(Settings(_env_file=None, lifecycle=limits), db, start=START)
    sandbox.deliverer = SlowTranscript(sandbox.deliverer.path, sandbox.name)
    sandbox.scheduler.deliverer = sandbox.deliverer
    print("ready", flush=True)
    questions = demo_questions()
    for n in range(count):
        q = questions[n % len(questions)]
        # The event id makes re-asking after a restart a no-op for questions already taken.
        sandbox.flow.ask(q.asker, f"{q.question} (#{n})", event_id=f"question-{n}")
        sandbox.run()
    while sandbox.run().delivered:
        pass
    print("done", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
