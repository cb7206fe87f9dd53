"""`app_mention`: "@whoknows who knows X?" in a channel. Routed at once; answers come
back in the thread."""

from __future__ import annotations

from typing import Any

from bot.slack import blocks, ids
from bot.slack.services import ReplyTo, Services, services
from bot.slack.text import plain, without_mention


def on_mention(event: dict[str, Any], body: dict[str, Any], context: Any) -> None:
    """Queue the mentioned question."""
    svc = services(context)
    if event.get("bot_id") or not event.get("user"):
        return
    event_id = body.get("event_id")
    if not svc.recent.first_sight(event_id):
        return
    svc.jobs.submit("mention", ask_mention, svc, event, f"slack:{event_id}" if event_id else None)


def ask_mention(svc: Services, event: dict[str, Any], core_id: str | None) -> None:
    """Ask the core; the answer's place is the mention's thread."""
    thread_ts = event.get("thread_ts") or event["ts"]
    to = ReplyTo(user=event["user"], channel=event["channel"], thread_ts=thread_ts)
    text = plain(without_mention(event.get("text") or "", svc.bot_user_id), svc.name_of)
    if len(text.strip(" ?!.")) < 3:
        svc.tell(to, blocks.help_message()[0])
        return
    place = {"platform": ids.PLATFORM, "channel": event["channel"], "thread_ts": thread_ts}
    svc.attempt(
        "mention",
        to,
        lambda person: svc.flow.ask(
            person.id, text, origin="mention", place=place, event_id=core_id
        ),
        say_refusal=False,
    )
