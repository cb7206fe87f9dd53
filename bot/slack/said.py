"""Slack messages as the chat learner takes them (`bot.learning.chat.Said`), for live
events and the Web API history alike; and links back to a workspace's messages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.learning.chat import Said
from data.chat_items import LinkMaker, slack_links

# People writing; every other subtype is the system (joins, topics, bots...).
HUMAN_SUBTYPES = (None, "thread_broadcast", "file_share")
SLACKBOT = "USLACKBOT"


def said_of(
    channel: str, message: Mapping[str, Any], bot_user_id: str | None = None
) -> Said | None:
    """A Slack message object as the learner takes it, or None if it is not a person
    writing (a bot, the app itself, a join or topic change, Slackbot) or is malformed."""
    if message.get("bot_id") or message.get("subtype") not in HUMAN_SUBTYPES:
        return None
    user, ts, text = message.get("user"), message.get("ts"), message.get("text") or ""
    if not isinstance(user, str) or not user or user in (SLACKBOT, bot_user_id):
        return None
    at = slack_time(ts)
    if at is None or not isinstance(text, str):
        return None
    thread = message.get("thread_ts")
    parent = message.get("parent_user_id")
    return Said(
        channel,
        str(ts),
        at,
        user,
        text,
        thread if slack_time(thread) is not None else None,
        parent if isinstance(parent, str) and parent else None,
    )


def slack_time(ts: Any) -> float | None:
    """Seconds since the epoch of a Slack time ("1712345678.000200"), or None."""
    if not isinstance(ts, str):
        return None
    try:
        return float(ts)
    except ValueError:
        return None


def workspace_links(auth: Mapping[str, Any]) -> LinkMaker:
    """Links to the workspace's messages from what `auth.test` says: its site
    ("https://acme.slack.com/") when it gives one, else slack:// links with its team."""
    url, team = auth.get("url"), auth.get("team_id")
    base = url.rstrip("/") if isinstance(url, str) and url.startswith("https://") else None
    return slack_links(base, team if isinstance(team, str) else None)
