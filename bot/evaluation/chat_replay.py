"""Replaying a Slack export through the real router, as EVAL-CHAT.md prescribes.

The replay walks the export's messages in time order and feeds them into an ordinary
whoknows store through the live chat learner (`bot.learning.chat`, the rules of
`data.chat_items`), as the running bot learns from channel messages: a poster becomes a
person at their first message, each message joins its author's knowledge item for that
thread and day, a reply in someone else's thread is a "helped" tie, people in the same
thread are "interacted".
Just before each question is ranked, only messages strictly earlier are in the store, and
their items are embedded with the real model: the store itself is the guard, the future
does not exist yet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from bot.evaluation.chat_baselines import ChatBaselines
from bot.evaluation.chat_protocol import ChatLine, ChatQuestion, ChatTimeline
from bot.features import FeatureTable
from bot.learning.chat import ChatLearner, Said
from bot.router import Router
from bot.settings import Settings
from data.chat_items import slack_links
from data.models import Person
from data.store import Store
from embeddings.encoder import Encoder
from embeddings.indexer import index_pending

PLATFORM = "slack"


class FutureLeak(AssertionError):
    """A message dated at or after the question reached the router before it ranked."""


@dataclass
class ChatMoment:
    """The router's view just before one question was asked (only the past)."""

    question: ChatQuestion
    evaluable: bool  # counts under EVAL-CHAT.md's rules
    table: FeatureTable
    eligible: np.ndarray
    ids: list[str]  # person ids, indexed like the table's rows
    baselines: dict[str, list[str]]  # each baseline's ranking, same moment


class ChatReplay:
    """Feeds a timeline into a store in time order and ranks each question."""

    def __init__(
        self,
        timeline: ChatTimeline,
        encoder: Encoder,
        settings: Settings,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> None:
        self.timeline = timeline
        self.encoder = encoder
        self.progress = progress
        self.store = Store(":memory:")
        # The live learner, exactly as the running bot learns from channel messages.
        self.learner = ChatLearner(self.store, PLATFORM, slack_links(None, None))
        self._seen: set[str] = set()  # channels told to the learner
        self.router = Router(self.store, encoder, settings)
        self.baselines = ChatBaselines()
        self._evaluable = {q.id for q in timeline.evaluable}
        self._people: set[str] = set()
        self._next = 0  # index of the first line not yet fed
        self.newest = -np.inf  # the latest message time fed to the store

    def _feed(self, until: int) -> None:
        """Feed every line before index `until` into the store and the baselines."""
        lines = self.timeline.lines[self._next : until]
        if not lines:
            return
        self._add_people(lines)
        new = [
            (c, n) for c, n in {(x.channel, x.channel_name) for x in lines} if c not in self._seen
        ]
        for channel, name in sorted(new):
            self.learner.see_channel(channel, name, private=False)
            self._seen.add(channel)
        self.learner.learn(
            Said(x.channel, x.ts_text, x.ts, x.user, x.text, x.thread) for x in lines
        )
        for line in lines:
            self.baselines.observe(line)
            self.newest = max(self.newest, line.ts)
        self._next = until

    def _add_people(self, lines: list[ChatLine]) -> None:
        # A person is known from their first message on, never from users.json.
        new = [line.user for line in lines if line.user not in self._people]
        if new:
            names = self.timeline.names
            people = [Person(id=u, name=names.get(u) or u, slack_id=u) for u in dict.fromkeys(new)]
            self.store.upsert_people(people)
            self._people.update(new)

    def walk(self) -> Iterator[ChatMoment]:
        """Every question in time order (evaluable ones and the rest, which the router
        may learn from once their replies exist), each with everyone's features."""
        questions = self.timeline.questions
        for n, question in enumerate(questions):
            self._feed(question.index)
            if self.newest >= question.root.ts:
                raise FutureLeak(f"a message of {self.newest} present at {question.id}")
            index_pending(self.store, self.encoder)
            self.router.sync()
            asker = question.asker
            table = self.router.features(question.root.text, asker, now=question.root.ts)
            yield ChatMoment(
                question,
                question.id in self._evaluable,
                table,
                self.router.eligible(asker),
                list(self.router.people.ids),
                self.baselines.rankings(question),
            )
            if self.progress:
                self.progress("replaying", n + 1, len(questions))
