"""The message extension "Find someone who knows" (from the compose box, the command box or
a message's ⋯ menu): a dialog with the question, prefilled with the message it was started
from; on submit, the question is asked for the user. Answers come to their 1:1 chat with
the bot, since the extension may be used where the bot is not a member."""

from __future__ import annotations

import logging
from typing import Any

from microsoft_agents.hosting.core import TurnContext, TurnState

from bot.lifecycle.flow import FlowError
from bot.teams import cards
from bot.teams.handlers.common import (
    action_value,
    as_dict,
    core,
    event_id,
    invoke_reply,
    place_of,
    plain,
)
from bot.teams.handlers.services import Services

log = logging.getLogger(__name__)

FETCH_TASK = "composeExtension/fetchTask"
SUBMIT_ACTION = "composeExtension/submitAction"
COMMAND_ID = "findSomeone"


def message_text(value: dict[str, Any]) -> str:
    """The text of the message the extension was started from, if any."""
    payload = as_dict(value.get("messagePayload"))
    return plain(str(as_dict(payload.get("body")).get("content") or ""))


class ExtensionHandler:
    """composeExtension/fetchTask and composeExtension/submitAction invokes."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def __call__(self, context: TurnContext, state: TurnState) -> None:
        activity = context.activity
        value = action_value(activity)
        if activity.name == FETCH_TASK:
            await invoke_reply(context, cards.find_dialog(message_text(value)))
            return
        data = as_dict(value.get("data"))
        question = str(data.get("question") or "").strip() or message_text(value)
        person = await self.services.people.person_of(context)
        if person is None:
            await invoke_reply(context, cards.dialog_message(cards.NOT_IN_DIRECTORY))
            return
        await self.services.people.remember(context, person)
        place = place_of(activity)
        payload = as_dict(value.get("messagePayload"))
        if payload.get("id"):
            place["message_id"] = str(payload["id"])
        try:
            outcome = await core(
                self.services.runtime.flow.ask,
                person.id,
                question,
                origin="shortcut",
                place=place,
                private=True,
                event_id=event_id(activity),
            )
            text = outcome.message
        except FlowError as problem:
            text = str(problem)
        await invoke_reply(context, cards.dialog_message(text))
