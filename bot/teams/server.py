"""`whoknows serve teams`: the Teams bot over HTTP (aiohttp).

Routes: `POST /api/messages` (Bot Framework activities; JWT-checked unless
`settings.teams.auth_enabled` is false) and `GET /healthz`. The lifecycle scheduler runs in
a background thread from startup to shutdown and delivers through `TeamsDeliverer`.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from bot.runtime import Runtime
from bot.settings import Settings
from bot.teams.app import TeamsBot
from bot.teams.deliverer import TeamsDeliverer

log = logging.getLogger(__name__)

BOT_KEY = web.AppKey("teams_bot", TeamsBot)
DELIVERER_KEY = web.AppKey("teams_deliverer", TeamsDeliverer)


def create_app(
    runtime: Runtime, settings: Settings, run_scheduler: bool = False
) -> web.Application:
    """The aiohttp application. With `run_scheduler`, the runtime's scheduler runs while the
    app does (tests leave it off and drive `runtime.scheduler(deliverer)` themselves)."""
    bot = TeamsBot(runtime, settings)
    deliverer = TeamsDeliverer(bot)
    app = web.Application()
    app[BOT_KEY] = bot
    app[DELIVERER_KEY] = deliverer
    app.router.add_post("/api/messages", bot.handle)
    app.router.add_get("/healthz", _healthz)

    async def started(app: web.Application) -> None:
        bot.loop = asyncio.get_running_loop()
        if run_scheduler:
            # What was accepted before the last stop first, in order; then the clockwork.
            await bot.replay()
            runtime.start(deliverer)

    async def stopping(app: web.Application) -> None:
        if run_scheduler:
            # The scheduler may be waiting on this loop: stop it from a worker thread.
            await asyncio.to_thread(runtime.stop)
        bot.loop = None

    app.on_startup.append(started)
    app.on_shutdown.append(stopping)
    return app


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def serve(settings: Settings) -> None:
    """Run the Teams bot until interrupted."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    teams = settings.teams
    if teams.auth_enabled and not (teams.app_id and teams.app_password):
        raise SystemExit(
            "Set WHOKNOWS_TEAMS__APP_ID and WHOKNOWS_TEAMS__APP_PASSWORD (the Azure Bot "
            "registration) before serving Teams; see README 'Teams'."
        )
    if not teams.auth_enabled:
        log.warning("Teams authentication is OFF: anyone can post to /api/messages")
    runtime = Runtime(settings)
    app = create_app(runtime, settings, run_scheduler=True)
    log.info("whoknows for Teams on http://%s:%d/api/messages", teams.host, teams.port)
    web.run_app(app, host=teams.host, port=teams.port, print=None)
