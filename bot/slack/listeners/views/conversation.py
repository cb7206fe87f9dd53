"""Follow-ups from the asker and replies from the answerer."""

from __future__ import annotations

from typing import Any

from bot.slack import ids
from bot.slack.payloads import meta_of, number, reply_to_view, value_of, view_event_id
from bot.slack.services import services


def on_follow_up_submitted(ack: Any, body: dict[str, Any], view: dict[str, Any], context: Any):
    """Send the asker's follow-up to whoever answered."""
    text = (value_of(view, ids.TEXT_INPUT) or "").strip()
    if not text:
        ack(response_action="errors", errors={ids.TEXT_INPUT[0]: "Type your follow-up first."})
        return
    ack()
    svc = services(context)
    meta = meta_of(view)
    svc.run(
        "follow-up",
        reply_to_view(body, meta),
        lambda person: svc.flow.follow_up(
            number(meta.get("question")), person.id, text, event_id=view_event_id(view)
        ),
        say_ok=True,
    )


def on_reply_submitted(ack: Any, body: dict[str, Any], view: dict[str, Any], context: Any):
    """Send the answerer's reply back to where the question was asked."""
    text = (value_of(view, ids.TEXT_INPUT) or "").strip()
    if not text:
        ack(response_action="errors", errors={ids.TEXT_INPUT[0]: "Type your reply first."})
        return
    ack()
    svc = services(context)
    meta = meta_of(view)
    svc.run(
        "reply",
        reply_to_view(body, meta),
        lambda person: svc.flow.reply(
            number(meta.get("question")), person.id, text, event_id=view_event_id(view)
        ),
        say_ok=True,
    )
