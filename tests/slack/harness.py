"""Driving the real Slack app over HTTP in tests: the sample org, the Web API double, the
ASGI app under uvicorn on a loopback port, and signed requests shaped like Slack's
documented payloads."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import shutil
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import uvicorn

from bot.lifecycle.clock import ManualClock
from bot.lifecycle.scheduler import Scheduler
from bot.runtime import Runtime
from bot.settings import LifecycleSettings, Settings, SlackSettings
from bot.slack.app import SlackBot, make_client
from bot.slack.server import create_asgi_app
from data.store import Store
from embeddings.encoder import Encoder
from tests.slack.double import BOT_TOKEN, BOT_USER, TEAM, SlackDouble

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
ADMIN = "U08WXPJZFM"  # Maya Okafor, CEO of the sample org
CHANNEL = "C0ENGHELP"
MONDAY_AFTERNOON = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # Boston 10:00, Berlin 16:00


def sign(body: bytes, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> dict:
    """Slack's v0 request signature headers for `body`."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + ts.encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


class ServerThread:
    """uvicorn serving an ASGI app on a random loopback port, in a thread."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@dataclass
class Reply:
    """An HTTP response from the app."""

    status: int
    body: bytes
    seconds: float
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body or b"null")


def build_sample_db(path: Path, encoder: Encoder) -> None:
    """The sample org, indexed, in a database file (built once per test session)."""
    from bot.demo import load_sample_org
    from embeddings.indexer import index_pending

    store = Store(path)
    load_sample_org(store)
    index_pending(store, encoder)
    store.close()


class SlackWorld:
    """The whole adapter over HTTP against the double, with a hand-moved clock. The
    scheduler is driven by `settle()`, not a background thread."""

    def __init__(self, tmp: Path, sample_db: Path, encoder: Encoder, **lifecycle: Any) -> None:
        db = tmp / "whoknows.db"
        shutil.copy(sample_db, db)
        self.double = SlackDouble().start()
        self.settings = Settings(
            _env_file=None,
            db_path=db,
            lifecycle=LifecycleSettings(**{"delivery_retry_seconds": 30, **lifecycle}),
            slack=SlackSettings(
                bot_token=BOT_TOKEN,
                signing_secret=SIGNING_SECRET,
                api_url=self.double.api_url,
                admin_ids=[ADMIN],
            ),
        )
        self.clock = ManualClock(MONDAY_AFTERNOON)
        self.store = Store(db)
        self.runtime = Runtime(self.settings, clock=self.clock, encoder=encoder, store=self.store)
        for person in self.store.people():
            self.double.add_user(person.slack_id, person.name, person.email, tz=person.timezone)
        self.double.add_channel(
            CHANNEL, "eng-help", [BOT_USER, *(p.slack_id for p in self.store.people())]
        )
        self.bot = SlackBot(self.runtime, self.settings.slack, make_client(self.settings.slack))
        self.bot.jobs.start()
        self.scheduler: Scheduler = self.runtime.scheduler(self.bot.deliverer)
        self.server = ServerThread(create_asgi_app(self.bot)).__enter__()

    def close(self) -> None:
        self.server.__exit__()
        self.bot.jobs.stop()
        self.double.stop()
        self.store.close()

    # ---------------------------------------------------------------- people

    def slack_id(self, person_id: str) -> str:
        person = self.store.get_person(person_id)
        assert person and person.slack_id
        return person.slack_id

    def person_id(self, slack_id: str) -> str:
        person = self.store.find_person(slack_id)
        assert person
        return person.id

    # ------------------------------------------------------------------ HTTP

    def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        started = time.perf_counter()
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return Reply(
            response.status, data, time.perf_counter() - started, dict(response.getheaders())
        )

    def post_signed(
        self, body: bytes, content_type: str, extra: dict[str, str] | None = None, **sig: Any
    ) -> Reply:
        headers = {"Content-Type": content_type, **sign(body, **sig), **(extra or {})}
        return self.request("POST", "/slack/events", body, headers)

    def send_event(
        self, event: dict[str, Any], event_id: str | None = None, retry: int | None = None
    ) -> tuple[Reply, str]:
        """An Events API event_callback, signed; optionally marked as Slack's retry."""
        event_id = event_id or "Ev" + uuid.uuid4().hex[:10].upper()
        envelope = event_callback(event, event_id)
        extra = {}
        if retry is not None:
            extra = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        body = json.dumps(envelope).encode()
        return self.post_signed(body, "application/json", extra), event_id

    def send_interaction(self, payload: dict[str, Any]) -> Reply:
        """An interactivity payload (form-encoded `payload=` JSON), signed."""
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return self.post_signed(body, "application/x-www-form-urlencoded")

    def send_command(self, user: str, text: str, channel: str = CHANNEL) -> Reply:
        """`/ask text` from `user` in `channel`, signed."""
        form = {
            "token": "gIkuvaNzQIHg97ATvDxqgjtO",
            "team_id": TEAM,
            "team_domain": "northwind",
            "channel_id": channel,
            "channel_name": "eng-help",
            "user_id": user,
            "user_name": "someone",
            "command": "/ask",
            "text": text,
            "api_app_id": "AWHOKNOWS",
            "is_enterprise_install": "false",
            "response_url": self.double.response_url(),
            "trigger_id": f"{uuid.uuid4().int % 10**13}.{uuid.uuid4().int % 10**12}.abc",
        }
        return self.post_signed(urlencode(form).encode(), "application/x-www-form-urlencoded")

    # -------------------------------------------------------------- people act

    def post_in_channel(
        self, user: str, text: str, thread_ts: str | None = None, channel: str = CHANNEL
    ) -> tuple[dict[str, Any], str]:
        """`user` posts in the channel (the double keeps it); Slack sends the event."""
        message = self.double.post_as_user(channel, user, text, thread_ts)
        event = {
            "type": "message",
            "channel": channel,
            "user": user,
            "text": text,
            "ts": message["ts"],
            "event_ts": message["ts"],
            "channel_type": "channel",
            "client_msg_id": str(uuid.uuid4()),
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        reply, event_id = self.send_event(event)
        assert reply.status == 200, reply
        return message, event_id

    def click(
        self,
        user: str,
        action_id: str,
        value: str,
        message: dict[str, Any] | None = None,
        home: bool = False,
    ) -> Reply:
        """`user` clicks a button (in a message, or in App Home)."""
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {"id": user, "username": "someone", "name": "someone", "team_id": TEAM},
            "api_app_id": "AWHOKNOWS",
            "token": "gIkuvaNzQIHg97ATvDxqgjtO",
            "trigger_id": f"{uuid.uuid4().int % 10**13}.trigger",
            "team": {"id": TEAM, "domain": "northwind"},
            "enterprise": None,
            "is_enterprise_install": False,
            "state": {"values": {}},
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": "b",
                    "text": {"type": "plain_text", "text": action_id, "emoji": True},
                    "value": value,
                    "type": "button",
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        if home:
            payload["container"] = {"type": "view", "view_id": "VHOME"}
            payload["view"] = {"id": "VHOME", "type": "home", "blocks": []}
        else:
            assert message is not None
            payload["container"] = {
                "type": "message",
                "message_ts": message["ts"],
                "channel_id": message["channel"],
                "is_ephemeral": False,
            }
            payload["channel"] = {"id": message["channel"], "name": "directmessage"}
            payload["message"] = {k: v for k, v in message.items() if k != "channel"}
            payload["response_url"] = self.double.response_url()
        return self.send_interaction(payload)

    def submit(self, user: str, view: dict[str, Any], values: dict[str, Any]) -> Reply:
        """`user` submits a modal the app opened, with input `values`:
        {(block_id, action_id): {"type": ..., "value"/"selected_user"/...}}."""
        state: dict[str, dict[str, Any]] = {}
        for (block_id, action_id), value in values.items():
            state.setdefault(block_id, {})[action_id] = value
        payload = {
            "type": "view_submission",
            "team": {"id": TEAM, "domain": "northwind"},
            "user": {"id": user, "username": "someone", "name": "someone", "team_id": TEAM},
            "api_app_id": "AWHOKNOWS",
            "token": "gIkuvaNzQIHg97ATvDxqgjtO",
            "trigger_id": f"{uuid.uuid4().int % 10**13}.trigger",
            "view": {**view, "state": {"values": state}, "hash": "156772938.1827394"},
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        return self.send_interaction(payload)

    def opened_view(self, n: int = -1) -> dict[str, Any]:
        """The view of the n-th views.open call, as the double stored it."""
        call = self.double.calls_to("views.open")[n]
        view = (
            json.loads(call.args["view"])
            if isinstance(call.args["view"], str)
            else call.args["view"]
        )
        stored = [v for v in self.double.views.values() if v["callback_id"] == view["callback_id"]]
        return stored[-1]

    # ------------------------------------------------------------------- time

    def settle(self, rounds: int = 6) -> None:
        """Let queued work finish and the scheduler deliver everything due."""
        for _ in range(rounds):
            assert self.bot.jobs.join(60), "jobs did not finish"
            report = self.scheduler.run_once()
            quiet = not (report.delivered or report.timers or report.failed)
            if quiet and self.bot.jobs.waiting() == 0:
                return

    def advance(self, **delta: float) -> None:
        """Finish what is under way at the current time, then let time pass."""
        self.settle()
        self.clock.advance(**delta)
        self.settle()

    # ------------------------------------------------------------------ reading

    def dms_to(self, person_id: str) -> list[dict[str, Any]]:
        return self.double.posts(self.double.im_channel(self.slack_id(person_id)))

    def thread(self, ts: str, channel: str = CHANNEL) -> list[dict[str, Any]]:
        return [m for m in self.double.posts(channel) if m.get("thread_ts") == ts]


def deleted_event(message: dict[str, Any], channel: str = CHANNEL) -> dict[str, Any]:
    """`message_deleted` for a message without thread replies (Slack's documented shape)."""
    return {
        "type": "message",
        "subtype": "message_deleted",
        "hidden": True,
        "channel": channel,
        "ts": "1767999999.000001",
        "deleted_ts": message["ts"],
        "event_ts": "1767999999.000001",
        "previous_message": {k: v for k, v in message.items() if k != "channel"},
        "channel_type": "channel",
    }


def event_callback(event: dict[str, Any], event_id: str) -> dict[str, Any]:
    """An Events API envelope as Slack sends it."""
    return {
        "token": "XXYYZZ",
        "team_id": TEAM,
        "api_app_id": "AWHOKNOWS",
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": TEAM,
                "user_id": BOT_USER,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-eyJldCI6Im1lc3NhZ2UiLCJ0aWQiOiJUMDAwMCJ9",
    }


def button_values(message: dict[str, Any]) -> dict[str, str]:
    """action_id -> value of every button in a message's blocks."""
    found = {}
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("type") == "button":
                found[element["action_id"]] = element["value"]
        accessory = block.get("accessory") or {}
        if accessory.get("type") == "button":
            found[accessory["action_id"]] = accessory["value"]
    return found


def text_of(message: dict[str, Any]) -> str:
    """All the text a person sees in a message (fallback text and every block)."""
    parts = [message.get("text") or ""]
    for block in message.get("blocks") or []:
        text = block.get("text")
        if isinstance(text, dict):
            parts.append(text.get("text", ""))
        for element in block.get("elements") or []:
            if isinstance(element, dict) and element.get("type") in ("mrkdwn", "plain_text"):
                parts.append(element.get("text", ""))
    return "\n".join(parts)
