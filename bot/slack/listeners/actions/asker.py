"""Buttons on what the asker receives (a relayed answer, earlier answers, a reply) and on
a follow-up the answerer receives."""

from __future__ import annotations

from typing import Any

from bot.slack import blocks
from bot.slack.payloads import action_event_id, number, reply_to
from bot.slack.services import services


def on_resolve(ack: Any, body: dict[str, Any], action: dict[str, Any], context: Any) -> None:
    """Resolved: the asker accepts this answer (the question closes, the bot learns)."""
    ack()
    svc = services(context)
    answer_id = number(action.get("value"))
    svc.run(
        "resolve",
        reply_to(body),
        lambda person: svc.flow.accept(
            answer_id, person.id, event_id=action_event_id(body, action)
        ),
    )


def on_confirm(ack: Any, body: dict[str, Any], action: dict[str, Any], context: Any) -> None:
    """Confirm: someone the question reached vouches for the answer."""
    ack()
    svc = services(context)
    answer_id = number(action.get("value"))
    svc.run(
        "confirm",
        reply_to(body),
        lambda person: svc.flow.confirm(
            answer_id, person.id, event_id=action_event_id(body, action)
        ),
        say_ok=True,
    )


def on_follow_up(ack: Any, body: dict[str, Any], action: dict[str, Any], context: Any) -> None:
    """Ask a follow-up: open the modal."""
    ack()
    to = reply_to(body)
    meta = {
        "question": number(action.get("value")),
        "channel": to.channel,
        "response_url": to.response_url,
    }
    services(context).open_modal(body["trigger_id"], blocks.follow_up_modal(meta), to)


def on_reply(ack: Any, body: dict[str, Any], action: dict[str, Any], context: Any) -> None:
    """Reply to a follow-up: open the modal."""
    ack()
    to = reply_to(body)
    meta = {
        "question": number(action.get("value")),
        "channel": to.channel,
        "response_url": to.response_url,
    }
    services(context).open_modal(body["trigger_id"], blocks.reply_modal(meta), to)


def _similar(body: dict[str, Any], action: dict[str, Any], context: Any, helped: bool) -> None:
    svc = services(context)
    question_id = number(action.get("value"))
    svc.run(
        "earlier answers",
        reply_to(body),
        lambda person: svc.flow.similar_result(
            question_id, person.id, helped, event_id=action_event_id(body, action)
        ),
        say_ok=helped,  # "not helped" is answered by the routing status
    )


def on_similar_helped(ack: Any, body: dict[str, Any], action: dict[str, Any], context: Any):
    """An earlier answer helped: the question is resolved."""
    ack()
    _similar(body, action, context, helped=True)


def on_similar_not(ack: Any, body: dict[str, Any], action: dict[str, Any], context: Any):
    """The earlier answers didn't help: find someone."""
    ack()
    _similar(body, action, context, helped=False)
