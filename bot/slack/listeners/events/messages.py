"""`message` events: a question posted in a channel (routed if nobody replies in time),
a reply in its thread (a colleague answered: no routing), and a DM to the bot (a private
question, routed at once).

Events are acknowledged as soon as this returns; the work runs in the job queue.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.lifecycle.flow import FlowError
from bot.lifecycle.states import QuestionState
from bot.slack import blocks, ids
from bot.slack.services import ReplyTo, Services, services
from bot.slack.text import looks_like_question, mentions, plain, without_mention

log = logging.getLogger(__name__)

# Plain messages, broadcasts of thread replies and messages with files; edits, joins,
# bot messages and the like are not questions.
HANDLED_SUBTYPES = (None, "thread_broadcast", "file_share")
GREETINGS = frozenset({"", "hi", "hello", "hey", "help", "hi there", "hello there"})


def on_message(event: dict[str, Any], body: dict[str, Any], context: Any) -> None:
    """Sort a message event and queue what it asks for."""
    svc = services(context)
    user = event.get("user")
    if event.get("subtype") not in HANDLED_SUBTYPES or event.get("bot_id"):
        return
    if not user or user == svc.bot_user_id:
        return
    event_id = body.get("event_id")
    if not svc.recent.first_sight(event_id):
        return  # Slack retried an event this process already queued
    core_id = f"slack:{event_id}" if event_id else None
    ts, thread_ts = event.get("ts"), event.get("thread_ts")
    in_thread = bool(thread_ts) and thread_ts != ts
    text = event.get("text") or ""
    if event.get("channel_type") == "im":
        if not in_thread:  # replies inside a DM thread are conversation, not questions
            svc.jobs.submit("dm question", dm_question, svc, event, core_id)
    elif mentions(text, svc.bot_user_id):
        return  # the app_mention event for this message asks the question
    elif in_thread:
        svc.jobs.submit("thread reply", thread_reply, svc, event, core_id)
    elif looks_like_question(plain(text)):
        svc.jobs.submit("channel question", channel_question, svc, event, core_id)


def channel_question(svc: Services, event: dict[str, Any], core_id: str | None) -> None:
    """A question in a channel: it waits for the channel's grace period, then is routed."""
    person = svc.person(event["user"])
    if person is None:
        return  # not in the directory: stay quiet in channels
    enabled, wait = svc.accounts.channel_settings(ids.PLATFORM, event["channel"])
    if not enabled:
        return
    place = {"platform": ids.PLATFORM, "channel": event["channel"], "thread_ts": event["ts"]}
    try:
        svc.flow.ask(
            person.id,
            plain(event.get("text") or "", svc.name_of),
            origin="channel",
            place=place,
            event_id=core_id,
            wait_minutes=wait,
        )
    except FlowError as problem:  # too long, say: nobody asked the bot, so stay quiet
        log.info("channel message %s not taken: %s", event.get("ts"), problem)


def thread_reply(svc: Services, event: dict[str, Any], core_id: str | None) -> None:
    """A reply in a waiting question's thread: a colleague answered, so no routing."""
    question = svc.flow.lc.find_question_by_place("thread_ts", event["thread_ts"])
    if question is None or question.place.get("channel") != event.get("channel"):
        return
    if question.state != QuestionState.WAITING:
        return
    person = svc.person(event["user"])
    replier = person.id if person else f"slack:{event['user']}"
    svc.flow.human_replied(question.id, replier, event_id=core_id)


def dm_question(svc: Services, event: dict[str, Any], core_id: str | None) -> None:
    """A DM to the bot: a private question, answered in the DM."""
    to = ReplyTo(user=event["user"])
    text = plain(without_mention(event.get("text") or "", svc.bot_user_id), svc.name_of)
    if text.lower().strip(" !.?") in GREETINGS:
        help_text, help_blocks = blocks.help_message()
        svc.client.chat_postMessage(channel=event["channel"], text=help_text, blocks=help_blocks)
        return
    place = {"platform": ids.PLATFORM, "channel": event["channel"], "thread_ts": event["ts"]}
    svc.attempt(
        "dm question",
        to,
        lambda person: svc.flow.ask(
            person.id, text, origin="dm", place=place, private=True, event_id=core_id
        ),
        say_refusal=False,  # a question nobody can take is told through the core
    )
