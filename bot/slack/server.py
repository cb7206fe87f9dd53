"""Running the Slack app: HTTP (an ASGI app under uvicorn) or Socket Mode.

HTTP mode serves `POST /slack/events` (Events API, interactivity, slash commands: Bolt
verifies each request's signature and timestamp) and `GET /healthz`. The request is turned
into a Bolt request with Bolt's Starlette adapter, and dispatched in a worker thread so a
slow Slack call in one listener (`views.open`) never holds up the event loop and other acks.
"""

from __future__ import annotations

import logging

from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.runtime import Runtime
from bot.settings import Settings
from bot.slack.app import SlackBot

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
MAX_BODY = 1 << 20  # Slack's payloads are a few KB; refuse anything silly before parsing


def create_asgi_app(bot: SlackBot) -> Starlette:
    """The ASGI app of HTTP mode, for uvicorn (and tests)."""

    async def slack_events(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY:
            return PlainTextResponse("payload too large", status_code=413)
        bolt_response = await run_in_threadpool(bot.app.dispatch, to_bolt_request(request, body))
        return to_starlette_response(bolt_response)

    async def health(request: Request) -> Response:
        try:
            seq = await run_in_threadpool(bot.runtime.store.current_seq)
        except Exception as error:  # the database is what whoknows can't do without
            return JSONResponse({"ok": False, "error": str(error)}, status_code=503)
        return JSONResponse({"ok": True, "jobs_waiting": bot.jobs.waiting(), "seq": seq})

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
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            log.info("whoknows: Socket Mode")
            SocketModeHandler(bot.app, app_token=settings.slack.app_token).start()
        else:
            import uvicorn

            where = f"{settings.slack.host}:{settings.slack.port}{EVENTS_PATH}"
            log.info("whoknows: HTTP on %s", where)
            uvicorn.run(
                create_asgi_app(bot),
                host=settings.slack.host,
                port=settings.slack.port,
                log_level="info",
            )
    finally:
        bot.stop()
