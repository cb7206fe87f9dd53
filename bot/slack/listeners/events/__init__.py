from __future__ import annotations

from slack_bolt import App

from bot.slack.listeners.events import app_home, app_mention, learning, lifecycle_events, messages


def register(app: App) -> None:
    """Events API listeners."""
    app.event("message")(messages.on_message)
    app.event("app_mention")(app_mention.on_mention)
    app.event("app_home_opened")(app_home.on_home_opened)
    app.event("app_uninstalled")(lifecycle_events.on_app_uninstalled)
    app.event("tokens_revoked")(lifecycle_events.on_tokens_revoked)
    app.event("member_joined_channel")(learning.on_member_change)
    app.event("member_left_channel")(learning.on_member_change)
