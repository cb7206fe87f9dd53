"""Card buttons (`adaptiveCard/action` invokes): an expert's Answer, Refer, Not me and
Snooze, the asker's Accept, Follow up, Resolve, Confirm, "That answers it"..., and the
settings card's Save and the stats card's Refresh.

The invoke's answer goes back to the person who clicked: for an expert's request, the card
redrawn in place with the outcome; otherwise, or when the core refuses, a short message
(the card stays as it was, so they can try again).
"""

from __future__ import annotations

import logging
from typing import Any

from microsoft_agents.hosting.core import TurnContext, TurnState

from bot.lifecycle.flow import FlowError, Outcome
from bot.teams import cards, views
from bot.teams.handlers.common import action_value, as_dict, core, event_id, invoke_reply
from bot.teams.handlers.services import Services
from bot.teams.handlers.settings import SettingsCommands
from data.models import Person

log = logging.getLogger(__name__)

ALREADY = "Already done."


class CardActionHandler:
    """Runs the core input behind a card button and answers the invoke."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.flow = services.runtime.flow
        self.settings = SettingsCommands(services)

    async def __call__(self, context: TurnContext, state: TurnState) -> None:
        activity = context.activity
        action = as_dict(action_value(activity).get("action"))
        data: dict[str, Any] = as_dict(action.get("data"))
        verb = action.get("verb") or data.get("verb")
        person = await self.services.people.person_of(context)
        if person is None:
            await invoke_reply(context, cards.message_response(cards.NOT_IN_DIRECTORY))
            return
        await self.services.people.remember(context, person)
        try:
            body = await self.run(verb, person, data, event_id(activity))
        except FlowError as problem:
            body = cards.message_response(str(problem))
        except (KeyError, TypeError, ValueError, OverflowError) as problem:
            log.info("unreadable card action %r %r: %s", verb, data, problem)
            body = cards.message_response("Sorry, I couldn't read that button. Please try again.")
        await invoke_reply(context, body)

    async def run(
        self, verb: str | None, person: Person, data: dict[str, Any], event: str | None
    ) -> dict[str, Any]:
        """The core call behind `verb`, and the invoke answer for its outcome."""
        flow, me = self.flow, person.id
        if verb in cards.EXPERT_VERBS:
            return await self._expert(verb, me, int(data["ask_id"]), data, event)
        match verb:
            case cards.SAVE_SETTINGS:
                return await self.settings.save(person, data)
            case cards.STATS:
                return await self.settings.refresh_stats(person)
            case cards.ACCEPT:
                outcome = await core(flow.accept, int(data["answer_id"]), me, event_id=event)
            case cards.CONFIRM:
                outcome = await core(flow.confirm, int(data["answer_id"]), me, event_id=event)
            case cards.RESOLVE:
                outcome = await core(flow.resolve, int(data["question_id"]), me, event_id=event)
            case cards.FOLLOW_UP:
                qid, text = int(data["question_id"]), str(data.get("text") or "")
                outcome = await core(flow.follow_up, qid, me, text, event_id=event)
            case cards.REPLY:
                qid, text = int(data["question_id"]), str(data.get("text") or "")
                outcome = await core(flow.reply, qid, me, text, event_id=event)
            case cards.SIMILAR:
                qid, helped = int(data["question_id"]), _truthy(data.get("helped"))
                outcome = await core(flow.similar_result, qid, me, helped, event_id=event)
            case _:
                raise ValueError(f"unknown verb {verb!r}")
        return cards.message_response(ALREADY if outcome.duplicate else outcome.message)

    async def _expert(
        self, verb: str, me: str, ask_id: int, data: dict[str, Any], event: str | None
    ) -> dict[str, Any]:
        flow = self.flow
        outcome: Outcome
        if verb == cards.ANSWER:
            text = str(data.get("answer") or "")
            outcome = await core(flow.answer, ask_id, me, text, event_id=event)
            closed = "answered"
        elif verb == cards.REFER:
            referee = str(data.get("referee") or data.get("referee_text") or "").strip()
            if not referee:
                return cards.message_response("Pick a colleague (or type their email) first.")
            note = str(data.get("note") or "")
            outcome = await core(flow.refer, ask_id, me, referee, note, event_id=event)
            closed = "referred"
        elif verb == cards.PASS:
            outcome = await core(flow.pass_, ask_id, me, event_id=event)
            closed = "passed"
        else:
            outcome = await core(flow.snooze, ask_id, me, event_id=event)
            if outcome.ok and not outcome.duplicate:
                card = await core(views.snoozed_request_card, flow, ask_id, outcome.message)
                return cards.card_response(card)
            closed = ""
        if outcome.duplicate:
            return cards.message_response(ALREADY)
        if not outcome.ok or not closed:
            return cards.message_response(outcome.message)
        card = await core(views.closed_request_card, flow, ask_id, closed, outcome.message)
        return cards.card_response(card)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value)
