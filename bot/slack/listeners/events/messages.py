"""`message` events: a question posted in a channel (routed if nobody replies in time),
a reply in its thread (a colleague answered: no routing), and a DM to the bot (a private
question, routed at once).

The asker's own changes to the message that asked a question count too:
- deleted (`message_deleted`, or `message_changed` to a `tombstone` when the message had
  thread replies) -> the question is withdrawn while it is still open;
- edited (`message_changed`) -> the new text, if it is still a question.
Only the message's author counts (`previous_message.user` / `message.user`); changes to
other messages (thread replies, the bot's own posts, unfurls) change nothing.

Every human message in a channel (new, edited, deleted) also teaches who knows what
(`learning`).

Events are acknowledged as soon as this returns; the work runs in the job queue.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.lifecycle.flow import FlowError
from bot.lifecycle.states import QuestionState
from bot.question_text import looks_like_question
from bot.slack import blocks, ids
from bot.slack.listeners.events.learning import queue_learning
from bot.slack.services import ReplyTo, Services, services
from bot.slack.text import mentions, plain, without_mention
from data.lifecycle_store import QuestionRow

log = logging.getLogger(__name__)

# Plain messages, broadcasts of thread replies and messages with files; edits, joins,
# bot messages and the like are not questions.
HANDLED_SUBTYPES = (None, "thread_broadcast", "file_share")
CHANGED, DELETED, TOMBSTONE = "message_changed", "message_deleted", "tombstone"
GREETINGS = frozenset({"", "hi", "hello", "hey", "help", "hi there", "hello there"})
# Questions whose text is the message at their place's `thread_ts` (a mention inside a
# thread has the thread's parent there instead, so deleting the parent can't reach it
# unless the same person wrote both).
MESSAGE_ORIGINS = ("channel", "dm", "mention")


def on_message(event: dict[str, Any], body: dict[str, Any], context: Any) -> None:
    """Sort a message event and queue what it asks for."""
    svc = services(context)
    event_id = body.get("event_id")
    if not svc.recent.first_sight(event_id):
        return  # Slack retried an event this process already queued
    queue_learning(svc, event)  # every channel message teaches who knows what
    user = event.get("user")
    if event.get("subtype") in (CHANGED, DELETED):
        on_change(svc, event, body)
        return
    if event.get("subtype") not in HANDLED_SUBTYPES or event.get("bot_id"):
        return
    if not user or user == svc.bot_user_id:
        return
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


# ------------------------------------------------------------ edits and deletions


def on_change(svc: Services, event: dict[str, Any], body: dict[str, Any]) -> None:
    """Sort an edit or a deletion and queue what it asks for."""
    channel = event.get("channel")
    message, previous = _object(event.get("message")), _object(event.get("previous_message"))
    if event.get("subtype") == DELETED:
        if previous.get("subtype") == TOMBSTONE:
            return  # the placeholder of a message already deleted (a tombstone) went
        change, ts, author = "deleted", event.get("deleted_ts") or previous.get("ts"), previous
    elif message.get("subtype") == TOMBSTONE:  # a message with thread replies was deleted
        change, ts, author = "deleted", message.get("ts") or previous.get("ts"), previous
    else:
        if message.get("bot_id") or message.get("subtype") not in HANDLED_SUBTYPES:
            return
        if (message.get("text") or "") == (previous.get("text") or ""):
            return  # an unfurl, a new reply count...: the words did not change
        change, ts, author = "edited", message.get("ts"), message
    user = author.get("user")
    if not channel or not ts or not user or user == svc.bot_user_id or author.get("bot_id"):
        return
    event_id = body.get("event_id")
    core_id = f"slack:{event_id}" if event_id else None
    if change == "deleted":
        svc.jobs.submit("question deleted", question_deleted, svc, channel, ts, user, core_id)
    else:
        text = message.get("text") or ""
        svc.jobs.submit("question edited", question_edited, svc, channel, ts, user, text, core_id)


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def asked_by_message(svc: Services, channel: str, ts: str, slack_user: str) -> QuestionRow | None:
    """The question `slack_user` asked with their message `ts` in `channel`, if any (the
    first one at that place: later ones there are mentions inside its thread)."""
    person = svc.person(slack_user)
    if person is None:
        return None
    found = [
        q
        for q in svc.flow.questions_of(person.id)
        if q.origin in MESSAGE_ORIGINS
        and q.place.get("platform") == ids.PLATFORM
        and q.place.get("channel") == channel
        and q.place.get("thread_ts") == ts
    ]
    return min(found, key=lambda q: q.id) if found else None


def question_deleted(
    svc: Services, channel: str, ts: str, slack_user: str, core_id: str | None
) -> None:
    """The asker deleted the message that asked a question: it is withdrawn."""
    question = asked_by_message(svc, channel, ts, slack_user)
    if question is None:
        return  # not a question (a thread reply that cancelled one stays cancelled)
    outcome = svc.flow.withdraw(question.id, question.asker_id, event_id=core_id)
    log.info("question %s deleted by its asker: %s", question.id, outcome.message)


def question_edited(
    svc: Services, channel: str, ts: str, slack_user: str, text: str, core_id: str | None
) -> None:
    """The asker edited the message that asked a question: the question takes the new
    text, as long as it is still a question (otherwise nothing changes)."""
    question = asked_by_message(svc, channel, ts, slack_user)
    if question is None:
        return  # never a question: an edit doesn't make it one
    if question.origin == "channel":
        new = plain(text, svc.name_of)
        still_a_question = looks_like_question(new)
    else:
        new = plain(without_mention(text, svc.bot_user_id), svc.name_of)
        if question.origin == "dm":
            still_a_question = new.lower().strip(" !.?") not in GREETINGS
        else:
            still_a_question = len(new.strip(" ?!.")) >= 3
    if not still_a_question:
        log.info("question %s edited into something else; keeping its text", question.id)
        return
    try:
        outcome = svc.flow.edit_question(question.id, question.asker_id, new, event_id=core_id)
    except FlowError as problem:  # too long, say: the question keeps its earlier text
        log.info("edit of question %s not taken: %s", question.id, problem)
        return
    log.info("question %s edited by its asker: %s", question.id, outcome.message)
