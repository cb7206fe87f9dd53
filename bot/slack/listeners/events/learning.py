"""Learning from channel messages as they are posted, edited and deleted: the Slack side of
`bot.learning.chat` (which decides what is learned and how).

Every human message in a channel the bot is in is handed to the learner, as is each edit
(the new text) and deletion. Private channels (`channel_type` "group") are recorded as
private: the learner learns there only if an admin switched the channel on, and then
only its members may see what it taught (`read_members`, `on_member_change`). DMs never
reach here.
Jobs run in the job queue, tied to the request's intake row, so an event acknowledged
before a crash is learned from after the restart (learning it twice changes nothing).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.learning.chat import Said
from bot.slack import ids
from bot.slack.directory_sync import pages
from bot.slack.said import said_of
from bot.slack.services import Services, services

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
    for its name, so its items read "#name, day". Before a private channel an admin
    switched on is first learned from, its members are read: only they may see what it
    teaches (member events keep the list current)."""
    learner = svc.learner
    row = learner.chat.channel(ids.PLATFORM, said.channel)
    if row is None:
        learner.see_channel(said.channel, _channel_name(svc, said.channel), private)
    elif row.private != private:  # converted: no write for every other message
        learner.see_channel(said.channel, None, private)
    unread = learner.chat.members_read_at(ids.PLATFORM, said.channel) is None
    if private and unread and learner.learning(said.channel):
        read_members(svc, said.channel)
    learner.learn([said])


def read_members(svc: Services, channel: str) -> bool:
    """Store who is in a channel now (`conversations.members`); False if Slack would not
    say (the channel's knowledge then stays hidden from everyone)."""
    try:
        users = pages(svc.client.conversations_members, "members", channel=channel)
    except (SlackApiError, OSError, RuntimeError) as error:
        log.warning("could not read the members of %s: %s", channel, error)
        return False
    people = svc.runtime.store.accounts(ids.PLATFORM, [u for u in users if isinstance(u, str)])
    now = svc.runtime.clock.now().isoformat()
    svc.learner.chat.set_members(ids.PLATFORM, channel, [pid for pid, _, _ in people.values()], now)
    return True


def on_member_change(event: dict[str, Any], body: dict[str, Any], context: Any) -> None:
    """`member_joined_channel` / `member_left_channel`: keep a private channel's members
    current (public channels' knowledge is for everyone anyway)."""
    svc = services(context)
    channel, user = event.get("channel"), event.get("user")
    if not isinstance(channel, str) or not isinstance(user, str):
        return
    if event.get("channel_type") != "G" or not svc.recent.first_sight(body.get("event_id")):
        return
    joined = event.get("type") == "member_joined_channel"
    svc.jobs.submit("channel members", member_changed, svc, channel, user, joined)


def member_changed(svc: Services, channel: str, user: str, joined: bool) -> None:
    """One person joined or left a private channel."""
    if svc.learner.chat.members_read_at(ids.PLATFORM, channel) is None:
        return  # never read: the first learning reads them all
    person = svc.person(user)
    if person is not None:
        svc.learner.chat.join(ids.PLATFORM, channel, person.id, joined)


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
