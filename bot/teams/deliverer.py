"""Delivering the core's intents in Teams (the scheduler's `Deliverer`).

- AskExpert: a proactive Adaptive Card in the expert's 1:1 chat with the bot; its reference
  ("conversation id|activity id") is what `AskClosed` later updates in place.
- AskClosed: that card, redrawn with the outcome (or, for a snooze, still open with a banner).
- AnswerPosted, SimilarFound (cards) and FollowUpAnswered, AnswerConfirmed, StatusUpdate
  (text): where the question was asked (a channel thread, a group chat), or the asker's
  1:1 chat if the question was private or asked outside Teams.
- FollowUpAsked (card) and Notice (text): the person's 1:1 chat.

A 1:1 chat needs the person's address, saved when they first talked to the bot or the app
was installed for them. With only their Teams user id known (from a channel), the chat is
opened on first use (`POST /v3/conversations`). Someone with no address at all cannot be
reached: delivery raises `Unreachable` and the scheduler retries later (installing the app
for the whole org, see the README, gives everyone an address).

Delivery guarantee: at least once. The outbox key travels in each message's channelData, but
the Bot Connector has no way to look a sent message up by it, so after a crash between
sending and recording, `find_delivered` can only answer for deliveries made by this process;
otherwise it returns None and the scheduler sends again (a duplicate message is possible in
that window, never a lost one).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from aiohttp import ClientResponseError
from microsoft_agents.activity import Activity

from bot.lifecycle.intents import (
    AnswerConfirmed,
    AnswerPosted,
    AskClosed,
    AskExpert,
    FollowUpAnswered,
    FollowUpAsked,
    Intent,
    Notice,
    SimilarFound,
    StatusUpdate,
)
from bot.lifecycle.states import AskState
from bot.teams import cards, views
from bot.teams.app import TeamsBot
from bot.teams.conversations import Target, message
from bot.teams.handlers.common import core
from bot.teams.people import PERSONAL, PLATFORM
from bot.teams.retry import PROACTIVE

log = logging.getLogger(__name__)

REF_SEPARATOR = "|"
GONE = frozenset({403, 404})  # the Bot Connector's "not a member (any more)" / "no such chat"
# A delivery makes at most two Bot Connector calls (open a 1:1 chat, post), each bounded
# with its retries by `retry.PROACTIVE.timeout`; past this, it is cancelled and retried later.
DELIVERY_TIMEOUT = 2 * PROACTIVE.timeout + 10


class Unreachable(ConnectionError):
    """A person whom the bot has no way to reach in Teams (yet)."""


class TeamsDeliverer:
    """Renders intents as Teams messages and sends them through the bot's adapter."""

    def __init__(self, bot: TeamsBot, timeout: float = DELIVERY_TIMEOUT) -> None:
        self.bot = bot
        self.flow = bot.runtime.flow
        self.accounts = bot.runtime.accounts
        self.timeout = timeout
        self._delivered: dict[str, str] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------- the protocol

    def deliver(self, intent: Intent, key: str, message_ref: str | None) -> str | None:
        """Send `intent`; returns "conversation id|activity id" of the message."""
        ref = self.bot.call(self._deliver(intent, key, message_ref), self.timeout)
        if ref:
            with self._lock:
                self._delivered[key] = ref
        return ref

    def find_delivered(self, key: str) -> str | None:
        """The reference of `key`'s delivery, if this process made it (the Bot Connector
        cannot be asked): None means "not known to be delivered"."""
        with self._lock:
            return self._delivered.get(key)

    # ---------------------------------------------------------------- rendering

    async def _deliver(self, intent: Intent, key: str, message_ref: str | None) -> str | None:
        match intent:
            case AskExpert():
                ask = await core(self.flow.lc.ask, intent.ask_id)
                if ask is None or ask.state != AskState.PENDING:
                    log.info("request #%s ended before it could be sent", intent.ask_id)
                    return None
                card = cards.ask_card(intent)
                return await self._to_person(
                    intent.expert_id, message(card=card, key=key, alert=True)
                )
            case AskClosed():
                return await self._update_request(intent, key, message_ref)
            case AnswerPosted():
                shared = self._in_place(intent) and (
                    intent.place.get("conversation_type") != PERSONAL
                )
                card = cards.answer_card(intent, shared=shared)
                return await self._to_asker(intent, message(card=card, key=key, alert=True))
            case SimilarFound():
                return await self._to_asker(
                    intent, message(card=cards.similar_card(intent), key=key)
                )
            case FollowUpAnswered() | AnswerConfirmed() | StatusUpdate():
                return await self._to_asker(intent, message(cards.message_text(intent), key=key))
            case FollowUpAsked():
                card = cards.follow_up_card(intent)
                return await self._to_person(
                    intent.answerer_id, message(card=card, key=key, alert=True)
                )
            case Notice():
                return await self._to_person(intent.person_id, message(intent.text, key=key))
        raise ValueError(f"the Teams adapter cannot deliver {intent.kind!r}")

    # ---------------------------------------------------------------- destinations

    @staticmethod
    def _in_place(intent: Any) -> bool:
        """Whether an asker-bound intent goes to where the question was asked in Teams."""
        place = intent.place or {}
        return (
            not intent.private
            and place.get("platform") == PLATFORM
            and bool(place.get("service_url"))
            and bool(place.get("conversation_id"))
        )

    async def _to_asker(self, intent: Any, activity: Activity) -> str:
        if self._in_place(intent):
            target = Target.of(intent.place)
            try:
                activity_id = await self.bot.conversations.send(target, activity)
                return f"{target.conversation_id}{REF_SEPARATOR}{activity_id}"
            except ClientResponseError as error:
                if error.status not in GONE:
                    raise
                # The bot was removed from that team or chat: tell the asker in private.
                log.warning(
                    "cannot post in %s (%s); sending to %s's 1:1 chat instead",
                    target.conversation_id,
                    error.status,
                    intent.asker_id,
                )
        return await self._to_person(intent.asker_id, activity)

    async def _address(self, person_id: str) -> dict[str, Any]:
        address = await core(self.accounts.address, person_id, PLATFORM)
        if not address or not address.get("service_url") or not address.get("user_id"):
            person = await core(self.accounts.person, person_id)
            name = person.name if person else person_id
            log.warning(
                "cannot reach %s (%s) in Teams: no Teams conversation reference (the app was "
                "never installed for them, or was uninstalled). They need the app installed "
                "(README 'Teams': install it for the org in the Teams admin center) or to "
                "message the bot once; delivery will be retried.",
                name,
                person_id,
            )
            raise Unreachable(f"{name} ({person_id}) has no Teams conversation reference yet")
        return address

    async def _to_person(self, person_id: str, activity: Activity) -> str:
        """Post in the person's 1:1 chat with the bot (opened first if need be)."""
        address = await self._address(person_id)
        if not address.get("conversation_id"):
            conversation_id = await self.bot.conversations.open_chat(
                address["service_url"],
                address.get("tenant_id"),
                address.get("bot_id"),
                address["user_id"],
            )
            address = {**address, "conversation_id": conversation_id}
            await core(self.accounts.save_address, person_id, PLATFORM, address)
        target = Target.of({**address, "reply_to_id": None})
        activity_id = await self.bot.conversations.send(target, activity)
        return f"{target.conversation_id}{REF_SEPARATOR}{activity_id}"

    async def _update_request(
        self, intent: AskClosed, key: str, message_ref: str | None
    ) -> str | None:
        """Redraw an expert's card in place."""
        conversation_id, _, activity_id = (message_ref or "").rpartition(REF_SEPARATOR)
        if not conversation_id or not activity_id:
            log.info("request #%s was never shown; nothing to update", intent.ask_id)
            return None
        address = await self._address(intent.expert_id)
        target = Target.of({**address, "conversation_id": conversation_id, "reply_to_id": None})
        if intent.outcome == "snoozed":
            card = await core(views.snoozed_request_card, self.flow, intent.ask_id, intent.detail)
        else:
            card = await core(
                views.closed_request_card, self.flow, intent.ask_id, intent.outcome, intent.detail
            )
        await self.bot.conversations.update(target, activity_id, message(card=card, key=key))
        return message_ref
