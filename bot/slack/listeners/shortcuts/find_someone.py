"""Message shortcut "Find someone who knows": opens the ask modal with the message's text,
offering to answer in the message's thread or privately."""

from __future__ import annotations

from typing import Any

from bot.slack import blocks
from bot.slack.services import ReplyTo, services
from bot.slack.text import plain


def on_find_someone(ack: Any, shortcut: dict[str, Any], context: Any) -> None:
    """Acknowledge, then open the modal (the trigger id is valid for 3 seconds)."""
    ack()
    svc = services(context)
    message = shortcut.get("message") or {}
    channel = (shortcut.get("channel") or {}).get("id")
    in_channel = bool(channel) and not str(channel).startswith("D")
    meta = {
        "origin": "shortcut",
        "channel": channel,
        "thread_ts": message.get("thread_ts") or message.get("ts"),
        "response_url": shortcut.get("response_url"),
    }
    view = blocks.ask_modal(plain(message.get("text") or "", svc.name_of), meta, in_channel)
    to = ReplyTo(user=(shortcut.get("user") or {}).get("id", ""), response_url=meta["response_url"])
    svc.open_modal(shortcut["trigger_id"], view, to)
