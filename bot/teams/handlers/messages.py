"""Messages: a question in a 1:1 chat, an @mention in a channel or group chat, and, in a
channel thread the bot answered in, the asker's follow-ups and the answerer's replies.
Every team channel message also goes to `channels.ChannelMessages` first (learning, and
questions posted without an @mention)."""

from __future__ import annotations

import logging

from microsoft_agents.hosting.core import TurnContext, TurnState

from bot.lifecycle.flow import FlowError, Outcome
from bot.lifecycle.states import ANSWERED_STATES, OPEN_STATES
from bot.teams import cards
from bot.teams.handlers.channels import ChannelMessages
from bot.teams.handlers.common import (
    CHANNEL,
    clean_text,
    conversation_type,
    core,
    event_id,
    mentions_bot,
    place_of,
    reply,
    thread_of,
)
from bot.teams.handlers.services import Services
from bot.teams.handlers.settings import SETTINGS_COMMAND, STATS_COMMAND, SettingsCommands
from bot.teams.people import PERSONAL
from data.models import Person

log = logging.getLogger(__name__)

GREETINGS = frozenset({"", "help", "hi", "hello", "hey", "?"})
ASK_COMMANDS = frozenset({"ask", "find"})


class MessageHandler:
    """Turns messages to the bot into questions, follow-ups and replies."""

    def __init__(self, services: Services, channels: ChannelMessages) -> None:
        self.services = services
        self.channels = channels
        self.flow = services.runtime.flow
        self.settings = SettingsCommands(services)

    async def __call__(self, context: TurnContext, state: TurnState) -> None:
        activity = context.activity
        sender = activity.from_property
        if sender is None or sender.role == "bot":
            return
        kind = conversation_type(activity)
        if kind == CHANNEL:
            await self.channels.posted(context)
        if kind != PERSONAL and not mentions_bot(activity):
            return  # in shared conversations, only what is addressed to the bot
        person = await self.services.people.person_of(context)
        if person is None:
            await reply(context, cards.NOT_IN_DIRECTORY)
            return
        await self.services.people.remember(context, person)
        text = clean_text(activity)
        try:
            if kind == PERSONAL:
                outcome = await self._personal(context, person, text)
            else:
                outcome = await self._shared(context, person, text, kind)
        except FlowError as problem:
            await reply(context, str(problem))
            return
        # Success is told by the lifecycle's own messages ("I've asked Dana..."), a moment
        # later; a refusal is told at once.
        if outcome is not None and not outcome.ok and not outcome.duplicate:
            await reply(context, outcome.message)

    async def _personal(self, context: TurnContext, person: Person, text: str) -> Outcome | None:
        word, _, rest = text.partition(" ")
        if word.lower() in GREETINGS | ASK_COMMANDS and not rest.strip():
            await reply(context, cards.HELP_TEXT)
            return None
        if word.lower() == SETTINGS_COMMAND and not rest.strip():
            await self.settings.show_settings(context, person)
            return None
        if word.lower() == STATS_COMMAND and not rest.strip():
            await self.settings.show_stats(context, person)
            return None
        origin = "dm"
        if word.lower() in ASK_COMMANDS and rest.strip():
            origin, text = "ask", rest
        activity = context.activity
        return await core(
            self.flow.ask,
            person.id,
            text,
            origin=origin,
            place=place_of(activity),
            private=True,
            event_id=event_id(activity),
        )

    async def _shared(
        self, context: TurnContext, person: Person, text: str, kind: str
    ) -> Outcome | None:
        activity = context.activity
        if not text:
            await reply(context, cards.HELP_TEXT)
            return None
        thread = thread_of(activity) if kind == CHANNEL else None
        if thread:
            earlier = await core(self.flow.lc.find_question_by_place, "thread_id", thread)
            if earlier is not None:
                outcome = await self._in_thread(person, earlier.id, text, activity)
                if outcome is not None:
                    return outcome
        return await core(
            self.flow.ask,
            person.id,
            text,
            origin="mention",
            place=place_of(activity),
            private=False,
            event_id=event_id(activity),
        )

    async def _in_thread(self, person: Person, question_id: int, text: str, activity):
        """In the thread of an answered question: the asker follows up, an answerer replies.
        Anything else is a new question (None)."""
        question = await core(self.flow.question, question_id)
        if person.id == question.asker_id and question.state in OPEN_STATES:
            return Outcome(
                False,
                f"I'm still finding someone for this question (#{question.id}); "
                "the answer will come here.",
                question.id,
            )
        if question.state not in ANSWERED_STATES:
            return None
        if person.id == question.asker_id:
            return await core(
                self.flow.follow_up, question.id, person.id, text, event_id=event_id(activity)
            )
        answerers = {a.person_id for a in await core(self.flow.lc.answers_of, question.id)}
        if person.id in answerers:
            return await core(
                self.flow.reply, question.id, person.id, text, event_id=event_id(activity)
            )
        return None
