"""The ask modal (from the message shortcut, or `/ask` with no text)."""

from __future__ import annotations

from typing import Any

from bot.slack import ids
from bot.slack.payloads import actor, meta_of, value_of, view_event_id
from bot.slack.services import ReplyTo, services
from bot.slack.text import plain


def on_ask_submitted(ack: Any, body: dict[str, Any], view: dict[str, Any], context: Any):
    """Ask: in the message's thread if chosen, else privately (answers by DM)."""
    text = (value_of(view, ids.TEXT_INPUT) or "").strip()
    if not text:
        ack(response_action="errors", errors={ids.TEXT_INPUT[0]: "Type your question first."})
        return
    ack()
    svc = services(context)
    meta = meta_of(view)
    in_thread = (
        value_of(view, ids.WHERE_INPUT) == "thread"
        and bool(meta.get("channel"))
        and bool(meta.get("thread_ts"))
    )
    place: dict[str, Any] = {"platform": ids.PLATFORM}
    if in_thread:
        place.update(channel=meta["channel"], thread_ts=meta["thread_ts"])
    origin = "shortcut" if meta.get("origin") == "shortcut" else "ask"
    svc.run(
        "ask",
        ReplyTo(user=actor(body), response_url=meta.get("response_url")),
        lambda person: svc.flow.ask(
            person.id,
            plain(text, svc.name_of),
            origin=origin,
            place=place,
            private=not in_thread,
            event_id=view_event_id(view),
        ),
        say_refusal=False,
    )
