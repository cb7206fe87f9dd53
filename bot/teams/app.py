"""The Teams bot: the Microsoft 365 Agents SDK (CloudAdapter + AgentApplication) wired to
whoknows' core, with Bot Framework authentication from the settings.

The SDK runs on one asyncio loop (aiohttp's). The core's scheduler runs in a thread of its
own and delivers through `TeamsBot.call`, which hands the SDK work to that loop and waits.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Coroutine
from typing import Any, TypeVar

from aiohttp import web
from microsoft_agents.activity import ActivityTypes
from microsoft_agents.hosting.aiohttp import CloudAdapter, start_agent_process
from microsoft_agents.hosting.core import (
    AgentApplication,
    MemoryStorage,
    TurnContext,
    TurnState,
)

from bot.runtime import Runtime
from bot.settings import Settings
from bot.teams import handlers
from bot.teams.auth import AuthError, TeamsConnections, authenticate, validator_for
from bot.teams.cards import message_response
from bot.teams.conversations import Conversations
from bot.teams.handlers.common import invoke_reply, reply
from bot.teams.people import People

log = logging.getLogger(__name__)

T = TypeVar("T")
SORRY = "Sorry, something went wrong on my side. Please try again in a moment."


class TeamsBot:
    """The SDK objects, the core, and the bridge between the scheduler thread and the loop."""

    def __init__(self, runtime: Runtime, settings: Settings) -> None:
        self.runtime = runtime
        self.settings = settings
        self.teams = settings.teams
        if self.teams.auth_enabled and not self.teams.app_id:
            raise ValueError(
                "Teams authentication is on but no app id is set: set WHOKNOWS_TEAMS__APP_ID "
                "(and APP_PASSWORD), or WHOKNOWS_TEAMS__AUTH_ENABLED=false for local tests."
            )
        self.connections = TeamsConnections(self.teams)
        self.adapter = CloudAdapter(connection_manager=self.connections)
        self.adapter.on_turn_error = self._on_turn_error
        self.app: AgentApplication[TurnState] = AgentApplication[TurnState](
            storage=MemoryStorage(),
            adapter=self.adapter,
            start_typing_timer=False,
            remove_recipient_mention=False,  # handlers strip mentions themselves
        )
        self.validator = validator_for(self.teams) if self.teams.auth_enabled else None
        self.conversations = Conversations(self.adapter, self.teams.app_id)
        self.people = People(runtime.accounts)
        self.loop: asyncio.AbstractEventLoop | None = None
        handlers.register(self)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """POST /api/messages: authenticate, then let the SDK run the turn."""
        try:
            identity = await authenticate(request, self.validator)
        except AuthError as problem:
            log.warning("rejected a request to /api/messages: %s", problem)
            return web.json_response({"error": "unauthorized"}, status=401)
        with warnings.catch_warnings():  # the SDK reads it under this plain string key
            warnings.simplefilter("ignore", web.NotAppKeyWarning)
            request["claims_identity"] = identity
        response = await start_agent_process(request, self.app, self.adapter)
        return response if response is not None else web.Response(status=202)

    def call(self, work: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        """Run `work` on the bot's loop from another thread and wait for its result."""
        loop = self.loop
        if loop is None or loop.is_closed():
            work.close()
            raise ConnectionError("the Teams app is not running")
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            work.close()
            raise RuntimeError("TeamsBot.call must not be used on the bot's own loop")
        return asyncio.run_coroutine_threadsafe(work, loop).result(timeout)

    async def _on_turn_error(self, context: TurnContext, error: Exception) -> None:
        log.error(
            "Teams turn failed (%s %s)",
            context.activity.type,
            context.activity.name or "",
            exc_info=(type(error), error, error.__traceback__),
        )
        try:
            if context.activity.type == ActivityTypes.invoke:
                await invoke_reply(context, message_response(SORRY))
            elif context.activity.type == ActivityTypes.message:
                await reply(context, SORRY)
        except Exception:  # the connector itself may be what failed
            log.exception("could not tell the user about the failure")
