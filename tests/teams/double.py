"""A local double of Microsoft's side of a Teams bot, on 127.0.0.1 (a random port):

- the Bot Connector REST API under `service_url` (create a 1:1 conversation, post, reply,
  update a message, look a member up, list a team's channels), recording every call; a
  test can script its next answers to a kind of call (`script`: 429 with a Retry-After,
  503, 403...);
- the Entra token endpoint (`login_url`) for the bot's own client-credentials tokens;
- OpenID metadata and a key set (`openid_url`) whose key signs test tokens (`sign`).

It runs on its own asyncio loop in a daemon thread, like a separate service.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

ACCESS_TOKEN = "double-access-token"
KID = "whoknows-test-key"


class LoopThread:
    """An asyncio loop running in a daemon thread."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

    def run(self, work: Coroutine, timeout: float = 60) -> Any:
        """Run `work` on the loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


async def start_site(app: web.Application) -> tuple[web.AppRunner, str]:
    """Serve `app` on 127.0.0.1 at a free port; returns the runner and the base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    return runner, f"http://127.0.0.1:{port}"


@dataclass
class Call:
    """One request the double received."""

    method: str
    path: str
    conversation_id: str | None
    activity_id: str | None
    body: Any
    authorization: str | None
    result_id: str | None = None  # the id the double gave a posted message
    status: int = 200  # what the double answered
    at: float = field(default_factory=time.monotonic)  # when it came


PASS = 0  # a scripted "answer as usual", to interleave faults with normal calls


@dataclass(frozen=True)
class Answer:
    """A scripted answer: an HTTP status (PASS: answer as usual), and a Retry-After
    header if given."""

    status: int
    retry_after: str | None = None


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class ConnectorDouble:
    """The Bot Connector, Entra and the Bot Framework key set, on loopback."""

    calls: list[Call] = field(default_factory=list)
    members: dict[str, dict[str, Any]] = field(default_factory=dict)  # user id -> member
    # team id -> its channels, as `GET /v3/teams/{id}/conversations` lists them
    channels: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    endorsements: list[str] = field(default_factory=lambda: ["msteams"])
    fail_posts: int = 0  # answer this many posts with 503
    closed: set[str] = field(default_factory=set)  # conversations the bot was removed from
    base_url: str = ""
    scripts: dict[str, deque[Answer]] = field(default_factory=dict)  # kind -> next answers

    def __post_init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._ids = itertools.count(1)
        self._loop: LoopThread | None = None
        self._runner: web.AppRunner | None = None

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> ConnectorDouble:
        app = web.Application()
        app.router.add_post("/login/{tenant}/oauth2/v2.0/token", self._token)
        app.router.add_get("/openid/.well-known/openidconfiguration", self._openid)
        app.router.add_get("/openid/keys", self._keys)
        app.router.add_post("/smba/v3/conversations", self._create)
        app.router.add_post("/smba/v3/conversations/{cid}/activities", self._post)
        app.router.add_post("/smba/v3/conversations/{cid}/activities/{aid}", self._post)
        app.router.add_put("/smba/v3/conversations/{cid}/activities/{aid}", self._put)
        app.router.add_get("/smba/v3/conversations/{cid}/members/{uid}", self._member)
        app.router.add_get("/smba/v3/teams/{tid}/conversations", self._channels)
        self._loop = LoopThread("connector-double")
        self._runner, self.base_url = self._loop.run(start_site(app))
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.run(self._runner.cleanup())
            self._loop.stop()
            self._loop = None

    @property
    def service_url(self) -> str:
        return f"{self.base_url}/smba/"

    @property
    def login_url(self) -> str:
        return f"{self.base_url}/login"

    @property
    def openid_url(self) -> str:
        return f"{self.base_url}/openid/.well-known/openidconfiguration"

    # ------------------------------------------------------------------- tokens

    def sign(self, claims: dict[str, Any], key: Any = None, kid: str = KID) -> str:
        """An RS256 token signed by the double's key (or `key`); a claim given as None is
        left out (even nbf, iat, exp)."""
        now = int(time.time())
        payload = {"nbf": now - 10, "iat": now - 10, "exp": now + 3600, **claims}
        payload = {k: v for k, v in payload.items() if v is not None}
        return jwt.encode(payload, key or self.key, algorithm="RS256", headers={"kid": kid})

    def jwk(self) -> dict[str, Any]:
        numbers = self.key.public_key().public_numbers()
        return {
            "kty": "RSA",
            "use": "sig",
            "kid": KID,
            "n": _b64(numbers.n),
            "e": _b64(numbers.e),
            "endorsements": self.endorsements,
        }

    # ------------------------------------------------------------------- reading

    def of(self, method: str, kind: str = "") -> list[Call]:
        """Connector calls by method ("POST", "PUT"...) and kind: "activity" (posts and
        replies), "create" (new conversations), "member", "channels", "token"."""
        found = []
        for call in self.calls:
            if call.method != method:
                continue
            if kind == "activity" and "/activities" not in call.path:
                continue
            if kind == "create" and not call.path.endswith("/v3/conversations"):
                continue
            if kind == "member" and "/members/" not in call.path:
                continue
            if kind == "channels" and "/v3/teams/" not in call.path:
                continue
            if kind == "token" and "/oauth2/" not in call.path:
                continue
            found.append(call)
        return found

    def posts(self, conversation_id: str | None = None) -> list[Call]:
        """Messages posted, in order (optionally in one conversation)."""
        return [
            c
            for c in self.of("POST", "activity")
            if conversation_id is None or c.conversation_id == conversation_id
        ]

    def updates(self) -> list[Call]:
        """Messages updated in place, in order."""
        return self.of("PUT", "activity")

    def delivered(self, conversation_id: str | None = None) -> list[Call]:
        """Messages posted that the double accepted (not those it answered with an error)."""
        return [c for c in self.posts(conversation_id) if c.result_id]

    def script(self, kind: str, *answers: Answer | int) -> None:
        """Answer the next calls of `kind` ("post", "put", "create", "member", "channels",
        "token") with `answers`, in order (a bare int is a status); then as usual again."""
        queue = self.scripts.setdefault(kind, deque())
        queue.extend(a if isinstance(a, Answer) else Answer(a) for a in answers)

    def clear(self) -> None:
        self.calls.clear()
        self.scripts.clear()

    # ------------------------------------------------------------------ handlers

    def _record(self, request: web.Request, body: Any) -> Call:
        call = Call(
            request.method,
            request.path,
            request.match_info.get("cid"),
            request.match_info.get("aid"),
            body,
            request.headers.get("Authorization"),
        )
        self.calls.append(call)
        return call

    def _scripted(self, kind: str, call: Call) -> web.Response | None:
        queue = self.scripts.get(kind)
        if not queue:
            return None
        answer = queue.popleft()
        if answer.status == PASS:  # this call is answered as usual
            return None
        call.status = answer.status
        headers = {"Retry-After": answer.retry_after} if answer.retry_after is not None else {}
        error = {"error": {"code": "Scripted", "message": f"scripted {answer.status}"}}
        return web.json_response(error, status=answer.status, headers=headers)

    async def _token(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        call = self._record(request, form)
        scripted = self._scripted("token", call)
        if scripted is not None:
            return scripted
        if form.get("grant_type") != "client_credentials" or not form.get("client_secret"):
            return web.json_response({"error": "invalid_client"}, status=401)
        return web.json_response(
            {"token_type": "Bearer", "expires_in": 3600, "access_token": ACCESS_TOKEN}
        )

    async def _openid(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "issuer": "https://api.botframework.com",
                "jwks_uri": f"{self.base_url}/openid/keys",
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        )

    async def _keys(self, request: web.Request) -> web.Response:
        return web.json_response({"keys": [self.jwk()]})

    async def _create(self, request: web.Request) -> web.Response:
        body = json.loads(await request.text())
        call = self._record(request, body)
        scripted = self._scripted("create", call)
        if scripted is not None:
            return scripted
        call.status = 201
        user = body["members"][0]["id"]
        return web.json_response({"id": f"a:1on1-{user}"}, status=201)

    async def _post(self, request: web.Request) -> web.Response:
        body = json.loads(await request.text())
        call = self._record(request, body)
        if request.match_info["cid"] in self.closed:
            call.status = 403
            return web.json_response({"error": {"code": "BotNotInConversationRoster"}}, status=403)
        scripted = self._scripted("post", call)
        if scripted is not None:
            return scripted
        if self.fail_posts:
            self.fail_posts -= 1
            call.status = 503
            return web.json_response({"error": {"code": "ServiceUnavailable"}}, status=503)
        call.status = 201
        call.result_id = f"msg-{next(self._ids)}"
        return web.json_response({"id": call.result_id}, status=201)

    async def _put(self, request: web.Request) -> web.Response:
        body = json.loads(await request.text())
        call = self._record(request, body)
        scripted = self._scripted("put", call)
        if scripted is not None:
            return scripted
        return web.json_response({"id": request.match_info["aid"]})

    async def _member(self, request: web.Request) -> web.Response:
        call = self._record(request, None)
        scripted = self._scripted("member", call)
        if scripted is not None:
            return scripted
        member = self.members.get(request.match_info["uid"])
        if member is None:
            call.status = 404
            return web.json_response({"error": {"code": "MemberNotFound"}}, status=404)
        return web.json_response(member)

    async def _channels(self, request: web.Request) -> web.Response:
        call = self._record(request, None)
        scripted = self._scripted("channels", call)
        if scripted is not None:
            return scripted
        team = request.match_info["tid"]
        if team not in self.channels:
            call.status = 404
            return web.json_response({"error": {"code": "TeamNotFound"}}, status=404)
        return web.json_response({"conversations": self.channels[team]})
