"""The Teams bot: the Microsoft 365 Agents SDK (CloudAdapter + AgentApplication) wired to
whoknows' core, with Bot Framework authentication from the settings.

The SDK runs on one asyncio loop (aiohttp's). The core's scheduler runs in a thread of its
own and delivers through `TeamsBot.call`, which hands the SDK work to that loop and waits.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

from aiohttp import web
from microsoft_agents.activity import Activity, ActivityTypes, DeliveryModes
from microsoft_agents.hosting.aiohttp import CloudAdapter
from microsoft_agents.hosting.core import (
    AgentApplication,
    ClaimsIdentity,
    MemoryStorage,
    TurnContext,
    TurnState,
)

from bot.learning.chat import ChatLearner
from bot.runtime import Runtime
from bot.settings import Settings
from bot.teams import handlers, inbound
from bot.teams.auth import AuthError, TeamsConnections, bearer_token, check_activity, validator_for
from bot.teams.cards import dialog_message, message_response
from bot.teams.conversations import Conversations
from bot.teams.handlers.channels import teams_links
from bot.teams.handlers.common import conversation_type, invoke_reply, mentions_bot, reply
from bot.teams.handlers.services import Services
from bot.teams.inbound import BadActivity
from bot.teams.people import PERSONAL, PLATFORM, People
from bot.teams.retry import RetryingClientFactory
from data.intake_store import IntakeBusy

log = logging.getLogger(__name__)

T = TypeVar("T")
TEAMS = "teams"  # the platform's name in the intake table
SORRY = "Sorry, something went wrong on my side. Please try again in a moment."
# Activities that change an earlier message (and carry its id).
CHANGES = frozenset({ActivityTypes.message_update, ActivityTypes.message_delete})


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
        self.client_factory = RetryingClientFactory(self.connections)
        self.adapter = CloudAdapter(
            connection_manager=self.connections, channel_service_client_factory=self.client_factory
        )
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
        learner = ChatLearner(runtime.store, PLATFORM, teams_links(self.teams.tenant_id or None))
        self.services = Services(runtime, self.people, learner, self.teams)
        self.loop: asyncio.AbstractEventLoop | None = None
        handlers.register(self.app, self.services)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """POST /api/messages: check who is calling (the token, before the body is read),
        then what they sent, then let the SDK run the turn. A rejection is 401 (the caller)
        or 400 (the activity), logged in one line."""
        caller = None
        try:
            if self.validator is not None:
                caller = await self.validator.validate_caller(bearer_token(request))
            body = await inbound.read_body(request)
            channel_id, service_url = inbound.routing_fields(body)
            if caller is not None:
                check_activity(caller, channel_id, service_url)
            activity = inbound.activity_of(body)
        except AuthError as problem:
            log.warning("rejected a request to /api/messages (401): %s", problem)
            return web.json_response({"error": "unauthorized"}, status=401)
        except BadActivity as problem:
            log.warning("rejected a request to /api/messages (%d): %s", problem.status, problem)
            return web.json_response({"error": "bad request"}, status=problem.status)
        if caller is None:  # authentication is off
            identity = ClaimsIdentity({}, False, authentication_type="Anonymous")
        else:
            identity = caller.identity
        try:
            intake_id = await asyncio.to_thread(self._accept, body, identity)
        except IntakeBusy as problem:
            log.warning("could not write a Teams activity down, refused it (503): %s", problem)
            return web.json_response({"error": "busy, try again"}, status=503)
        return await self._run_durably(intake_id, identity, activity)

    # ------------------------------------------------------------ durable intake

    def _accept(self, body: dict[str, Any], identity: ClaimsIdentity) -> int | None:
        """Write the activity (and who sent it) to the intake table before it is handled;
        its row id, or None for a redelivery of an activity accepted before."""
        activity_id = body.get("id")
        conversation = (body.get("conversation") or {}).get("id") or ""
        key = f"{conversation}:{activity_id}" if activity_id else None
        if key and body.get("type") in CHANGES:
            # An edit or a deletion has the id of the message it changes, and a message can
            # be edited many times: each change is an input of its own.
            key = f"{key}:{body['type']}:{body.get('timestamp') or ''}"
        meta = {
            "claims": identity.claims,
            "authenticated": identity.is_authenticated,
            "authentication_type": identity.authentication_type,
        }
        now = self.runtime.clock.now()
        return self.runtime.intake.accept(TEAMS, key, json.dumps(body), meta, now)

    async def _run_durably(
        self, intake_id: int | None, identity: ClaimsIdentity, activity: Activity
    ) -> web.StreamResponse:
        """Run the turn and mark its intake row done (or failed, for the next start)."""
        intake = self.runtime.intake
        if intake_id is not None:
            await asyncio.to_thread(intake.started, intake_id)
        response, failure = await self._turn(identity, activity)
        if intake_id is not None:
            now = self.runtime.clock.now()
            if failure is None:
                await asyncio.to_thread(intake.finish, intake_id, now)
            else:
                await asyncio.to_thread(intake.fail, intake_id, failure, now)
        return response

    async def replay(self) -> int:
        """Run again every activity accepted but not handled before the last stop (a
        crash, a kill), oldest first; returns how many. Their HTTP answers go nowhere:
        the core's event ids keep anything from happening twice."""
        rows = await asyncio.to_thread(self.runtime.intake.unfinished, TEAMS)
        for row in rows:
            try:
                activity = inbound.activity_of(json.loads(row.body))
            except (ValueError, BadActivity) as problem:
                log.warning(
                    "intake row %d cannot be read back (%s); marked failed", row.id, problem
                )
                await asyncio.to_thread(
                    self.runtime.intake.fail, row.id, "unreadable body", self.runtime.clock.now()
                )
                continue
            identity = ClaimsIdentity(
                row.meta.get("claims") or {},
                bool(row.meta.get("authenticated")),
                authentication_type=row.meta.get("authentication_type") or "Anonymous",
            )
            await self._run_durably(row.id, identity, activity)
        if rows:
            log.info("replayed %d Teams activities accepted before the last stop", len(rows))
        return len(rows)

    async def _turn(
        self, identity: ClaimsIdentity, activity: Activity
    ) -> tuple[web.StreamResponse, str | None]:
        """Run the turn; its HTTP answer (an invoke's body, else 202) and what failed, if
        anything. A failure is ours, not the caller's: logged once, and answered so that
        the user is told."""
        try:
            answer = await self.adapter.process_activity(identity, activity, self.app.on_turn)
        except Exception as error:
            log.error(
                "Teams turn failed (%s %s)", activity.type, activity.name or "", exc_info=True
            )
            failure = f"{type(error).__name__}: {error}"
            if activity.type == ActivityTypes.invoke:
                return web.json_response(sorry_body(activity), status=200), failure
            return web.Response(status=202), failure
        synchronous = activity.delivery_mode == DeliveryModes.expect_replies
        if activity.type != ActivityTypes.invoke and not synchronous:
            return web.Response(status=202), None
        if answer is None:
            return web.Response(status=200), None
        if answer.body is None:
            return web.Response(status=answer.status or 200), None
        return web.json_response(answer.body, status=answer.status or 200), None

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
        future = asyncio.run_coroutine_threadsafe(work, loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()  # no late send after the caller has given up on it
            raise

    async def _on_turn_error(self, context: TurnContext, error: Exception) -> None:
        log.error(
            "Teams turn failed (%s %s)",
            context.activity.type,
            context.activity.name or "",
            exc_info=(type(error), error, error.__traceback__),
        )
        try:
            if context.activity.type == ActivityTypes.invoke:
                await invoke_reply(context, sorry_body(context.activity))
            elif addressed_to_bot(context.activity):
                await reply(context, SORRY)
        except Exception as failure:  # the connector itself may be what failed
            log.warning("could not tell the user about the failure: %s", failure)


def addressed_to_bot(activity: Activity) -> bool:
    """Whether a message was for the bot (a 1:1 chat, or an @mention of it): only those are
    told of a failure; a channel message it merely read is not answered."""
    if activity.type != ActivityTypes.message:
        return False
    return conversation_type(activity) == PERSONAL or mentions_bot(activity)


def sorry_body(activity: Activity) -> dict[str, Any]:
    """An invoke's answer saying that something went wrong, in the form its name expects."""
    if (activity.name or "").startswith("composeExtension/"):
        return dialog_message(SORRY)
    return message_response(SORRY)
