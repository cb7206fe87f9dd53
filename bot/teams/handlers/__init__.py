"""The Teams surfaces, one module each: messages, card buttons, installs, the message
extension. `register` routes activities to them in the SDK's AgentApplication."""

from __future__ import annotations

from typing import TYPE_CHECKING

from microsoft_agents.activity import ActivityTypes
from microsoft_agents.hosting.core import TurnContext

from bot.teams.handlers.actions import CardActionHandler
from bot.teams.handlers.extension import FETCH_TASK, SUBMIT_ACTION, ExtensionHandler
from bot.teams.handlers.installs import InstallHandler
from bot.teams.handlers.messages import MessageHandler

if TYPE_CHECKING:
    from bot.teams.app import TeamsBot

CARD_ACTION = "adaptiveCard/action"


def _is(kind: str, name: str | None = None):
    def selector(context: TurnContext) -> bool:
        activity = context.activity
        return activity.type == kind and (name is None or activity.name == name)

    return selector


def register(bot: TeamsBot) -> None:
    """Route each kind of activity to its handler."""
    app = bot.app
    app.add_route(_is(ActivityTypes.message), MessageHandler(bot))
    app.add_route(_is(ActivityTypes.invoke, CARD_ACTION), CardActionHandler(bot), is_invoke=True)
    extension = ExtensionHandler(bot)
    app.add_route(_is(ActivityTypes.invoke, FETCH_TASK), extension, is_invoke=True)
    app.add_route(_is(ActivityTypes.invoke, SUBMIT_ACTION), extension, is_invoke=True)
    installs = InstallHandler(bot)
    app.add_route(_is(ActivityTypes.conversation_update), installs)
    app.add_route(_is(ActivityTypes.installation_update), installs)
