from __future__ import annotations

from slack_bolt import App

from bot.slack import ids
from bot.slack.listeners.actions import asker, expert, home


def register(app: App) -> None:
    """Block action listeners (buttons in DMs, threads and App Home)."""
    app.action(ids.ANSWER)(expert.on_answer)
    app.action(ids.REFER)(expert.on_refer)
    app.action(ids.PASS)(expert.on_pass)
    app.action(ids.SNOOZE)(expert.on_snooze)
    app.action(ids.RESOLVE)(asker.on_resolve)
    app.action(ids.FOLLOW_UP)(asker.on_follow_up)
    app.action(ids.CONFIRM)(asker.on_confirm)
    app.action(ids.REPLY)(asker.on_reply)
    app.action(ids.SIMILAR_HELPED)(asker.on_similar_helped)
    app.action(ids.SIMILAR_NOT)(asker.on_similar_not)
    app.action(ids.HOME_OPT_OUT)(home.on_opt_out)
    app.action(ids.HOME_OPT_IN)(home.on_opt_in)
    app.action(ids.HOME_SKILLS)(home.on_edit_skills)
    app.action(ids.HOME_LIMITS)(home.on_edit_limits)
    app.action(ids.HOME_CLOSE)(home.on_close_question)
    app.action(ids.ADMIN_CHANNEL)(home.on_admin_channel)
