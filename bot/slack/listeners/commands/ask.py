"""`/ask [question]`: a private question (answers come by DM, never in the channel). With
no text it opens the ask modal."""

from __future__ import annotations

from typing import Any

from bot.slack import blocks, ids
from bot.slack.services import ReplyTo, services
from bot.slack.text import plain

ACK_TEXT = "Thanks! I'm looking for someone who knows; I'll keep you posted in a DM."


def on_ask(ack: Any, command: dict[str, Any], context: Any) -> None:
    """Acknowledge at once; the question is asked after the ack."""
    svc = services(context)
    text = (command.get("text") or "").strip()
    if not text:
        ack()
        view = blocks.ask_modal("", {"origin": "ask"}, in_thread_possible=False)
        to = ReplyTo(user=command["user_id"], response_url=command.get("response_url"))
        svc.open_modal(command["trigger_id"], view, to)
        return
    if text.lower() in ("help", "?"):
        ack(text=blocks.help_message()[0], response_type="ephemeral")
        return
    ack(text=ACK_TEXT, response_type="ephemeral")
    to = ReplyTo(user=command["user_id"], response_url=command.get("response_url"))
    # Slash commands carry no event id; the trigger id is unique per invocation.
    core_id = f"slack:command:{command.get('trigger_id')}" if command.get("trigger_id") else None
    svc.run(
        "/ask",
        to,
        lambda person: svc.flow.ask(
            person.id,
            plain(text, svc.name_of),
            origin="ask",
            place={"platform": ids.PLATFORM},
            private=True,
            event_id=core_id,
        ),
        say_refusal=False,
    )
