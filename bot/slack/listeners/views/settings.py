"""App Home editors: skills, limits, and (admins) channel settings."""

from __future__ import annotations

import re
from typing import Any

from bot.slack import ids
from bot.slack.home import publish_home
from bot.slack.payloads import actor, number, value_of
from bot.slack.services import ReplyTo, services
from data.lifecycle_store import Preferences

ADMINS_ONLY = "Only whoknows admins can change channel settings."


def on_skills_submitted(ack: Any, body: dict[str, Any], view: dict[str, Any], context: Any):
    """Save the declared skills."""
    ack()
    svc = services(context)
    raw = value_of(view, ids.SKILLS_INPUT) or ""
    skills = [s.strip() for s in re.split(r"[,;\n]", raw) if s.strip()]
    svc.run(
        "skills",
        ReplyTo(user=actor(body)),
        lambda person: svc.accounts.set_skills(person.id, skills),
        after=lambda person: publish_home(svc, person),
    )


def on_limits_submitted(ack: Any, body: dict[str, Any], view: dict[str, Any], context: Any):
    """Save asks per day and quiet hours (both hours or neither)."""
    max_asks = value_of(view, ids.MAX_ASKS_INPUT)
    start = value_of(view, ids.QUIET_START_INPUT)
    end = value_of(view, ids.QUIET_END_INPUT)
    start = None if start in (None, "default") else number(start)
    end = None if end in (None, "default") else number(end)
    per_day = number(max_asks) if max_asks is not None else None
    if max_asks is not None and (per_day is None or per_day < 0):
        ack(response_action="errors", errors={ids.MAX_ASKS_INPUT[0]: "A whole number, 0 or more."})
        return
    if (start is None) != (end is None):
        ack(
            response_action="errors",
            errors={ids.QUIET_END_INPUT[0]: "Set both ends of quiet hours, or neither."},
        )
        return
    ack()
    svc = services(context)
    svc.run(
        "limits",
        ReplyTo(user=actor(body)),
        lambda person: svc.accounts.set_preferences(Preferences(person.id, per_day, start, end)),
        after=lambda person: publish_home(svc, person),
    )


def on_channel_submitted(ack: Any, body: dict[str, Any], view: dict[str, Any], context: Any):
    """Admins: turn routing in a channel on or off, with its wait."""
    svc = services(context)
    if not svc.is_admin(actor(body)):
        ack(response_action="errors", errors={ids.CHANNEL_INPUT[0]: ADMINS_ONLY})
        return
    channel = value_of(view, ids.CHANNEL_INPUT)
    wait_text = value_of(view, ids.WAIT_INPUT)
    try:
        wait = float(wait_text) if wait_text is not None else None
    except ValueError:
        wait = -1.0
    if wait is not None and wait < 0:
        ack(response_action="errors", errors={ids.WAIT_INPUT[0]: "Minutes, 0 or more."})
        return
    if not channel:
        ack(response_action="errors", errors={ids.CHANNEL_INPUT[0]: "Pick a channel."})
        return
    ack()
    enabled = value_of(view, ids.ENABLED_INPUT) != "off"
    default = svc.flow.limits.channel_wait_minutes
    words = (
        f"Saved: unanswered questions in <#{channel}> are routed after "
        f"{default if wait is None else wait:g} minutes."
        if enabled
        else f"Saved: whoknows leaves <#{channel}> alone."
    )

    def save(person: Any) -> str:
        svc.accounts.set_channel_settings(ids.PLATFORM, channel, enabled, wait)
        svc.tell(ReplyTo(user=actor(body)), words)
        return words

    svc.run(
        "channel settings",
        ReplyTo(user=actor(body)),
        save,
        after=lambda person: publish_home(svc, person),
    )
