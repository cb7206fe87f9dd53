"""What every handler needs: reading an activity, replying, calling the core off the loop."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Callable
from typing import Any, TypeVar

from microsoft_agents.activity import Activity, ActivityTypes, InvokeResponse
from microsoft_agents.hosting.core import TurnContext

from bot.teams.people import PERSONAL, tenant_of

T = TypeVar("T")

CHANNEL = "channel"
GROUP_CHAT = "groupChat"
THREAD_MARK = ";messageid="
_MENTION = re.compile(r"<at[^>]*>(.*?)</at>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
_BLOCK_END = re.compile(r"</(p|div)>|<br\s*/?>", re.IGNORECASE)


async def core(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a (blocking) core call in a worker thread, off the event loop."""
    return await asyncio.to_thread(call, *args, **kwargs)


def event_id(activity: Activity) -> str | None:
    """A platform-wide unique id of the activity, for the core's duplicate check."""
    if not activity.id:
        return None
    conversation = activity.conversation.id if activity.conversation else ""
    return f"teams:{conversation.split(THREAD_MARK)[0]}:{activity.id}"


def conversation_type(activity: Activity) -> str:
    """personal, channel or groupChat."""
    conversation = activity.conversation
    kind = conversation.conversation_type if conversation else None
    if kind:
        return kind
    if conversation and conversation.is_group:
        return GROUP_CHAT
    return PERSONAL


def as_dict(value: Any) -> dict[str, Any]:
    """`value` if it is a JSON object (a dict), else an empty one: for the members of an
    activity that Teams fills with objects but a client could fill with anything."""
    return value if isinstance(value, dict) else {}


def _mentions(activity: Activity) -> list[dict[str, Any]]:
    found = []
    for entity in activity.entities or []:
        data = entity.model_dump(by_alias=True, exclude_none=True)
        if str(data.get("type", "")).lower() == "mention":
            found.append(data)
    return found


def mentions_bot(activity: Activity) -> bool:
    """Whether the message @mentions the bot."""
    bot_id = activity.recipient.id if activity.recipient else None
    return any(as_dict(m.get("mentioned")).get("id") == bot_id for m in _mentions(activity))


def clean_text(activity: Activity) -> str:
    """The message's words: the bot's @mention removed, other mentions kept as names,
    markup stripped."""
    raw = activity.text or ""
    bot_id = activity.recipient.id if activity.recipient else None
    bot_tags = {
        m.get("text")
        for m in _mentions(activity)
        if as_dict(m.get("mentioned")).get("id") == bot_id
    }
    for tag in bot_tags:
        if tag and isinstance(tag, str):
            raw = raw.replace(tag, " ")
    return plain(raw)


def plain(markup: str) -> str:
    """Text without Teams markup (mentions become names, HTML tags go)."""
    text = _MENTION.sub(lambda m: m.group(1), markup or "")
    text = _BLOCK_END.sub("\n", text)
    text = html.unescape(_TAG.sub("", text))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return "\n".join(line for line in lines if line).strip()


def channel_data(activity: Activity) -> dict[str, Any]:
    """The activity's channelData as a dict."""
    data = activity.channel_data
    if isinstance(data, dict):
        return data
    if hasattr(data, "model_dump"):
        return data.model_dump(by_alias=True, exclude_none=True)
    return {}


def place_of(activity: Activity) -> dict[str, Any]:
    """Where a question was asked, with what is needed to answer there: the conversation,
    and in a channel the thread (replies go to its root message)."""
    conversation = activity.conversation
    kind = conversation_type(activity)
    place: dict[str, Any] = {
        "platform": "teams",
        "service_url": activity.service_url,
        "conversation_id": conversation.id if conversation else None,
        "conversation_type": kind,
        "tenant_id": tenant_of(activity),
        "bot_id": activity.recipient.id if activity.recipient else None,
    }
    if kind == CHANNEL and conversation is not None:
        base, _, root = conversation.id.partition(THREAD_MARK)
        root = root or activity.id
        place["conversation_id"] = f"{base}{THREAD_MARK}{root}"
        place["thread_id"] = place["conversation_id"]
        place["reply_to_id"] = root
        data = channel_data(activity)
        place["team_id"] = as_dict(data.get("team")).get("id")
        place["channel_id"] = as_dict(data.get("channel")).get("id")
    return {k: v for k, v in place.items() if v}


def thread_of(activity: Activity) -> str | None:
    """The channel thread a message was posted in (None for a new post)."""
    conversation = activity.conversation
    if conversation is None or THREAD_MARK not in (conversation.id or ""):
        return None
    return conversation.id


def action_value(activity: Activity) -> dict[str, Any]:
    """The invoke's value as a dict."""
    value = activity.value
    if isinstance(value, dict):
        return value
    if hasattr(value, "model_dump"):
        return value.model_dump(by_alias=True, exclude_none=True)
    return {}


async def reply(context: TurnContext, text: str) -> None:
    """Answer the activity with a short message in the same conversation."""
    await context.send_activity(
        Activity(type=ActivityTypes.message, text=text, text_format="markdown")
    )


async def invoke_reply(context: TurnContext, body: Any, status: int = 200) -> None:
    """Set the HTTP answer of an invoke."""
    await context.send_activity(
        Activity(type=ActivityTypes.invoke_response, value=InvokeResponse(status=status, body=body))
    )
