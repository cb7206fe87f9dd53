"""What `POST /api/messages` accepts: a UTF-8 JSON object that is a Bot Framework activity
with what whoknows' handlers rely on. Anything else is a `BadActivity` (400), told in one
log line by the caller, never a 500.

Reading happens in steps so that the caller can check the token between them: `read_body`
(bytes to a JSON object), `routing_fields` (the `channelId` and `serviceUrl` the token is
checked against), then `activity_of` (the SDK's `Activity`, with the fields the handlers
need checked first).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web
from microsoft_agents.activity import Activity, ActivityTypes
from pydantic import ValidationError
from yarl import URL

# Activities whose handlers need to know who sent them.
NEEDS_SENDER = frozenset(
    {
        ActivityTypes.message,
        ActivityTypes.invoke,
        ActivityTypes.conversation_update,
        ActivityTypes.installation_update,
    }
)
# channelData members whoknows reads (Teams sends objects there).
CHANNEL_DATA_OBJECTS = ("tenant", "team", "channel")


class BadActivity(ValueError):
    """A request body that is not an activity whoknows can handle."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.status = status


class _QuietValidation(logging.Filter):
    """The SDK logs every Activity that fails validation at ERROR with a traceback; whoknows
    answers those with 400 and logs one line itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Validation error for Activity")


logging.getLogger("microsoft_agents.activity.activity").addFilter(_QuietValidation())


async def read_body(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object. Raises BadActivity."""
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise BadActivity("the body is too large", status=413) from None
    try:
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadActivity("the body is not UTF-8") from None
    except (ValueError, RecursionError):
        raise BadActivity("the body is not JSON") from None
    if not isinstance(body, dict):
        raise BadActivity("the body is not a JSON object")
    return body


def routing_fields(body: dict[str, Any]) -> tuple[str, str]:
    """(channelId, serviceUrl) of an activity. Raises BadActivity."""
    channel_id = body.get("channelId")
    if not _text(channel_id):
        raise BadActivity("the activity has no channelId")
    service_url = body.get("serviceUrl")
    if not _text(service_url):
        raise BadActivity("the activity has no serviceUrl")
    try:
        url = URL(service_url)
    except (ValueError, TypeError):
        url = None
    if url is None or url.scheme not in {"http", "https"} or not url.host:
        raise BadActivity("the activity's serviceUrl is not an http(s) URL")
    return channel_id, service_url


def activity_of(body: dict[str, Any]) -> Activity:
    """The SDK's Activity for `body`, with what the handlers need. Raises BadActivity."""
    kind = body.get("type")
    if not _text(kind):
        raise BadActivity("the activity has no type")
    conversation = body.get("conversation")
    if not isinstance(conversation, dict) or not _text(conversation.get("id")):
        raise BadActivity("the activity has no conversation.id")
    if kind in NEEDS_SENDER:
        sender = body.get("from")
        if not isinstance(sender, dict) or not _text(sender.get("id")):
            raise BadActivity(f"the {kind[:40]!r} activity has no from.id")
    channel_data = body.get("channelData")
    if channel_data is not None:
        if not isinstance(channel_data, dict):
            raise BadActivity("the activity's channelData is not an object")
        for key in CHANNEL_DATA_OBJECTS:
            member = channel_data.get(key)
            if member is None:
                continue
            if not isinstance(member, dict):
                raise BadActivity(f"the activity's channelData.{key} is not an object")
            if member.get("id") is not None and not isinstance(member["id"], str):
                raise BadActivity(f"the activity's channelData.{key}.id is not a string")
    try:
        return Activity.model_validate(body)
    except ValidationError as error:
        raise BadActivity(f"not a valid activity: {_summary(error)}") from None
    except Exception as error:  # the SDK's own checks raise plain exceptions too
        raise BadActivity(f"not a valid activity: {str(error)[:100]!r}") from None


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _summary(error: ValidationError) -> str:
    """The first problem of a validation error, on one line, without the input's values."""
    problems = error.errors(include_url=False, include_input=False)
    if not problems:
        return "invalid"
    first = problems[0]
    where = ".".join(str(part) for part in first.get("loc", ())) or "activity"
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{where[:80]}: {first.get('msg', 'invalid')}{more}"
