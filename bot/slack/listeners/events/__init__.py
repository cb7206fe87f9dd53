from __future__ import annotations

from slack_bolt import App

from bot.slack.listeners.events import app_home, app_mention, messages


def register(app: App) -> None:
    """Events API listeners."""
    app.event("message")(messages.on_message)
    app.event("app_mention")(app_mention.on_mention)
    app.event("app_home_opened")(app_home.on_home_opened)
