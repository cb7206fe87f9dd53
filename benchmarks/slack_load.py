"""Load on the Slack HTTP endpoint: 50 signed events per second for 60 seconds, on loopback.

The real app runs as in production (uvicorn, Bolt, the job queue, the core's scheduler
thread delivering through the Web API double) on the sample org. The load is open-loop:
event i is due at start + i/rate whatever happened to the others, and its ack latency is
measured from that due time, so a stall shows up instead of being hidden. The mix is what a
busy workspace sends: questions posted in channels (they wait for a human reply), mentions
of the bot (routed at once: ranking runs while the load goes on), and Slack's retries of
events already sent (`X-Slack-Retry-Num`).

Checked at the end, after the queue drains: every request acknowledged within 3 s; none
lost (every question event is one stored question); none routed twice (no question twice
for one event, no person asked twice, no delivery posted twice).

    .venv/bin/python -m benchmarks.slack_load            # 50/s for 60 s
    .venv/bin/python -m benchmarks.slack_load --quick    # 10 s
    .venv/bin/python -m benchmarks.slack_load --json out.json

Everything stays on 127.0.0.1; the run is bounded in requests and time.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.lifecycle.clock import ManualClock
from bot.runtime import Runtime
from bot.settings import LifecycleSettings, Settings, SlackSettings
from bot.slack.app import SlackBot, make_client
from bot.slack.server import create_asgi_app
from data.store import Store
from embeddings.encoder import Encoder
from tests.slack.double import BOT_TOKEN, BOT_USER, SlackDouble
from tests.slack.harness import ServerThread, build_sample_db, event_callback, sign

SECRET = "benchmark-signing-secret"
CHANNEL = "C0LOADTEST"
ACK_LIMIT = 3.0
TOPICS = [
    "Our pods keep getting OOM killed after the deploy, who can help?",
    "How do I roll back a Helm release that broke staging?",
    "Who knows how the Postgres replica lag alerts work?",
    "What is the process for customer SAML SSO setup?",
    "How are refunds escalated for enterprise customers?",
    "Does anyone know the firmware OTA pipeline?",
    "Who can review an NDA before Friday?",
    "How do expenses over 500 euros get approved?",
]


@dataclass
class Result:
    """One request: when it was due, how long until its ack, and what came back."""

    kind: str
    due: float
    latency: float
    status: int


@dataclass
class Report:
    """The benchmark's findings."""

    rate: float
    seconds: float
    sent: int
    retries_sent: int
    acked_within_3s: int
    ack_p50_ms: float
    ack_p99_ms: float
    ack_max_ms: float
    non_200: int
    question_events: int
    questions_stored: int
    lost: int
    duplicate_questions: int
    mentions_routed: int
    routed_twice: int
    deliveries: int
    deliveries_sent_twice: int
    drain_seconds: float

    @property
    def ok(self) -> bool:
        return (
            self.acked_within_3s == self.sent
            and self.non_200 == 0
            and self.lost == 0
            and self.duplicate_questions == 0
            and self.routed_twice == 0
            and self.deliveries_sent_twice == 0
        )

    def lines(self) -> list[str]:
        return [
            f"Slack HTTP endpoint, {self.rate:g} events/s for {self.seconds:g} s on loopback:",
            f"  requests sent {self.sent} (of which Slack retries {self.retries_sent})",
            f"  acknowledged within 3 s: {self.acked_within_3s}/{self.sent}; non-200: "
            f"{self.non_200}",
            f"  ack latency p50 {self.ack_p50_ms:.1f} ms, p99 {self.ack_p99_ms:.1f} ms, "
            f"max {self.ack_max_ms:.1f} ms",
            f"  question events {self.question_events}, stored {self.questions_stored}: "
            f"lost {self.lost}, duplicated {self.duplicate_questions}",
            f"  mentions routed {self.mentions_routed}, routed twice {self.routed_twice}",
            f"  deliveries {self.deliveries}, sent twice {self.deliveries_sent_twice}; "
            f"queue drained {self.drain_seconds:.1f} s after the load",
            "  OK" if self.ok else "  FAILED",
        ]


class Sender:
    """Signed requests over one keep-alive connection per thread."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.local = threading.local()

    def post(self, body: bytes, headers: dict[str, str]) -> int:
        for attempt in range(2):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = self.local.conn = http.client.HTTPConnection(
                    "127.0.0.1", self.port, timeout=10
                )
            try:
                conn.request("POST", "/slack/events", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                return response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                self.local.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")


def plan(rate: float, seconds: float, users: list[str], double: SlackDouble) -> list[dict]:
    """The requests to send: per second, mostly channel questions, one mention, and
    retries of events sent a little earlier. Each message is also put in the double's
    channel, so the bot's replies have a real thread to go to."""
    total = int(rate * seconds)
    mention_every = max(1, int(rate))  # one mention per second
    requests: list[dict] = []
    for i in range(total):
        user = users[i % len(users)]
        if i % 20 == 19 and requests:  # ~5%: Slack redelivers an earlier event
            earlier = requests[max(0, len(requests) - 10)]
            requests.append({**earlier, "retry": 1, "kind": "retry"})
            continue
        text = f"{TOPICS[i % len(TOPICS)]} (#{i})"
        mention = i % mention_every == 0
        if mention:
            text = f"<@{BOT_USER}> {text}"
        ts = double.post_as_user(CHANNEL, user, text)["ts"]
        if mention:
            event = {
                "type": "app_mention",
                "user": user,
                "text": text,
                "ts": ts,
                "channel": CHANNEL,
                "event_ts": ts,
            }
            kind = "mention"
        else:
            event = {
                "type": "message",
                "channel": CHANNEL,
                "user": user,
                "text": text,
                "ts": ts,
                "event_ts": ts,
                "channel_type": "channel",
                "client_msg_id": str(uuid.uuid4()),
            }
            kind = "channel"
        event_id = "Ev" + uuid.uuid4().hex[:12].upper()
        body = json.dumps(event_callback(event, event_id)).encode()
        requests.append({"kind": kind, "body": body, "ts": ts, "retry": None})
    return requests


def run(
    rate: float = 50, seconds: float = 60, workers: int = 64, route_all: bool = False
) -> Report:
    """Set everything up on loopback, send the load, drain, check. With `route_all`,
    channel questions are routed at once too (no wait for a human reply), so ranking and
    its writes compete with every ack for the database."""
    with tempfile.TemporaryDirectory(prefix="whoknows-slack-load-") as tmp:
        encoder = Encoder()
        db = Path(tmp) / "load.db"
        build_sample_db(db, encoder)
        with SlackDouble(page_size=200) as double:
            store = Store(db)
            people = store.people()
            for person in people:
                double.add_user(person.slack_id, person.name, person.email, tz=person.timezone)
            double.add_channel(CHANNEL, "load-test", [BOT_USER, *(p.slack_id for p in people)])
            limits = LifecycleSettings()
            if route_all:
                limits = LifecycleSettings(
                    channel_wait_minutes=0, daily_ask_cap=100_000, max_open_asks=100_000
                )
            settings = Settings(
                _env_file=None,
                db_path=db,
                lifecycle=limits,
                slack=SlackSettings(
                    bot_token=BOT_TOKEN, signing_secret=SECRET, api_url=double.api_url
                ),
            )
            # A fixed Monday afternoon: everyone is at work, and channel questions keep
            # waiting for a human reply during the run (only mentions route).
            clock = ManualClock(datetime(2026, 3, 2, 15, 0, tzinfo=UTC))
            runtime = Runtime(settings, clock=clock, encoder=encoder, store=store)
            bot = SlackBot(runtime, settings.slack, make_client(settings.slack))
            bot.start()
            with ServerThread(create_asgi_app(bot)) as server:
                try:
                    return _load(bot, runtime, double, server.port, rate, seconds, workers)
                finally:
                    bot.stop()
                    store.close()


def _load(bot, runtime, double, port, rate, seconds, workers) -> Report:
    users = [p.slack_id for p in runtime.store.people()]
    requests = plan(rate, seconds, users, double)
    sender = Sender(port)
    results: list[Result] = []
    lock = threading.Lock()

    def fire(request: dict, due: float) -> None:
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        headers = {"Content-Type": "application/json", **sign(request["body"], SECRET)}
        if request["retry"]:
            headers["X-Slack-Retry-Num"] = str(request["retry"])
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        try:
            status = sender.post(request["body"], headers)
        except OSError:
            status = 0
        with lock:
            results.append(Result(request["kind"], due, time.perf_counter() - due, status))

    start = time.perf_counter() + 0.5
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for i, request in enumerate(requests):
            due = start + i / rate
            # Hand each request to the pool shortly before it is due (bounded look-ahead).
            lead = due - time.perf_counter() - 0.2
            if lead > 0:
                time.sleep(lead)
            pool.submit(fire, request, due)
    load_end = time.perf_counter()

    # Drain: the job queue, then the outbox (bounded).
    deadline = time.perf_counter() + 300
    bot.jobs.join(max(1.0, deadline - time.perf_counter()))
    while time.perf_counter() < deadline:
        if not runtime.flow.lc.outbox_due(runtime.clock.now()) and bot.jobs.waiting() == 0:
            break
        time.sleep(0.2)
    drain = time.perf_counter() - load_end
    return _check(results, requests, runtime, double, rate, seconds, drain)


def _check(results, requests, runtime, double, rate, seconds, drain) -> Report:
    latencies = sorted(r.latency for r in results)
    questions = runtime.flow.lc.questions()
    stored = Counter(q.place.get("thread_ts") for q in questions)
    sent_ts = {r["ts"] for r in requests if r["kind"] in ("channel", "mention")}
    lost = len(sent_ts - set(stored))
    duplicated = sum(n - 1 for n in stored.values() if n > 1)
    routed_twice = 0
    mentions_routed = 0
    for q in questions:
        if q.origin != "mention":
            continue
        rows = runtime.flow.lc.outbox(q.id)
        routings = [r for r in rows if r.kind == "status"]
        asks = [r.payload["expert_id"] for r in rows if r.kind == "ask_expert"]
        mentions_routed += bool(routings)
        routed_twice += len(routings) > 1 or len(asks) != len(set(asks))
    keys = [m["metadata"]["event_payload"]["key"] for m in double.posts() if m.get("metadata")]
    return Report(
        rate=rate,
        seconds=seconds,
        sent=len(results),
        retries_sent=sum(r.kind == "retry" for r in results),
        acked_within_3s=sum(r.latency <= ACK_LIMIT and r.status == 200 for r in results),
        ack_p50_ms=statistics.median(latencies) * 1000,
        ack_p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        ack_max_ms=latencies[-1] * 1000,
        non_200=sum(r.status != 200 for r in results),
        question_events=len(sent_ts),
        questions_stored=len(questions),
        lost=lost,
        duplicate_questions=duplicated,
        mentions_routed=mentions_routed,
        routed_twice=routed_twice,
        deliveries=len(keys),
        deliveries_sent_twice=len(keys) - len(set(keys)),
        drain_seconds=drain,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=50, help="events per second")
    parser.add_argument("--seconds", type=float, default=60, help="how long to send")
    parser.add_argument("--quick", action="store_true", help="10 seconds instead of 60")
    parser.add_argument("--json", type=Path, help="also write the report here")
    parser.add_argument(
        "--route-all", action="store_true", help="route channel questions at once too"
    )
    args = parser.parse_args(argv)
    seconds = 10 if args.quick else args.seconds
    report = run(args.rate, seconds, route_all=args.route_all)
    print("\n".join(report.lines()))
    if args.json:
        args.json.write_text(json.dumps({**asdict(report), "ok": report.ok}, indent=2))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
