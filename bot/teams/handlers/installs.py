"""Installation: when the app is added for a person (or to a team or chat), remember how to
reach the person who added it, and say hello.

An admin who installs the app for the whole org (Teams admin center) makes Teams add it to
everyone's 1:1 scope, which sends a `conversationUpdate` for each person: that is how
whoknows gets a conversation reference for every expert before it first needs to ask them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from microsoft_agents.hosting.core import TurnContext, TurnState

from bot.teams import cards
from bot.teams.handlers.common import conversation_type, core, reply
from bot.teams.people import PERSONAL, PLATFORM, address_from

if TYPE_CHECKING:
    from bot.teams.app import TeamsBot

log = logging.getLogger(__name__)


class InstallHandler:
    """conversationUpdate (members added) and installationUpdate activities."""

    def __init__(self, bot: TeamsBot) -> None:
        self.bot = bot

    async def __call__(self, context: TurnContext, state: TurnState) -> None:
        activity = context.activity
        if activity.type == "installationUpdate":
            if (activity.action or "").startswith("add"):
                await self._installed(context, greet=False)
            return
        bot_id = activity.recipient.id if activity.recipient else None
        added = [m.id for m in activity.members_added or []]
        if bot_id and bot_id in added:
            await self._installed(context, greet=True)

    async def _installed(self, context: TurnContext, greet: bool) -> None:
        activity = context.activity
        person = await self.bot.people.person_of(context)
        if person is None:
            who = activity.from_property.id if activity.from_property else "?"
            log.info("installed by %s, who is not in the directory", who)
            if greet and conversation_type(activity) == PERSONAL:
                await reply(context, cards.NOT_IN_DIRECTORY)
            return
        accounts = self.bot.runtime.accounts
        before = await core(accounts.address, person.id, PLATFORM)
        await self.bot.people.remember(context, person)
        log.info("installed for %s (%s)", person.name, conversation_type(activity))
        if not greet or conversation_type(activity) != PERSONAL:
            return  # installed in a team or chat: people @mention it when they need it
        new = address_from(activity) or {}
        if before and before.get("conversation_id") == new.get("conversation_id"):
            return  # a repeated install event: they were greeted already
        await reply(context, f"Hi {person.name.split()[0]}! " + cards.HELP_TEXT)
