"""Running the Slack app: HTTP (an ASGI app under uvicorn) or Socket Mode.

HTTP mode serves `POST /slack/events` (Events API, interactivity, slash commands) and
`GET /healthz`. Each request is checked in this order, before anything else reads it:
its size, then Slack's signature over the raw bytes (401 if it fails, whatever the body
is), then the body's shape (400 for anything Slack would never send: bad UTF-8, JSON that
is not an object, an empty or truncated `payload=`). Only then is it written to the intake
table and dispatched to Bolt, in a worker thread so a slow Slack call in one listener
(`views.open`) never holds up the event loop and other acks. A refusal logs one line.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt import BoltRequest
from slack_bolt.adapter.starlette.handler import to_starlette_response
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.runtime import Runtime
from bot.settings import Settings
from bot.slack.app import SlackBot
from bot.slack.deliverer import sending_status

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
MAX_BODY = 1 << 20  # Slack's payloads are a few KB; refuse anything silly before parsing
MAX_CLOCK_SKEW = 60 * 5  # Slack's own rule for the request timestamp
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class BadRequest(ValueError):
    """A request refused before Bolt sees it; `status` is the HTTP answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def check_signature(secret: str, body: bytes, headers: Any, now: float | None = None) -> None:
    """Slack's v0 signature over the raw body (and a fresh timestamp); BadRequest(401)
    if it does not hold. Nothing of the body is parsed."""
    timestamp = headers.get("x-slack-request-timestamp") or ""
    signature = headers.get("x-slack-signature") or ""
    if not _TIMESTAMP.fullmatch(timestamp) or not signature:
        raise BadRequest(401, "missing or malformed signature headers")
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > MAX_CLOCK_SKEW:
        raise BadRequest(401, "stale request timestamp")
    # Over the bytes as received: slack_sdk's SignatureVerifier decodes the body as UTF-8
    # first, and fails on a body that is not.
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        raise BadRequest(401, "bad signature")


def parse_body(body: bytes, content_type: str) -> tuple[str, dict[str, Any]]:
    """The body as text and as the dict Bolt will see; BadRequest(400) for anything that
    is not one of Slack's three shapes (a JSON object; a form with a JSON-object
    `payload`; a slash command's form)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRequest(400, f"body is not UTF-8 ({error.reason})") from None
    if content_type.startswith("application/json"):
        try:
            parsed = json.loads(text)
        except ValueError:
            raise BadRequest(400, "body is not valid JSON") from None
        if not isinstance(parsed, dict):
            raise BadRequest(400, "JSON body is not an object")
        return text, _checked_event(parsed)
    if content_type.startswith("application/x-www-form-urlencoded"):
        try:
            form = dict(parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text)))
        except ValueError:
            raise BadRequest(400, "malformed form body") from None
        if "payload" in form:
            try:
                payload = json.loads(form["payload"])
            except ValueError:
                raise BadRequest(400, "payload= is empty or not valid JSON") from None
            if not isinstance(payload, dict):
                raise BadRequest(400, "payload= is not a JSON object")
            user = payload.get("user")
            if not isinstance(payload.get("type"), str) or not (
                isinstance(user, dict) and isinstance(user.get("id"), str)
            ):
                raise BadRequest(400, "interaction payload without a type or a user id")
            return text, payload
        if form.get("command"):
            if not form.get("user_id"):
                raise BadRequest(400, "slash command without a user_id")
            return text, form
        raise BadRequest(400, "form body is neither an interaction nor a slash command")
    raise BadRequest(415, f"unsupported content type {content_type[:60]!r}")


def _checked_event(body: dict[str, Any]) -> dict[str, Any]:
    """An Events API body with what the listeners rely on (BadRequest(400) otherwise)."""
    if body.get("type") == "event_callback":
        event = body.get("event")
        if not (isinstance(event, dict) and isinstance(event.get("type"), str)):
            raise BadRequest(400, "event_callback without an event object and type")
        if not isinstance(body.get("event_id", ""), str):
            raise BadRequest(400, "event_id is not a string")
    return body


async def read_body(request: Request) -> bytes:
    """The request body, refused (413) past MAX_BODY without reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise BadRequest(413, "payload too large")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                raise BadRequest(413, "payload too large")
            chunks.append(chunk)
    except ClientDisconnect:
        raise BadRequest(400, "client went away mid-request") from None
    return b"".join(chunks)


def create_asgi_app(bot: SlackBot) -> Starlette:
    """The ASGI app of HTTP mode, for uvicorn (and tests)."""
    secret = bot.settings.signing_secret
    if not secret:
        raise ValueError("HTTP mode needs the signing secret (WHOKNOWS_SLACK__SIGNING_SECRET)")

    async def slack_events(request: Request) -> Response:
        try:
            body = await read_body(request)
            check_signature(secret, body, request.headers)
            text, _ = parse_body(body, request.headers.get("content-type", "").lower())
        except BadRequest as refused:
            client = request.client.host if request.client else "?"
            log.warning(
                "refused a request to %s from %s (%d): %s",
                EVENTS_PATH,
                client,
                refused.status,
                refused,
            )
            return PlainTextResponse(str(refused), status_code=refused.status)
        headers = {k.lower(): [v] for k, v in request.headers.items()}
        bolt_request = BoltRequest(body=text, query=request.url.query, headers=headers)
        bolt_response = await run_in_threadpool(bot.intake.dispatch, bolt_request, text)
        return to_starlette_response(bolt_response)

    async def health(request: Request) -> Response:
        try:
            seq = await run_in_threadpool(bot.runtime.store.current_seq)
            intake = await run_in_threadpool(bot.runtime.intake.counts)
            sending = await run_in_threadpool(sending_status, bot.runtime.store)
        except Exception as error:  # the database is what whoknows can't do without
            log.warning("health check failed: %s", error)
            return JSONResponse({"ok": False, "error": str(error)}, status_code=503)
        return JSONResponse(
            {"ok": True, "jobs_waiting": bot.jobs.waiting(), "intake": intake, "seq": seq}
            | sending  # "sending": false, "why": "app uninstalled at ..." after an uninstall
        )

    return Starlette(
        routes=[
            Route(EVENTS_PATH, slack_events, methods=["POST"]),
            Route(HEALTH_PATH, health, methods=["GET"]),
        ]
    )


def missing_settings(settings: Settings, socket: bool) -> list[str]:
    """The environment variables a mode needs that are not set."""
    slack = settings.slack
    needed = {"WHOKNOWS_SLACK__BOT_TOKEN": slack.bot_token}
    if socket:
        needed["WHOKNOWS_SLACK__APP_TOKEN"] = slack.app_token
    else:
        needed["WHOKNOWS_SLACK__SIGNING_SECRET"] = slack.signing_secret
    return [name for name, value in needed.items() if not value]


def serve(settings: Settings, socket: bool = False) -> None:
    """Run whoknows on Slack until interrupted: Socket Mode (development) or HTTP."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    missing = missing_settings(settings, socket)
    if missing:
        names = ", ".join(missing)
        raise SystemExit(f"Set {names} (in .env or the environment); see README 'Slack'.")
    runtime = Runtime(settings)
    bot = SlackBot(runtime, settings.slack, socket_mode=socket)
    bot.start()
    try:
        if socket:
            from bot.slack.socket import DurableSocketModeHandler, run_until_terminated

            log.info("whoknows: Socket Mode")
            run_until_terminated(DurableSocketModeHandler(bot, settings.slack.app_token))
        else:
            import uvicorn

            where = f"{settings.slack.host}:{settings.slack.port}{EVENTS_PATH}"
            log.info("whoknows: HTTP on %s", where)
            # uvicorn stops taking requests on SIGTERM and finishes the ones in flight;
            # every one it acknowledged is already in the intake table.
            uvicorn.run(
                create_asgi_app(bot),
                host=settings.slack.host,
                port=settings.slack.port,
                log_level="info",
            )
    finally:
        bot.stop()
