from __future__ import annotations

from slack_bolt import App

from bot.slack import ids
from bot.slack.listeners.views import answer, ask, conversation, settings


def register(app: App) -> None:
    """Modal submission listeners."""
    app.view(ids.VIEW_ANSWER)(answer.on_answer_submitted)
    app.view(ids.VIEW_REFER)(answer.on_refer_submitted)
    app.view(ids.VIEW_ASK)(ask.on_ask_submitted)
    app.view(ids.VIEW_FOLLOW_UP)(conversation.on_follow_up_submitted)
    app.view(ids.VIEW_REPLY)(conversation.on_reply_submitted)
    app.view(ids.VIEW_SKILLS)(settings.on_skills_submitted)
    app.view(ids.VIEW_LIMITS)(settings.on_limits_submitted)
    app.view(ids.VIEW_CHANNEL)(settings.on_channel_submitted)
