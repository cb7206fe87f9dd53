"""Reading Slack interaction payloads: pure helpers shared by the listeners."""

from __future__ import annotations

import json
from typing import Any

from bot.slack.services import ReplyTo


def actor(body: dict[str, Any]) -> str:
    """The Slack user id of whoever clicked, submitted or typed."""
    return str((body.get("user") or {}).get("id") or body.get("user_id") or "")


def from_home(body: dict[str, Any]) -> bool:
    """Whether an action came from App Home (no message, no response_url)."""
    return (body.get("view") or {}).get("type") == "home"


def reply_to(body: dict[str, Any]) -> ReplyTo:
    """How to answer the actor of a block action or shortcut."""
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    return ReplyTo(user=actor(body), response_url=body.get("response_url"), channel=channel)


def reply_to_view(body: dict[str, Any], meta: dict[str, Any]) -> ReplyTo:
    """How to answer the submitter of a modal opened from a message (its response_url and
    channel travel in private_metadata)."""
    return ReplyTo(
        user=actor(body), response_url=meta.get("response_url"), channel=meta.get("channel")
    )


def action_event_id(body: dict[str, Any], action: dict[str, Any]) -> str:
    """A stable id for one click, so a repeated delivery is handled once."""
    return f"slack:action:{action.get('action_ts') or body.get('trigger_id')}:{actor(body)}"


def view_event_id(view: dict[str, Any]) -> str:
    """A stable id for one modal submission (a double submit is handled once)."""
    return f"slack:view:{view.get('id')}"


def number(value: Any) -> int | None:
    """An integer from a button value (None if it isn't one)."""
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def meta_of(view: dict[str, Any]) -> dict[str, Any]:
    """A view's private_metadata as a dict."""
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


def json_value(action: dict[str, Any]) -> Any:
    """A button value holding JSON (None if it doesn't)."""
    try:
        return json.loads(action.get("value") or "null")
    except ValueError:
        return None


def value_of(view: dict[str, Any], ids_: tuple[str, str]) -> Any:
    """What the person entered in one input of a submitted view: text, a number as text,
    a user or conversation id, or a selected option's value (None if empty)."""
    state = ((view.get("state") or {}).get("values") or {}).get(ids_[0]) or {}
    element = state.get(ids_[1]) or {}
    for key in ("selected_user", "selected_conversation", "selected_channel"):
        if element.get(key):
            return element[key]
    option = element.get("selected_option")
    if option:
        return option.get("value")
    value = element.get("value")
    return value if value not in ("", None) else None
