"""Slack message text in and out: pure functions, no I/O.

Incoming text is Slack mrkdwn with `<@U123>` mentions, `<#C123|name>` channels, `<url|label>`
links and `&amp;`-style escapes; the core wants plain words. Outgoing user text must be
escaped so a question can't ping `@channel` or forge a link.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")
_CHANNEL = re.compile(r"<#([CG][A-Z0-9]+)(?:\|([^>]*))?>")
_SPECIAL = re.compile(r"<!([a-z^]+)(?:\^[^>|]*)?(?:\|([^>]*))?>")
_LINK = re.compile(r"<([a-z][a-z0-9+.-]*:[^>|]+)(?:\|([^>]*))?>", re.IGNORECASE)


def plain(text: str, name_of: Callable[[str], str | None] | None = None) -> str:
    """Slack mrkdwn -> plain text: mentions become @Name (or @label), channels #name,
    links their label or address; escapes are undone; whitespace is tidied."""

    def user(match: re.Match[str]) -> str:
        name = name_of(match.group(1)) if name_of else None
        return "@" + (name or match.group(2) or match.group(1))

    text = _USER.sub(user, text or "")
    text = _CHANNEL.sub(lambda m: "#" + (m.group(2) or m.group(1)), text)
    text = _SPECIAL.sub(lambda m: "@" + (m.group(2) or m.group(1)), text)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return re.sub(r"[ \t]+", " ", text).strip()


def mentions(text: str, user_id: str | None) -> bool:
    """Whether `text` mentions the user `user_id`."""
    return bool(user_id) and any(m.group(1) == user_id for m in _USER.finditer(text or ""))


def without_mention(text: str, user_id: str | None) -> str:
    """`text` with every mention of `user_id` (the bot) removed."""
    if not user_id:
        return text or ""
    return _USER.sub(lambda m: "" if m.group(1) == user_id else m.group(0), text or "").strip()


def escape(text: str) -> str:
    """Escape text for mrkdwn so it shows as typed (no mentions, links or formatting
    controls sneak in)."""
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, with an ellipsis when cut."""
    text = text or ""
    return text if len(text) <= limit else text[: max(0, limit - 1)].rstrip() + "…"


def quote(text: str, limit: int = 2900) -> str:
    """Escaped text as a mrkdwn block quote, clipped to fit a section."""
    lines = escape(clip(text, limit)).splitlines() or [""]
    return "\n".join(f">{line}" for line in lines)
