"""`app_home_opened`: publish the person's App Home."""

from __future__ import annotations

from typing import Any

from bot.slack import blocks
from bot.slack.home import publish_home
from bot.slack.services import Services, services


def on_home_opened(event: dict[str, Any], context: Any) -> None:
    """Queue a fresh App Home for whoever opened it."""
    svc = services(context)
    if event.get("tab", "home") != "home" or not event.get("user"):
        return
    svc.jobs.submit("home", refresh_home, svc, event["user"])


def refresh_home(svc: Services, slack_user: str) -> None:
    """Publish App Home (a short 'who are you?' view for someone not in the directory)."""
    person = svc.person(slack_user)
    if person is None:
        svc.client.views_publish(user_id=slack_user, view=blocks.unknown_home())
        return
    publish_home(svc, person)
