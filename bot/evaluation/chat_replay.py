"""Replaying a Slack export through the real router, as EVAL-CHAT.md prescribes.

The replay walks the export's messages in time order and feeds them into an ordinary
whoknows store with the export importer's own rules (`slack_export._build`, applied to
the threads and days that changed): a poster becomes a person at their first message,
each message joins its author's knowledge item for that thread and day, a reply in
someone else's thread is a "helped" tie, people in the same thread are "interacted".
Just before each question is ranked, only messages strictly earlier are in the store, and
their items are embedded with the real model: the store itself is the guard, the future
does not exist yet.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from bot.evaluation.chat_baselines import ChatBaselines
from bot.evaluation.chat_protocol import ChatLine, ChatQuestion, ChatTimeline
from bot.features import FeatureTable
from bot.router import Router
from bot.settings import Settings
from data.importers.slack_export import MAX_THREAD_PEOPLE, _build, _Cleaner, _Message
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
        self._cleaner = _Cleaner(timeline.names, {})
        self._channels: list[tuple[str, str]] = []  # (id, name), as _build indexes them
        self._channel_at: dict[str, int] = {}
        self._threads: dict[tuple[int, str], list[_Message]] = defaultdict(list)
        self._lone: dict[tuple[int, str], list[_Message]] = defaultdict(list)  # by day
        self._item_ids: dict[tuple[str, int, str], set[str]] = {}  # per thread or day
        self._thread_people: dict[tuple[int, str], set[str]] = defaultdict(set)
        self._root_author: dict[tuple[int, str], str] = {}
        self._roots: dict[tuple[int, str], set[tuple[int, str]]] = defaultdict(set)  # by day
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
        changed: set[tuple[str, int, str]] = set()
        ties: list[tuple[str, str, str, str]] = []
        for line in lines:
            message = self._message(line)
            if message.thread is None:
                self._lone[(message.channel, message.day)].append(message)
                changed.add(("day", message.channel, message.day))
            else:
                key = (message.channel, message.thread)
                thread = self._threads[key]
                thread.append(message)
                changed.add(("thread", *key))
                if len(thread) == 2 or message.ts_text == message.thread:
                    # A root is a lone message until its first reply, then a thread.
                    root = next((m for m in thread if m.ts_text == message.thread), None)
                    if root is not None:
                        changed.add(("day", root.channel, root.day))
                        self._roots[(root.channel, root.day)].add(key)
                ties += self._ties(key, line)
            self.baselines.observe(line)
            self.newest = max(self.newest, line.ts)
        self._next = until
        self._rebuild(changed, ties)

    def _message(self, line: ChatLine) -> _Message:
        at = self._channel_at.get(line.channel)
        if at is None:
            at = self._channel_at[line.channel] = len(self._channels)
            self._channels.append((line.channel, line.channel_name))
        day = datetime.fromtimestamp(line.ts, UTC).date().isoformat()
        return _Message(line.ts, line.ts_text, line.user, line.text, line.thread, None, day, at)

    def _ties(self, key: tuple[int, str], line: ChatLine) -> list[tuple[str, str, str, str]]:
        """The ties one thread message adds, as the importer counts them: a first reply in
        someone else's thread helped its author; a newcomer to a thread interacted with
        everyone in it (threads up to MAX_THREAD_PEOPLE people)."""
        at = datetime.fromtimestamp(line.ts, UTC).isoformat(timespec="seconds")
        if not line.is_reply:
            self._root_author.setdefault(key, line.user)
        people = self._thread_people[key]
        if line.user in people:
            return []
        out = []
        root = self._root_author.get(key)
        if line.is_reply and root is not None and root != line.user:
            out.append((line.user, root, "helped", at))
        if len(people) < MAX_THREAD_PEOPLE:
            out += [(line.user, other, "interacted", at) for other in people]
        people.add(line.user)
        return out

    def _rebuild(
        self, changed: set[tuple[str, int, str]], ties: list[tuple[str, str, str, str]]
    ) -> None:
        """Rebuild the items of the threads and days that changed; drop items a rebuild no
        longer makes (a root's day item once the root has replies)."""
        people = {u: u for u in self._people}
        items, gone = [], []
        for key in changed:
            kind, channel, what = key
            if kind == "thread":
                messages = list(self._threads[(channel, what)])
            else:  # lone messages, and roots nobody has replied to yet
                messages = list(self._lone[(channel, what)])
                messages += [
                    t[0]
                    for t in map(self._threads.__getitem__, self._roots[(channel, what)])
                    if len(t) == 1 and t[0].ts_text == t[0].thread
                ]
            built, _, _ = _build(messages, self._channels, people, self._cleaner, None, None)
            if kind == "thread" and len(self._threads[(channel, what)]) == 1:
                built = []  # a root alone is its day's lone message
            ids = {item.id for item in built}
            gone += sorted(self._item_ids.get(key, set()) - ids)
            self._item_ids[key] = ids
            items += built
        with self.store.transaction():
            if gone:
                self.store.delete_knowledge(gone)
            self.store.upsert_knowledge(items)
            for a, b, kind, at in ties:
                self.store.strengthen_contact(a, b, kind, 1.0, at)

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
