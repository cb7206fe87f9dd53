"""Who is talking: Teams users matched to people of the directory, and how to reach them.

A Teams user is matched by their Entra object id (`from.aadObjectId`) or Teams user id
(`from.id`) against the directory's `teams_id`; failing that, by the email the Bot Connector
reports for the member (`GET /v3/conversations/{id}/members/{userId}`), against the
directory's email. Matches are remembered for the life of the process.

Each time a known person talks to the bot or installs it, their address is saved with
`accounts.save_address(person, "teams", ...)`: in a 1:1 chat, that chat's conversation
reference; elsewhere (a channel, a group chat), only what is needed to open a 1:1 chat
later, marked with the team or chat it was learned in (`learned_in`), and only if nothing
better is known yet.

When the app is uninstalled, the addresses it gave are forgotten (`forget`): the person's
own, for their personal scope; for a team or group chat, those learned there (a 1:1 chat
the bot opened through a team it has left cannot be posted in either).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import ClientResponseError
from microsoft_agents.activity import Activity, ChannelAccount
from microsoft_agents.hosting.core import TurnContext
from microsoft_agents.hosting.teams import TeamsInfo

from bot.lifecycle.accounts import Accounts
from data.models import Person

log = logging.getLogger(__name__)

PLATFORM = "teams"
PERSONAL = "personal"
LEARNED_IN = "learned_in"  # an address's team or group chat, if not learned in a 1:1 chat


class People:
    """Maps Teams users to directory people and keeps their addresses."""

    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts
        self._known: dict[str, str] = {}  # Teams user id -> person id

    async def person_of(self, context: TurnContext) -> Person | None:
        """The directory person behind the activity's sender, or None."""
        account = context.activity.from_property
        if account is None or not account.id:
            return None
        person = await asyncio.to_thread(self._match, account)
        if person is None:
            email = await self._email_of(context, account.id)
            if email:
                person = await asyncio.to_thread(self.accounts.person, email)
        if person is not None:
            self._known[account.id] = person.id
        return person

    def _match(self, account: ChannelAccount) -> Person | None:
        known = self._known.get(account.id)
        if known:
            person = self.accounts.person(known)
            if person is not None:
                return person
        for ref in (account.aad_object_id, account.id):
            if ref:
                person = self.accounts.person(ref)
                if person is not None:
                    return person
        return None

    @staticmethod
    async def _email_of(context: TurnContext, user_id: str) -> str | None:
        if not isinstance(context.activity.channel_data, dict):
            log.info("no member lookup for %s: the activity has no channelData", user_id)
            return None  # the SDK's lookup reads the team from it
        try:
            member = await TeamsInfo.get_member(context, user_id)
        except ClientResponseError as error:
            log.info("no member details for %s: %s", user_id, error)
            return None
        except Exception:  # best effort: an unknown user is told so politely
            log.exception("looking up member %s failed", user_id)
            return None
        return member.email or member.user_principal_name

    async def remember(self, context: TurnContext, person: Person) -> None:
        """Save how to reach `person` from what this activity tells."""
        address = address_from(context.activity)
        if address is None:
            return
        if address.get("conversation_id"):  # a 1:1 chat: the best reference there is
            await asyncio.to_thread(self.accounts.save_address, person.id, PLATFORM, address)
            return
        current = await asyncio.to_thread(self.accounts.address, person.id, PLATFORM)
        if current is None:
            await asyncio.to_thread(self.accounts.save_address, person.id, PLATFORM, address)

    async def forget(self, person: Person) -> bool:
        """Forget how to reach `person` (they uninstalled the app); whether it was known."""
        return await asyncio.to_thread(self.accounts.forget_address, person.id, PLATFORM)

    async def forget_learned_in(self, scope: str) -> list[str]:
        """Forget the addresses learned in the team or group chat `scope` (the app was
        removed from it); the ids of the people whose address was forgotten."""
        return await asyncio.to_thread(
            self.accounts.forget_addresses_with, PLATFORM, LEARNED_IN, scope
        )


def address_from(activity: Activity) -> dict[str, Any] | None:
    """How to reach the sender of `activity`: with the conversation id if it is their 1:1
    chat with the bot, else what is needed to open one."""
    sender = activity.from_property
    if sender is None or not sender.id or not activity.service_url:
        return None
    conversation = activity.conversation
    address: dict[str, Any] = {
        "channel_id": str(activity.channel_id or "msteams"),
        "service_url": activity.service_url,
        "tenant_id": tenant_of(activity),
        "user_id": sender.id,
        "aad_object_id": sender.aad_object_id,
        "bot_id": activity.recipient.id if activity.recipient else None,
    }
    if conversation is not None and conversation.conversation_type == PERSONAL:
        address["conversation_id"] = conversation.id
    else:
        address[LEARNED_IN] = scope_of(activity)
    return {k: v for k, v in address.items() if v}


def scope_of(activity: Activity) -> str | None:
    """The team (for a channel) or the conversation (a group chat) of a shared activity:
    what an app is installed in and removed from."""
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    team = data.get("team")
    if isinstance(team, dict) and team.get("id"):
        return str(team["id"])
    conversation = activity.conversation
    if conversation is None or not conversation.id:
        return None
    return conversation.id.split(";messageid=")[0]


def tenant_of(activity: Activity) -> str | None:
    """The Entra tenant of the activity's conversation."""
    if activity.conversation is not None and activity.conversation.tenant_id:
        return activity.conversation.tenant_id
    data = activity.channel_data
    if isinstance(data, dict):
        return (data.get("tenant") or {}).get("id")
    tenant = getattr(data, "tenant", None)
    if isinstance(tenant, dict):
        return tenant.get("id")
    return getattr(tenant, "id", None)
