from __future__ import annotations

from slack_bolt import App

from bot.slack import ids
from bot.slack.listeners.shortcuts import find_someone


def register(app: App) -> None:
    """Shortcut listeners."""
    app.shortcut(ids.SHORTCUT)(find_someone.on_find_someone)
