"""The Teams surfaces, one module each: messages (and what channels teach), card buttons,
installs, the message extension. `register` routes activities to them in the SDK's
AgentApplication; they get what they need as `Services`, never the app itself."""

from __future__ import annotations

from typing import Any

from microsoft_agents.activity import ActivityTypes
from microsoft_agents.hosting.core import AgentApplication, TurnContext

from bot.teams.handlers.actions import CardActionHandler
from bot.teams.handlers.channels import ChannelChangeHandler, ChannelMessages
from bot.teams.handlers.extension import FETCH_TASK, SUBMIT_ACTION, ExtensionHandler
from bot.teams.handlers.installs import InstallHandler
from bot.teams.handlers.messages import MessageHandler
from bot.teams.handlers.services import Services

CARD_ACTION = "adaptiveCard/action"


def _is(kind: str, name: str | None = None):
    def selector(context: TurnContext) -> bool:
        activity = context.activity
        return activity.type == kind and (name is None or activity.name == name)

    return selector


def register(app: AgentApplication[Any], services: Services) -> None:
    """Route each kind of activity to its handler."""
    channels = ChannelMessages(services)
    app.add_route(_is(ActivityTypes.message), MessageHandler(services, channels))
    changes = ChannelChangeHandler(channels)
    app.add_route(_is(ActivityTypes.message_update), changes)
    app.add_route(_is(ActivityTypes.message_delete), changes)
    actions = CardActionHandler(services)
    app.add_route(_is(ActivityTypes.invoke, CARD_ACTION), actions, is_invoke=True)
    extension = ExtensionHandler(services)
    app.add_route(_is(ActivityTypes.invoke, FETCH_TASK), extension, is_invoke=True)
    app.add_route(_is(ActivityTypes.invoke, SUBMIT_ACTION), extension, is_invoke=True)
    installs = InstallHandler(services)
    app.add_route(_is(ActivityTypes.conversation_update), installs)
    app.add_route(_is(ActivityTypes.installation_update), installs)
