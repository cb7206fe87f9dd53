"""`app_uninstalled` and `tokens_revoked`: Slack took the app away from the workspace.

Nothing is deleted (people, questions, answers and the outbox stay); the app is marked
uninstalled in the store, so the deliverer stops sending until Slack accepts the bot token
again (see `bot.slack.deliverer`). A `tokens_revoked` that names only user tokens, not the
bot's, changes nothing: whoknows sends with the bot token alone.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.slack.deliverer import mark_uninstalled
from bot.slack.services import Services, services

log = logging.getLogger(__name__)


def on_app_uninstalled(event: dict[str, Any], body: dict[str, Any], context: Any) -> None:
    """The app was uninstalled from the workspace."""
    svc = services(context)
    svc.jobs.submit("app uninstalled", uninstalled, svc, "app uninstalled", body.get("team_id"))


def on_tokens_revoked(event: dict[str, Any], body: dict[str, Any], context: Any) -> None:
    """Some of the app's tokens were revoked; only the bot's matters."""
    svc = services(context)
    tokens = event.get("tokens") or {}
    bots = tokens.get("bot") or []
    if not bots or (svc.bot_user_id and svc.bot_user_id not in bots):
        log.info("Slack revoked tokens of %s; the bot token is not among them", tokens)
        return
    svc.jobs.submit("tokens revoked", uninstalled, svc, "bot token revoked", body.get("team_id"))


def uninstalled(svc: Services, why: str, team: str | None) -> None:
    """Mark the app uninstalled (the first mark stands until it is installed again)."""
    now = svc.runtime.clock.now()
    if mark_uninstalled(svc.runtime.store, why, now):
        log.warning(
            "Slack: %s (team %s) at %s. Sending stops; every message stays in the outbox "
            "and no data is deleted.",
            why,
            team,
            now.isoformat(),
        )
    else:
        log.info("Slack: %s (team %s); already marked uninstalled", why, team)
