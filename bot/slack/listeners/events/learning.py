"""Learning from channel messages as they are posted, edited and deleted: the Slack side of
`bot.learning.chat` (which decides what is learned and how).

Every human message in a public channel the bot is in is handed to the learner, as is
each edit (the new text) and deletion. Private channels (`channel_type` "group") are
recorded as private, which the learner does not learn from; DMs never reach here.
Jobs run in the job queue, tied to the request's intake row, so an event acknowledged
before a crash is learned from after the restart (learning it twice changes nothing).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.learning.chat import Said
from bot.slack import ids
from bot.slack.said import said_of
from bot.slack.services import Services

log = logging.getLogger(__name__)

# Channel types of the events API: a public channel, a private one.
CHANNEL_TYPES = {"channel": False, "group": True}


def queue_learning(svc: Services, event: dict[str, Any]) -> None:
    """Queue what a channel `message` event teaches (new, edited or deleted message)."""
    channel, kind = event.get("channel"), event.get("channel_type")
    if not isinstance(channel, str) or kind not in CHANNEL_TYPES:
        return
    private = CHANNEL_TYPES[kind]
    subtype = event.get("subtype")
    if subtype == "message_deleted":
        ts = event.get("deleted_ts") or _object(event.get("previous_message")).get("ts")
        if isinstance(ts, str):
            svc.jobs.submit("forget message", forget, svc, channel, ts)
        return
    if subtype == "message_changed":
        message = _object(event.get("message"))
        if message.get("subtype") == "tombstone":  # deleted, its thread's replies stay
            ts = message.get("ts")
            if isinstance(ts, str):
                svc.jobs.submit("forget message", forget, svc, channel, ts)
            return
    else:
        message = event
    said = said_of(channel, message, svc.bot_user_id)
    if said is not None:
        svc.jobs.submit("learn message", learn, svc, said, private)


def learn(svc: Services, said: Said, private: bool) -> None:
    """Learn one message (new or edited); a channel seen for the first time is looked up
    for its name, so its items read "#name, day"."""
    learner = svc.learner
    if learner.chat.channel(ids.PLATFORM, said.channel) is None:
        learner.see_channel(said.channel, _channel_name(svc, said.channel), private)
    else:
        learner.see_channel(said.channel, None, private)
    learner.learn([said])


def forget(svc: Services, channel: str, ts: str) -> None:
    """A message was deleted: its knowledge goes with it."""
    svc.learner.forget(channel, ts)


def _channel_name(svc: Services, channel: str) -> str | None:
    try:
        info = svc.client.conversations_info(channel=channel)
    except (SlackApiError, OSError) as error:
        log.info("no name for channel %s: %s", channel, error)
        return None
    found = info.get("channel") or {}
    name = found.get("name") if isinstance(found, dict) else None
    return name if isinstance(name, str) and name else None


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
