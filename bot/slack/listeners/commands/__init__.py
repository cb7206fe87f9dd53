from __future__ import annotations

from slack_bolt import App

from bot.slack import ids
from bot.slack.listeners.commands import ask


def register(app: App) -> None:
    """Slash command listeners."""
    app.command(ids.COMMAND)(ask.on_ask)
