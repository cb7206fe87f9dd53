"""Installation: when the app is added for a person (or to a team or chat), remember how to
reach the person who added it, and say hello; when it is removed, forget the references it
gave, so that deliveries to those people fail at once ("no Teams conversation reference")
instead of against a conversation the bot can no longer post in.

An admin who installs the app for the whole org (Teams admin center) makes Teams add it to
everyone's 1:1 scope, which sends a `conversationUpdate` for each person: that is how
whoknows gets a conversation reference for every expert before it first needs to ask them.

Removal comes as an `installationUpdate` with action `remove` (or `remove-upgrade`), and,
from a team or chat, as a `conversationUpdate` with the bot in `membersRemoved`: for the
personal scope, the person's address is forgotten; for a team or group chat, the addresses
learned there (`People.forget_learned_in`).
"""

from __future__ import annotations

import logging

from microsoft_agents.hosting.core import TurnContext, TurnState

from bot.teams import cards
from bot.teams.handlers.common import conversation_type, core, reply
from bot.teams.handlers.services import Services
from bot.teams.people import PERSONAL, PLATFORM, address_from, scope_of

log = logging.getLogger(__name__)


class InstallHandler:
    """conversationUpdate (members added) and installationUpdate activities."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def __call__(self, context: TurnContext, state: TurnState) -> None:
        activity = context.activity
        if activity.type == "installationUpdate":
            action = activity.action or ""
            if action.startswith("add"):
                await self._installed(context, greet=False)
            elif action.startswith("remove"):
                await self._uninstalled(context)
            return
        bot_id = activity.recipient.id if activity.recipient else None
        added = [m.id for m in activity.members_added or []]
        removed = [m.id for m in activity.members_removed or []]
        if bot_id and bot_id in added:
            await self._installed(context, greet=True)
        elif bot_id and bot_id in removed:
            await self._uninstalled(context)

    async def _installed(self, context: TurnContext, greet: bool) -> None:
        activity = context.activity
        person = await self.services.people.person_of(context)
        if person is None:
            who = activity.from_property.id if activity.from_property else "?"
            log.info("installed by %s, who is not in the directory", who)
            if greet and conversation_type(activity) == PERSONAL:
                await reply(context, cards.NOT_IN_DIRECTORY)
            return
        accounts = self.services.runtime.accounts
        before = await core(accounts.address, person.id, PLATFORM)
        await self.services.people.remember(context, person)
        log.info("installed for %s (%s)", person.name, conversation_type(activity))
        if not greet or conversation_type(activity) != PERSONAL:
            return  # installed in a team or chat: people @mention it when they need it
        new = address_from(activity) or {}
        if before and before.get("conversation_id") == new.get("conversation_id"):
            return  # a repeated install event: they were greeted already
        await reply(context, f"Hi {person.name.split()[0]}! " + cards.HELP_TEXT)

    async def _uninstalled(self, context: TurnContext) -> None:
        activity = context.activity
        kind = conversation_type(activity)
        if kind != PERSONAL:
            scope = scope_of(activity)
            forgotten = await self.services.people.forget_learned_in(scope) if scope else []
            log.info(
                "removed from %s %s: forgot the Teams addresses of %d people learned there%s",
                kind,
                scope,
                len(forgotten),
                f" ({', '.join(forgotten[:10])}{'...' if len(forgotten) > 10 else ''})"
                if forgotten
                else "",
            )
            return
        person = await self.services.people.person_of(context)
        if person is None:
            who = activity.from_property.id if activity.from_property else "?"
            log.info("uninstalled by %s, who is not in the directory", who)
            return
        if await self.services.people.forget(person):
            log.info("uninstalled for %s: forgot their Teams conversation reference", person.name)
        else:
            log.info("uninstalled for %s, who had no Teams conversation reference", person.name)
