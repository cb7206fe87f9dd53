"""What the Teams handlers are given: the core, the people map, the chat learner and the
Teams settings. The bot (`bot.teams.app`) builds one and hands it to `handlers.register`,
so the handlers never import the app that imports them."""

from __future__ import annotations

from dataclasses import dataclass

from bot.learning.chat import ChatLearner
from bot.runtime import Runtime
from bot.settings import TeamsSettings
from bot.teams.people import People


@dataclass(frozen=True)
class Services:
    """The handlers' view of the bot."""

    runtime: Runtime
    people: People
    learner: ChatLearner
    teams: TeamsSettings
