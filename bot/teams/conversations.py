"""Talking to Teams through the Bot Connector: post, update, open a 1:1 chat.

Every call goes through the SDK's `CloudAdapter` as a proactive turn (`continue_conversation`
or `create_conversation`), so it carries the bot's token and the SDK's connector client.
Where to post is a `Target`, built from a stored address (a person's 1:1 chat) or from a
question's place (a channel thread, a group chat).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from microsoft_agents.activity import (
    Activity,
    ActivityTypes,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
)
from microsoft_agents.hosting.aiohttp import CloudAdapter
from microsoft_agents.hosting.core import TurnContext

from bot.teams.auth import BOT_FRAMEWORK_ISSUER

CHANNEL = "msteams"
CONTINUATION = "continueConversation"  # the name of the event that starts a proactive turn


@dataclass(frozen=True)
class Target:
    """A Teams conversation to post in (and the message to reply to, in a channel thread)."""

    service_url: str
    conversation_id: str
    tenant_id: str | None = None
    bot_id: str | None = None
    user_id: str | None = None
    reply_to_id: str | None = None

    @classmethod
    def of(cls, data: dict[str, Any]) -> Target:
        """A target from an address or a place (the keys whoknows stores)."""
        return cls(
            service_url=data["service_url"],
            conversation_id=data["conversation_id"],
            tenant_id=data.get("tenant_id"),
            bot_id=data.get("bot_id"),
            user_id=data.get("user_id"),
            reply_to_id=data.get("reply_to_id"),
        )


def message(
    text: str = "", card: dict[str, Any] | None = None, key: str = "", alert: bool = False
) -> Activity:
    """A message activity: text and/or an Adaptive Card. `key` (the outbox key) travels in
    channelData for tracing; `alert` also puts it in the person's activity feed."""
    data: dict[str, Any] = {"type": ActivityTypes.message}
    if text:
        data["text"] = text
        data["textFormat"] = "markdown"
    if card is not None:
        data["attachments"] = [{"contentType": "application/vnd.microsoft.card.adaptive"}]
        data["attachments"][0]["content"] = card
    channel_data: dict[str, Any] = {}
    if key:
        channel_data["whoknows"] = {"outboxKey": key}
    if alert:
        channel_data["notification"] = {"alert": True}
    if channel_data:
        data["channelData"] = channel_data
    return Activity.model_validate(data)


class Conversations:
    """Proactive posting through the SDK adapter."""

    def __init__(self, adapter: CloudAdapter, app_id: str) -> None:
        self.adapter = adapter
        self.app_id = app_id

    async def send(self, target: Target, activity: Activity) -> str:
        """Post `activity` in `target`'s conversation; returns the new message's id."""
        sent: dict[str, Any] = {}

        async def post(context: TurnContext) -> None:
            response = await context.send_activity(activity)
            sent["id"] = response.id if response else None

        await self._turn(target, post)
        return sent.get("id") or ""

    async def update(self, target: Target, activity_id: str, activity: Activity) -> None:
        """Replace the message `activity_id` in `target`'s conversation with `activity`."""
        activity.id = activity_id

        async def put(context: TurnContext) -> None:
            await context.update_activity(activity)

        await self._turn(target, put)

    async def open_chat(
        self, service_url: str, tenant_id: str | None, bot_id: str | None, user_id: str
    ) -> str:
        """Open (or find) the bot's 1:1 chat with a user; returns its conversation id."""
        parameters = ConversationParameters(
            is_group=False,
            agent=ChannelAccount(id=bot_id or f"28:{self.app_id}"),
            members=[ChannelAccount(id=user_id)],
            tenant_id=tenant_id,
            channel_data={"tenant": {"id": tenant_id}} if tenant_id else None,
        )
        opened: dict[str, str] = {}

        async def remember(context: TurnContext) -> None:
            opened["id"] = context.activity.conversation.id

        await self.adapter.create_conversation(
            self.app_id, CHANNEL, service_url, BOT_FRAMEWORK_ISSUER, parameters, remember
        )
        if not opened.get("id"):
            raise ConnectionError("the Bot Connector opened no conversation")
        return opened["id"]

    async def _turn(self, target: Target, work) -> None:
        """Run `work` in a proactive turn on `target`; its errors are raised here (the
        adapter's turn-error handler would otherwise swallow them)."""
        failure: list[BaseException] = []

        async def guarded(context: TurnContext) -> None:
            try:
                await work(context)
            except Exception as error:
                failure.append(error)

        fields: dict[str, Any] = {
            "type": ActivityTypes.event,
            "name": CONTINUATION,
            "channel_id": CHANNEL,
            "service_url": target.service_url,
            "conversation": ConversationAccount(
                id=target.conversation_id, tenant_id=target.tenant_id
            ),
        }
        if target.bot_id:
            fields["recipient"] = ChannelAccount(id=target.bot_id)
        if target.user_id:
            fields["from_property"] = ChannelAccount(id=target.user_id)
        if target.reply_to_id:  # the SDK makes the continuation's id the reply-to id
            fields["id"] = target.reply_to_id
        continuation = Activity(**fields)
        await self.adapter.continue_conversation(self.app_id, continuation, guarded)
        if failure:
            raise failure[0]
