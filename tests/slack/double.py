"""A local double of the Slack Web API (and of Socket Mode's WebSocket), for tests and the
load benchmark.

`SlackDouble` is an HTTP server on 127.0.0.1 (random port) that answers the Web API
methods whoknows calls the way Slack documents them: `{"ok": true, ...}` bodies, `ok:false`
errors (`channel_not_found`, `not_in_channel`, `invalid_auth`...), cursor pagination with
`response_metadata.next_cursor`, message metadata returned only with
`include_all_metadata`, and HTTP 429 with a `Retry-After` header when told to. It keeps a
workspace (users, custom profile fields, channels, DMs, messages and threads), records every
call, and checks Block Kit against Slack's size limits so a message Slack would reject
fails here too. Point slack_sdk's `WebClient(base_url=double.api_url)` at it.

Interaction `response_url`s can point at it too (`double.response_url()`), and
`SocketModeDouble` is a WebSocket server speaking Socket Mode's envelope protocol.
"""

from __future__ import annotations

import base64
import itertools
import json
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

BOT_TOKEN = "xoxb-whoknows-test"
APP_TOKEN = "xapp-whoknows-test"
BOT_USER = "UWHOKNOWS"
BOT_ID = "BWHOKNOWS"
TEAM = "TNORTHWIND"


@dataclass
class Call:
    """One Web API call as the double received it."""

    method: str
    args: dict[str, Any]
    token: str | None
    at: float


@dataclass
class Fault:
    """A planned failure of a method: an `ok:false` error or an HTTP 429."""

    error: str | None = None
    retry_after: int | None = None
    times: int = 1
    drop: bool = False  # close the connection without an answer (a network failure)


@dataclass
class Channel:
    """A conversation: a channel (public or private) or a DM with one user."""

    id: str
    name: str = ""
    is_im: bool = False
    is_private: bool = False
    user: str | None = None  # the other side of a DM
    members: list[str] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    archived: bool = False


class SlackApiDoubleError(Exception):
    """A Slack error response (`ok: false`)."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


class SlackDouble:
    """A faithful-enough Slack Web API on loopback. Use as a context manager."""

    def __init__(self, page_size: int = 2) -> None:
        self.calls: list[Call] = []
        # (method, channel, ts of each message returned) of every conversations.history
        # and conversations.replies answer: what a reader fetched, and how often.
        self.served: list[tuple[str, str, list[str]]] = []
        self.responses: list[dict[str, Any]] = []  # bodies POSTed to response_urls
        self.users: dict[str, dict[str, Any]] = {}
        self.profile_fields: list[dict[str, Any]] = []
        self.channels: dict[str, Channel] = {}
        self.views: dict[str, dict[str, Any]] = {}  # view id -> view (modals)
        self.homes: dict[str, dict[str, Any]] = {}  # user id -> published App Home
        self.faults: dict[str, list[Fault]] = {}
        self.page_size = page_size  # default page for paginated methods without a limit
        self.socket_url: str | None = None
        self._chaos: tuple[random.Random, float, frozenset[str], tuple[float, float]] | None = None
        self.chaos_faults = 0  # calls answered with a drawn fault (slow ones not counted)
        self.tokens = {BOT_TOKEN, APP_TOKEN}
        self._ts = itertools.count(1)
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        self.add_user(BOT_USER, "whoknows", is_bot=True)

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        """The base URL to give `WebClient(base_url=...)`."""
        return self.url + "/api/"

    def response_url(self) -> str:
        """A fresh response_url that records what is POSTed to it."""
        return f"{self.url}/respond/{uuid.uuid4().hex[:12]}"

    def start(self) -> SlackDouble:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> SlackDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ workspace

    def add_user(
        self,
        user_id: str,
        name: str,
        email: str | None = None,
        title: str = "",
        tz: str = "UTC",
        fields: dict[str, str] | None = None,
        **flags: Any,
    ) -> dict[str, Any]:
        """Add a member shaped like users.list returns them."""
        profile: dict[str, Any] = {"real_name": name, "display_name": name, "title": title}
        if email:
            profile["email"] = email
        if fields:
            profile["fields"] = {fid: {"value": v, "alt": ""} for fid, v in fields.items()}
        member = {
            "id": user_id,
            "team_id": TEAM,
            "name": name.lower().replace(" ", "."),
            "real_name": name,
            "deleted": False,
            "is_bot": False,
            "is_app_user": False,
            "tz": tz,
            "profile": profile,
            **flags,
        }
        with self._lock:
            self.users[user_id] = member
        return member

    def add_channel(
        self,
        channel_id: str,
        name: str,
        members: list[str],
        private: bool = False,
        archived: bool = False,
    ) -> Channel:
        """A channel with these members (add BOT_USER to let the bot post there)."""
        with self._lock:
            channel = Channel(
                channel_id, name, is_private=private, members=list(members), archived=archived
            )
            self.channels[channel_id] = channel
            return channel

    def post_as_user(
        self, channel: str, user: str, text: str, thread_ts: str | None = None
    ) -> dict[str, Any]:
        """A person posts a message (to build the matching event); returns the message."""
        with self._lock:
            conv = self._im_of(user) if channel == "im" else self.channels[channel]
            message = {"type": "message", "user": user, "text": text, "ts": self._next_ts()}
            if thread_ts:
                message["thread_ts"] = thread_ts
                self._mark_parent(conv, thread_ts)
            conv.messages.append(message)
            return {**message, "channel": conv.id}

    def add_message(
        self,
        channel: str,
        user: str | None,
        text: str,
        ts: str | None = None,
        thread_ts: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """A message already in a channel's history, at `ts` (default: now), kept in time
        order: a person's (`user`), a bot's (`bot_id=...`) or the system's (`subtype=...`,
        e.g. "channel_join"). A reply gets `parent_user_id` and its root `reply_count`, as
        Slack stores them; `subtype="thread_broadcast"` also shows it in the channel."""
        with self._lock:
            conv = self.channels[channel]
            message: dict[str, Any] = {"type": "message", "text": text, "ts": ts or self._next_ts()}
            if user is not None:
                message["user"] = user
            message.update(fields)
            if thread_ts:
                message["thread_ts"] = thread_ts
                parent = next((m for m in conv.messages if m["ts"] == thread_ts), None)
                if parent is not None and parent.get("user"):
                    message["parent_user_id"] = parent["user"]
                self._mark_parent(conv, thread_ts)
            at = float(message["ts"])
            where = next(
                (i for i, m in enumerate(conv.messages) if float(m["ts"]) > at), len(conv.messages)
            )
            conv.messages.insert(where, message)
            return {**message, "channel": conv.id}

    def im_channel(self, user: str) -> str:
        """The id of the bot's DM with `user` (opened if needed)."""
        with self._lock:
            return self._im_of(user).id

    # ------------------------------------------------------------------ faults

    def fail(self, method: str, error: str, times: int = 1) -> None:
        """The next `times` calls of `method` answer `{"ok": false, "error": error}`."""
        with self._lock:
            self.faults.setdefault(method, []).append(Fault(error=error, times=times))

    def drop(self, method: str, times: int = 1) -> None:
        """The next `times` calls of `method` get no answer: the connection is closed, as
        when the network fails (the call is not done)."""
        with self._lock:
            self.faults.setdefault(method, []).append(Fault(drop=True, times=times))

    def rate_limit(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """The next `times` calls of `method` answer HTTP 429 with Retry-After."""
        with self._lock:
            self.faults.setdefault(method, []).append(Fault(retry_after=retry_after, times=times))

    def chaos(
        self,
        seed: int,
        rate: float = 0.2,
        methods: tuple[str, ...] = ("chat.postMessage", "chat.update", "conversations.open"),
        slow: tuple[float, float] = (0.1, 1.0),
    ) -> None:
        """From now on, each call of `methods` fails at random (seeded) with probability
        `rate`, one of: HTTP 429 with Retry-After 1, HTTP 500 or 503, `ok:false`
        `internal_error` (each before anything is done), or a slow answer (done, then
        answered after `slow` seconds: a kill in that wait leaves the call in doubt)."""
        with self._lock:
            self._chaos = (random.Random(seed), rate, frozenset(methods), slow)

    def _chaos_draw(self, method: str) -> tuple[str, float] | None:
        """The fault drawn for this call: (kind, seconds of delay), or None."""
        if self._chaos is None:
            return None
        rng, rate, methods, slow = self._chaos
        if method not in methods or rng.random() >= rate:
            return None
        kind = rng.choice(["429", "500", "503", "internal_error", "slow", "slow"])
        return kind, rng.uniform(*slow)

    # ------------------------------------------------------------------ reading

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 10) -> list[Call]:
        """Wait until `method` has been called `count` times; returns those calls."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.calls_to(method)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{method} called {len(self.calls_to(method))} times, wanted {count}"
                    )
                self._changed.wait(left)
            return self.calls_to(method)

    def posts(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Every message the bot posted (optionally in one conversation), oldest first."""
        with self._lock:
            found = [
                {**m, "channel": c.id}
                for c in self.channels.values()
                for m in c.messages
                if m.get("user") == BOT_USER and (channel is None or c.id == channel)
            ]
        return sorted(found, key=lambda m: float(m["ts"]))

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        with self._lock:
            return next((m for m in self.channels[channel].messages if m["ts"] == ts), None)

    def is_im(self, channel: str) -> bool:
        with self._lock:
            conv = self.channels.get(channel)
            return bool(conv and conv.is_im)

    # ------------------------------------------------------------------ internals

    def _next_ts(self) -> str:
        n = next(self._ts)
        return f"{1_767_000_000 + n}.{n:06d}"

    def _im_of(self, user: str) -> Channel:
        for conv in self.channels.values():
            if conv.is_im and conv.user == user:
                return conv
        if user not in self.users:
            raise SlackApiDoubleError("user_not_found")
        conv = Channel("D" + user[1:], is_im=True, user=user, members=[user, BOT_USER])
        self.channels[conv.id] = conv
        return conv

    @staticmethod
    def _mark_parent(conv: Channel, thread_ts: str) -> None:
        parent = next((m for m in conv.messages if m["ts"] == thread_ts), None)
        if parent is None:
            raise SlackApiDoubleError("thread_not_found")
        parent.setdefault("thread_ts", thread_ts)
        parent["reply_count"] = parent.get("reply_count", 0) + 1

    def _conversation(self, channel_id: str | None, posting: bool = False) -> Channel:
        if not channel_id:
            raise SlackApiDoubleError("channel_not_found")
        if channel_id.startswith(("U", "W")) and posting:
            return self._im_of(channel_id)  # posting to a user id means the app's DM
        conv = self.channels.get(channel_id)
        if conv is None:
            raise SlackApiDoubleError("channel_not_found")
        if BOT_USER not in conv.members:
            raise SlackApiDoubleError("not_in_channel")
        return conv

    def _take_fault(self, method: str) -> Fault | None:
        queue = self.faults.get(method) or []
        if not queue:
            return None
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.pop(0)
        return fault

    def _handle(self, method: str, args: dict[str, Any], token: str | None) -> tuple[int, dict]:
        with self._changed:
            drawn = self._chaos_draw(method)
        if drawn is not None and drawn[0] == "slow":
            status, body = self._handle_now(method, args, token)
            time.sleep(drawn[1])  # done, but the caller hears of it late
            return status, body
        if drawn is not None:
            with self._changed:
                self.calls.append(Call(method, args, token, time.time()))
                self.chaos_faults += 1
            if drawn[0] == "429":
                return 429, {"ok": False, "error": "ratelimited", "_retry_after": 1}
            if drawn[0] in ("500", "503"):
                return int(drawn[0]), {"ok": False, "error": "internal_error"}
            return 200, {"ok": False, "error": drawn[0]}
        return self._handle_now(method, args, token)

    def _handle_now(self, method: str, args: dict[str, Any], token: str | None) -> tuple[int, dict]:
        with self._changed:
            self.calls.append(Call(method, args, token, time.time()))
            self._changed.notify_all()
            fault = self._take_fault(method)
            if fault and fault.drop:
                return 0, {"_drop": True}
            if fault and fault.retry_after is not None:
                return 429, {"ok": False, "error": "ratelimited", "_retry_after": fault.retry_after}
            if fault:
                return 200, {"ok": False, "error": fault.error}
            if token not in self.tokens:
                return 200, {"ok": False, "error": "not_authed" if not token else "invalid_auth"}
            if method == "apps.connections.open" and token != APP_TOKEN:
                return 200, {"ok": False, "error": "not_allowed_token_type"}
            if method != "apps.connections.open" and token == APP_TOKEN:
                return 200, {"ok": False, "error": "not_allowed_token_type"}
            handler = getattr(self, "_m_" + method.replace(".", "_"), None)
            if handler is None:
                return 200, {"ok": False, "error": "unknown_method"}
            try:
                return 200, {"ok": True, **handler(args)}
            except SlackApiDoubleError as error:
                return 200, {"ok": False, "error": error.error, **error.extra}

    # ------------------------------------------------------------ Web API methods

    def _m_auth_test(self, args: dict) -> dict:
        return {
            "url": "https://northwind.slack.com/",
            "team": "Northwind Robotics",
            "user": "whoknows",
            "team_id": TEAM,
            "user_id": BOT_USER,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _m_apps_connections_open(self, args: dict) -> dict:
        if not self.socket_url:
            raise SlackApiDoubleError("socket_mode_not_enabled")
        return {"url": self.socket_url}

    def _m_chat_postMessage(self, args: dict) -> dict:
        conv = self._conversation(args.get("channel"), posting=True)
        blocks = _parse_json(args.get("blocks"))
        if not args.get("text") and not blocks:
            raise SlackApiDoubleError("no_text")
        _check_blocks(blocks, 50)
        message: dict[str, Any] = {
            "type": "message",
            "user": BOT_USER,
            "bot_id": BOT_ID,
            "text": args.get("text") or "",
            "ts": self._next_ts(),
        }
        if blocks:
            message["blocks"] = blocks
        metadata = _parse_json(args.get("metadata"))
        if metadata:
            if not isinstance(metadata, dict) or "event_type" not in metadata:
                raise SlackApiDoubleError("invalid_metadata_format")
            message["metadata"] = metadata
        if args.get("thread_ts"):
            self._mark_parent(conv, str(args["thread_ts"]))
            message["thread_ts"] = str(args["thread_ts"])
        conv.messages.append(message)
        return {"channel": conv.id, "ts": message["ts"], "message": _public(message)}

    def _m_chat_update(self, args: dict) -> dict:
        conv = self._conversation(args.get("channel"))
        message = next((m for m in conv.messages if m["ts"] == args.get("ts")), None)
        if message is None:
            raise SlackApiDoubleError("message_not_found")
        if message.get("user") != BOT_USER:
            raise SlackApiDoubleError("cant_update_message")
        blocks = _parse_json(args.get("blocks"))
        _check_blocks(blocks, 50)
        if args.get("text") is not None:
            message["text"] = args["text"]
        if blocks is not None:
            message["blocks"] = blocks
        message["edited"] = {"user": BOT_USER, "ts": self._next_ts()}
        return {"channel": conv.id, "ts": message["ts"], "text": message["text"]}

    def _m_chat_postEphemeral(self, args: dict) -> dict:
        conv = self._conversation(args.get("channel"))
        if args.get("user") not in conv.members and not conv.is_im:
            raise SlackApiDoubleError("user_not_in_channel")
        _check_blocks(_parse_json(args.get("blocks")), 50)
        return {"message_ts": self._next_ts()}

    def _m_conversations_open(self, args: dict) -> dict:
        users = str(args.get("users") or "").split(",")
        if len(users) != 1 or not users[0]:
            raise SlackApiDoubleError("invalid_arguments")
        return {"channel": {"id": self._im_of(users[0]).id}}

    def _m_conversations_history(self, args: dict) -> dict:
        conv = self._conversation(args.get("channel"))
        # The channel's own messages, and replies also sent to the channel.
        top = [
            m
            for m in conv.messages
            if m.get("thread_ts", m["ts"]) == m["ts"] or m.get("subtype") == "thread_broadcast"
        ]
        top = [m for m in top if _in_range(m["ts"], args)]
        newest_first = sorted(top, key=lambda m: float(m["ts"]), reverse=True)
        if args.get("oldest") and not args.get("latest"):
            # Slack: "If oldest is provided but not latest then the messages returned are
            # those closest to oldest, allowing you to page forward through history."
            page, meta = _page(newest_first[::-1], args, self.page_size)
            page = page[::-1]  # each page still newest first
        else:
            page, meta = _page(newest_first, args, self.page_size)
        keep = _truthy(args.get("include_all_metadata"))
        self.served.append(("conversations.history", conv.id, [m["ts"] for m in page]))
        return {
            "messages": [_with_replies(conv, _public(m, keep)) for m in page],
            "has_more": bool(meta["next_cursor"]),
            "response_metadata": meta,
        }

    def _m_conversations_replies(self, args: dict) -> dict:
        conv = self._conversation(args.get("channel"))
        ts = args.get("ts")
        thread = [m for m in conv.messages if m["ts"] == ts or m.get("thread_ts") == ts]
        if not thread:
            raise SlackApiDoubleError("thread_not_found")
        page, meta = _page(thread, args, self.page_size)
        keep = _truthy(args.get("include_all_metadata"))
        self.served.append(("conversations.replies", conv.id, [m["ts"] for m in page]))
        return {
            "messages": [_public(m, keep) for m in page],
            "has_more": bool(meta["next_cursor"]),
            "response_metadata": meta,
        }

    def _m_conversations_info(self, args: dict) -> dict:
        conv = self.channels.get(str(args.get("channel")))
        # A private channel the bot is not in does not exist for it; a public one does.
        if conv is None or (conv.is_private and BOT_USER not in conv.members):
            raise SlackApiDoubleError("channel_not_found")
        return {
            "channel": {
                "id": conv.id,
                "name": conv.name,
                "is_channel": not conv.is_private and not conv.is_im,
                "is_group": conv.is_private,
                "is_im": conv.is_im,
                "is_private": conv.is_private,
                "is_member": BOT_USER in conv.members,
                "is_archived": conv.archived,
            }
        }

    def _m_conversations_members(self, args: dict) -> dict:
        conv = self.channels.get(str(args.get("channel")))
        if conv is None or (conv.is_private and BOT_USER not in conv.members):
            raise SlackApiDoubleError("channel_not_found")
        page, meta = _page(conv.members, args, self.page_size)
        return {"members": page, "response_metadata": meta}

    def _m_users_conversations(self, args: dict) -> dict:
        types = set(str(args.get("types") or "public_channel").split(","))
        mine = [
            c
            for c in self.channels.values()
            if not c.is_im
            and BOT_USER in c.members
            and ("private_channel" if c.is_private else "public_channel") in types
            and not (c.archived and _truthy(args.get("exclude_archived")))
        ]
        page, meta = _page(mine, args, self.page_size)
        return {
            "channels": [
                {
                    "id": c.id,
                    "name": c.name,
                    "is_channel": True,
                    "is_private": c.is_private,
                    "is_archived": c.archived,
                }
                for c in page
            ],
            "response_metadata": meta,
        }

    def _m_users_list(self, args: dict) -> dict:
        page, meta = _page(list(self.users.values()), args, self.page_size)
        return {"members": page, "cache_ts": int(time.time()), "response_metadata": meta}

    def _m_users_info(self, args: dict) -> dict:
        user = self.users.get(str(args.get("user")))
        if user is None:
            raise SlackApiDoubleError("user_not_found")
        return {"user": user}

    def _m_team_profile_get(self, args: dict) -> dict:
        return {"profile": {"fields": self.profile_fields}}

    def _m_views_open(self, args: dict) -> dict:
        if not args.get("trigger_id"):
            raise SlackApiDoubleError("invalid_trigger_id")
        view = _parse_json(args.get("view"))
        _check_view(view, "modal")
        view_id = "V" + uuid.uuid4().hex[:10].upper()
        stored = {**view, "id": view_id, "team_id": TEAM, "state": {"values": {}}}
        self.views[view_id] = stored
        return {"view": stored}

    def _m_views_publish(self, args: dict) -> dict:
        view = _parse_json(args.get("view"))
        _check_view(view, "home")
        user = str(args.get("user_id"))
        if user not in self.users:
            raise SlackApiDoubleError("user_not_found")
        stored = {**view, "id": "V" + uuid.uuid4().hex[:10].upper()}
        self.homes[user] = stored
        return {"view": stored}

    # ---------------------------------------------------------------- HTTP side

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def _serve(self) -> None:
                parsed = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if parsed.path.startswith("/respond/"):
                    with double._changed:
                        double.responses.append(json.loads(raw or b"{}"))
                        double.calls.append(Call("response_url", json.loads(raw or b"{}"), None, 0))
                        double._changed.notify_all()
                    return self._send(200, b"ok", "text/plain")
                if not parsed.path.startswith("/api/"):
                    return self._send(404, b"not found", "text/plain")
                method = parsed.path[len("/api/") :]
                args = _args(parsed.query, raw, self.headers.get("Content-Type", ""))
                auth = self.headers.get("Authorization", "")
                token = auth[7:] if auth.startswith("Bearer ") else args.pop("token", None)
                args.pop("token", None)
                status, body = double._handle(method, args, token)
                if body.pop("_drop", False):
                    self.close_connection = True  # no answer at all
                    return None
                retry = body.pop("_retry_after", None)
                headers = {"Retry-After": str(retry)} if retry is not None else {}
                self._send(status, json.dumps(body).encode(), "application/json", headers)

            def _send(self, status: int, body: bytes, kind: str, headers: dict | None = None):
                self.send_response(status)
                self.send_header("Content-Type", kind + "; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

        return Handler


# ---------------------------------------------------------------------- helpers


def _args(query: str, raw: bytes, content_type: str) -> dict[str, Any]:
    args: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query).items()}
    if raw:
        if content_type.startswith("application/json"):
            args.update(json.loads(raw))
        else:
            args.update({k: v[-1] for k, v in parse_qs(raw.decode()).items()})
    return args


def _parse_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as error:
            raise SlackApiDoubleError("invalid_json") from error
    return value


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true")


def _in_range(ts: str, args: dict[str, Any]) -> bool:
    """conversations.history's time range: after `oldest`, before `latest` (default now),
    each end included only with `inclusive`."""
    at, inclusive = float(ts), _truthy(args.get("inclusive"))
    low = float(args["oldest"]) if args.get("oldest") not in (None, "") else None
    high = float(args["latest"]) if args.get("latest") not in (None, "") else None
    after = low is None or at > low or (inclusive and at == low)
    before = high is None or at < high or (inclusive and at == high)
    return after and before


def _with_replies(conv: Channel, message: dict[str, Any]) -> dict[str, Any]:
    """A thread's root as conversations.history shows it: who replied and when last."""
    if not message.get("reply_count"):
        return message
    replies = [
        m for m in conv.messages if m.get("thread_ts") == message["ts"] and m["ts"] != message["ts"]
    ]
    users = list(dict.fromkeys(m["user"] for m in replies if m.get("user")))
    if replies:
        message = {
            **message,
            "reply_users": users,
            "reply_users_count": len(users),
            "latest_reply": replies[-1]["ts"],
        }
    return message


def _public(message: dict[str, Any], keep_metadata: bool = False) -> dict[str, Any]:
    shown = dict(message)
    if not keep_metadata:
        shown.pop("metadata", None)
    return shown


def _page(items: list[Any], args: dict[str, Any], default: int) -> tuple[list[Any], dict]:
    """Cursor pagination the way Slack does it: an opaque cursor, empty when done."""
    limit = int(args.get("limit") or 0) or default
    limit = min(limit, default) if default else limit  # the double pages small on purpose
    start = 0
    if args.get("cursor"):
        try:
            start = int(base64.b64decode(str(args["cursor"])).decode().split(":")[1])
        except (ValueError, IndexError) as error:
            raise SlackApiDoubleError("invalid_cursor") from error
    page = items[start : start + limit]
    end = start + len(page)
    cursor = base64.b64encode(f"next:{end}".encode()).decode() if end < len(items) else ""
    return page, {"next_cursor": cursor}


def _invalid(message: str) -> SlackApiDoubleError:
    return SlackApiDoubleError(
        "invalid_blocks", response_metadata={"messages": [f"[ERROR] {message}"]}
    )


def _text_len(obj: Any) -> int:
    return len(obj.get("text", "")) if isinstance(obj, dict) else 0


def _check_blocks(blocks: Any, max_blocks: int) -> None:
    """Slack's Block Kit limits, enough to catch what the app could get wrong."""
    if blocks is None:
        return
    if not isinstance(blocks, list) or len(blocks) > max_blocks:
        raise _invalid(f"at most {max_blocks} blocks")
    seen_ids: set[str] = set()
    for block in blocks:
        kind = block.get("type")
        block_id = block.get("block_id")
        if block_id:
            if block_id in seen_ids or len(block_id) > 255:
                raise _invalid(f"bad or repeated block_id {block_id!r}")
            seen_ids.add(block_id)
        if kind == "section":
            if _text_len(block.get("text")) > 3000 or not block.get("text", {}).get("text"):
                raise _invalid("section text must be 1-3000 characters")
            if block.get("accessory"):
                _check_element(block["accessory"])
        elif kind == "context":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= 10:
                raise _invalid("context needs 1-10 elements")
            if any(_text_len(e) > 3000 for e in elements):
                raise _invalid("context text over 3000 characters")
        elif kind == "actions":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= 25:
                raise _invalid("actions needs 1-25 elements")
            action_ids = [e.get("action_id") for e in elements]
            if len(set(action_ids)) != len(action_ids):
                raise _invalid("repeated action_id in one block")
            for element in elements:
                _check_element(element)
        elif kind == "header":
            if _text_len(block.get("text")) > 150:
                raise _invalid("header over 150 characters")
        elif kind == "input":
            if _text_len(block.get("label")) > 2000 or not block.get("element"):
                raise _invalid("input needs a label and an element")
        elif kind not in ("divider", "image", "rich_text"):
            raise _invalid(f"unknown block type {kind!r}")


def _check_element(element: dict[str, Any]) -> None:
    if element.get("type") == "button":
        if _text_len(element.get("text")) > 75 or len(element.get("value", "")) > 2000:
            raise _invalid("button text over 75 or value over 2000 characters")
        if element.get("style") not in (None, "primary", "danger"):
            raise _invalid("bad button style")
    if len(element.get("action_id", "")) > 255:
        raise _invalid("action_id over 255 characters")


def _check_view(view: Any, kind: str) -> None:
    if not isinstance(view, dict) or view.get("type") != kind:
        raise SlackApiDoubleError("invalid_arguments")
    _check_blocks(view.get("blocks"), 100)
    if kind == "modal":
        for key in ("title", "submit", "close"):
            if key in view and _text_len(view[key]) > 24:
                raise _invalid(f"modal {key} over 24 characters")
        if not view.get("title"):
            raise _invalid("a modal needs a title")
        has_input = any(b.get("type") == "input" for b in view.get("blocks") or [])
        if has_input and not view.get("submit"):
            raise _invalid("a modal with inputs needs a submit button")
    if len(view.get("private_metadata", "")) > 3000:
        raise _invalid("private_metadata over 3000 characters")


# ------------------------------------------------------------------ Socket Mode


class SocketModeDouble:
    """Slack's Socket Mode WebSocket on loopback: says hello, sends envelopes, collects
    the app's acknowledgements (`{"envelope_id": ...}`)."""

    def __init__(self) -> None:
        from websockets.sync.server import serve

        self.acks: dict[str, dict[str, Any]] = {}
        self._connections: list[Any] = []
        self._lock = threading.Condition()
        self._server = serve(self._session, "127.0.0.1", 0)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.socket.getsockname()[:2]
        return f"ws://{host}:{port}/link/?ticket=whoknows-test&app_id=AWHOKNOWS"

    def __enter__(self) -> SocketModeDouble:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()

    def _session(self, websocket: Any) -> None:
        hello = {
            "type": "hello",
            "num_connections": 1,
            "debug_info": {"host": "applink-double", "approximate_connection_time": 18060},
            "connection_info": {"app_id": "AWHOKNOWS"},
        }
        websocket.send(json.dumps(hello))
        with self._lock:
            self._connections.append(websocket)
            self._lock.notify_all()
        for raw in websocket:
            reply = json.loads(raw)
            with self._lock:
                if "envelope_id" in reply:
                    self.acks[reply["envelope_id"]] = reply
                    self._lock.notify_all()

    def wait_connected(self, timeout: float = 10) -> None:
        with self._lock:
            if not self._lock.wait_for(lambda: self._connections, timeout):
                raise AssertionError("the app never connected to the Socket Mode double")

    def send(self, kind: str, payload: dict[str, Any], retry_attempt: int = 0) -> str:
        """Send one envelope (`events_api`, `interactive`, `slash_commands`); its id."""
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": retry_attempt,
            "retry_reason": "timeout" if retry_attempt else "",
        }
        with self._lock:
            connection = self._connections[-1]
        connection.send(json.dumps(envelope))
        return envelope_id

    def wait_ack(self, envelope_id: str, timeout: float = 10) -> dict[str, Any]:
        with self._lock:
            if not self._lock.wait_for(lambda: envelope_id in self.acks, timeout):
                raise AssertionError(f"envelope {envelope_id} was never acknowledged")
            return self.acks[envelope_id]
