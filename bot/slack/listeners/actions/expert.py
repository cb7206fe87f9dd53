"""An expert's buttons on a request (in the DM, or in App Home): Answer and Refer open a
modal; Not me and Snooze go straight to the core."""

from __future__ import annotations

from typing import Any

from bot.slack import blocks
from bot.slack.home import publish_home
from bot.slack.payloads import action_event_id, from_home, number, reply_to
from bot.slack.services import Services, services


def _question_of(svc: Services, ask_id: int | None) -> str:
    ask = svc.flow.lc.ask(ask_id) if ask_id is not None else None
    question = svc.flow.lc.question(ask.question_id) if ask else None
    return question.text if question else ""


def _meta(body: dict[str, Any], ask_id: int | None) -> dict[str, Any]:
    to = reply_to(body)
    return {
        "ask": ask_id,
        "channel": to.channel,
        "response_url": to.response_url,
        "home": from_home(body),
    }


def on_answer(ack: Any, body: dict[str, Any], action: dict[str, Any], context: Any) -> None:
    """Open the answer modal."""
    ack()
    svc = services(context)
    ask_id = number(action.get("value"))
    view = blocks.answer_modal(_question_of(svc, ask_id), _meta(body, ask_id))
    svc.open_modal(body["trigger_id"], view, reply_to(body))


def on_refer(ack: Any, body: dict[str, Any], action: dict[str, Any], context: Any) -> None:
    """Open the refer modal (a user picker and a note)."""
    ack()
    svc = services(context)
    ask_id = number(action.get("value"))
    view = blocks.refer_modal(_question_of(svc, ask_id), _meta(body, ask_id))
    svc.open_modal(body["trigger_id"], view, reply_to(body))


def on_pass(ack: Any, body: dict[str, Any], action: dict[str, Any], context: Any) -> None:
    """Not me: someone else is asked."""
    ack()
    svc = services(context)
    ask_id = number(action.get("value"))
    svc.run(
        "pass",
        reply_to(body),
        lambda person: svc.flow.pass_(ask_id, person.id, event_id=action_event_id(body, action)),
        after=(lambda person: publish_home(svc, person)) if from_home(body) else None,
    )


def on_snooze(ack: Any, body: dict[str, Any], action: dict[str, Any], context: Any) -> None:
    """Snooze: remind me later."""
    ack()
    svc = services(context)
    ask_id = number(action.get("value"))
    svc.run(
        "snooze",
        reply_to(body),
        lambda person: svc.flow.snooze(ask_id, person.id, event_id=action_event_id(body, action)),
        say_ok=from_home(body),  # in a DM the request itself shows the snooze
        after=(lambda person: publish_home(svc, person)) if from_home(body) else None,
    )
