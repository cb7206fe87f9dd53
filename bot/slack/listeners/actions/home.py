"""App Home buttons: opt out or in, edit skills and limits, close a question, and the
admin's channel settings (admins only, checked here and again on submit)."""

from __future__ import annotations

from typing import Any

from bot.slack import blocks
from bot.slack.home import publish_home
from bot.slack.payloads import action_event_id, actor, json_value, number, reply_to
from bot.slack.services import services

ADMINS_ONLY = "Only whoknows admins can change channel settings."


def _opt(body: dict[str, Any], context: Any, opted_out: bool) -> None:
    svc = services(context)
    svc.run(
        "opt out" if opted_out else "opt in",
        reply_to(body),
        lambda person: svc.accounts.set_opted_out(person.id, opted_out),
        after=lambda person: publish_home(svc, person),
    )


def on_opt_out(ack: Any, body: dict[str, Any], context: Any) -> None:
    """Stop being asked."""
    ack()
    _opt(body, context, True)


def on_opt_in(ack: Any, body: dict[str, Any], context: Any) -> None:
    """Be asked again."""
    ack()
    _opt(body, context, False)


def on_edit_skills(ack: Any, body: dict[str, Any], action: dict[str, Any], context: Any) -> None:
    """Open the skills editor, filled with the declared skills shown on the button."""
    ack()
    skills = json_value(action)
    skills = [str(s) for s in skills] if isinstance(skills, list) else []
    services(context).open_modal(body["trigger_id"], blocks.skills_modal(skills), reply_to(body))


def on_edit_limits(ack: Any, body: dict[str, Any], action: dict[str, Any], context: Any) -> None:
    """Open the limits editor (asks per day, quiet hours)."""
    ack()
    svc = services(context)
    current = json_value(action)
    current = current if isinstance(current, dict) else {}
    limits = svc.flow.limits
    defaults = (
        f"Org defaults: {limits.daily_ask_cap} requests a day; quiet "
        f"{limits.quiet_start_hour:02d}:00–{limits.quiet_end_hour:02d}:00."
    )
    view = blocks.limits_modal(
        number(current.get("max")),
        number(current.get("start")),
        number(current.get("end")),
        defaults,
    )
    svc.open_modal(body["trigger_id"], view, reply_to(body))


def on_close_question(ack: Any, body: dict[str, Any], action: dict[str, Any], context: Any):
    """Close one of my questions from App Home."""
    ack()
    svc = services(context)
    question_id = number(action.get("value"))
    svc.run(
        "close question",
        reply_to(body),
        lambda person: svc.flow.resolve(
            question_id, person.id, event_id=action_event_id(body, action)
        ),
        after=lambda person: publish_home(svc, person),
    )


def on_admin_channel(ack: Any, body: dict[str, Any], context: Any) -> None:
    """Admins: open the channel settings modal."""
    ack()
    svc = services(context)
    if not svc.is_admin(actor(body)):
        svc.jobs.submit("not an admin", svc.tell, reply_to(body), ADMINS_ONLY)
        return
    view = blocks.channel_modal(svc.flow.limits.channel_wait_minutes)
    svc.open_modal(body["trigger_id"], view, reply_to(body))
