"""Every Slack listener, registered by surface (events, commands, shortcuts, actions,
views): each package's `register(app)` wires its handlers to the Bolt app."""

from __future__ import annotations

from slack_bolt import App

from bot.slack.listeners import actions, commands, events, shortcuts, views


def register_listeners(app: App) -> None:
    """Attach every whoknows listener to `app`."""
    events.register(app)
    commands.register(app)
    shortcuts.register(app)
    actions.register(app)
    views.register(app)
