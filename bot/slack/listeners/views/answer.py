"""The expert's Answer and Refer modals."""

from __future__ import annotations

from typing import Any

from bot.slack import ids
from bot.slack.home import publish_home
from bot.slack.payloads import actor, meta_of, reply_to_view, value_of, view_event_id
from bot.slack.services import Services, services


def _after(svc: Services, meta: dict[str, Any]):
    return (lambda person: publish_home(svc, person)) if meta.get("home") else None


def on_answer_submitted(ack: Any, body: dict[str, Any], view: dict[str, Any], context: Any):
    """Send the answer to the asker (the request updates in place)."""
    text = (value_of(view, ids.TEXT_INPUT) or "").strip()
    if not text:
        ack(response_action="errors", errors={ids.TEXT_INPUT[0]: "Type your answer first."})
        return
    ack()
    svc = services(context)
    meta = meta_of(view)
    svc.run(
        "answer",
        reply_to_view(body, meta),
        lambda person: svc.flow.answer(
            meta.get("ask"), person.id, text, event_id=view_event_id(view)
        ),
        after=_after(svc, meta),
    )


def on_refer_submitted(ack: Any, body: dict[str, Any], view: dict[str, Any], context: Any):
    """Refer the request to the colleague picked, with the note."""
    referee = value_of(view, ids.USER_INPUT)
    if not referee:
        ack(response_action="errors", errors={ids.USER_INPUT[0]: "Pick a colleague."})
        return
    if referee == actor(body):
        ack(response_action="errors", errors={ids.USER_INPUT[0]: "Pick someone other than you."})
        return
    ack()
    svc = services(context)
    meta = meta_of(view)
    note = value_of(view, ids.NOTE_INPUT) or ""
    svc.run(
        "refer",
        reply_to_view(body, meta),
        # The core finds people by Slack id too; a refusal ("already asked", "not in the
        # directory") is told to the referrer.
        lambda person: svc.flow.refer(
            meta.get("ask"), person.id, referee, note, event_id=view_event_id(view)
        ),
        after=_after(svc, meta),
    )
