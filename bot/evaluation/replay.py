"""Replaying a StackExchange site through the real router, as EVAL.md prescribes.

The replay walks the site's history in time order and feeds it into an ordinary whoknows
store: each post or comment becomes a person (on first sight), a knowledge item and a tie
(owner <-> answerer or commenter). Just before each evaluated question is asked, only what
was written strictly earlier is in the store; the router ranks candidates from that, and
only then does history move on. The store itself is the guard: future data is not hidden
from the router, it does not exist yet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from bot.evaluation.systems import Scorer, top_ranking
from bot.features import FeatureTable, to_epoch
from bot.router import Router
from bot.settings import Settings
from data.importers.stackexchange import SEComment, SEDump, SEPost, evaluable_questions
from data.models import KnowledgeItem, Person, item_text
from data.store import Store
from embeddings.encoder import Encoder


class FutureLeak(AssertionError):
    """Something dated at or after the question reached the store before it was ranked."""


@dataclass
class Moment:
    """The router's view just before one question was asked (EVAL.md: only the past)."""

    question: SEPost
    evaluated: bool  # counts under EVAL.md's rules
    table: FeatureTable
    eligible: np.ndarray
    ids: list[str]  # person ids, indexed like the table's rows
    answers: list[SEPost]  # answers by someone other than the asker (they come later)


@dataclass
class QuestionRanking:
    """What every system ranked for one evaluated question."""

    question: SEPost
    rankings: dict[str, list[str]]  # system name -> person ids, best first
    features: FeatureTable | None = None
    candidate_ids: list[str] = field(default_factory=list)
    eligible: np.ndarray | None = None


def question_text(post: SEPost) -> str:
    """What the router is asked: the title, the tags and the body."""
    return item_text(post.title, post.tags, post.body_text)


def knowledge_of(event: SEPost | SEComment, dump: SEDump) -> KnowledgeItem | None:
    """The knowledge item an event adds to its author, or None if it has no author."""
    if isinstance(event, SEComment):
        if not event.user_id or not event.text.strip():
            return None
        return KnowledgeItem(
            id=f"c{event.id}",
            person_id=event.user_id,
            text=event.text,
            kind="comment",
            source="stackexchange",
            created_at=event.created_at,
        )
    if not event.owner_id or not (event.body_text.strip() or event.title):
        return None
    if event.post_type == "question":
        return KnowledgeItem(
            id=f"p{event.id}",
            person_id=event.owner_id,
            title=event.title,
            text=event.body_text or event.title or "",
            tags=event.tags,
            kind="question",
            source="stackexchange",
            created_at=event.created_at,
        )
    # An answer is about its question: it inherits the (earlier) question's title and tags.
    parent = dump.posts.get(event.parent_id or "")
    return KnowledgeItem(
        id=f"p{event.id}",
        person_id=event.owner_id,
        title=parent.title if parent else None,
        tags=parent.tags if parent else [],
        text=event.body_text or "(empty answer)",
        kind="answer",
        source="stackexchange",
        created_at=event.created_at,
    )


def tie_of(event: SEPost | SEComment, dump: SEDump) -> tuple[str, str, str] | None:
    """The (a, b, kind) tie an event creates: answerer helped asker, commenter talked to
    the post's owner."""
    if isinstance(event, SEComment):
        post = dump.posts.get(event.post_id)
        author, kind = event.user_id, "interacted"
    else:
        if event.post_type != "answer":
            return None
        post = dump.posts.get(event.parent_id or "")
        author, kind = event.owner_id, "helped"
    if post is None or not author or not post.owner_id or author == post.owner_id:
        return None
    return author, post.owner_id, kind


def author_of(event: SEPost | SEComment) -> str | None:
    """Who wrote an event."""
    return event.user_id if isinstance(event, SEComment) else event.owner_id


class Replay:
    """Feeds a dump into a store in time order and ranks each evaluated question."""

    def __init__(
        self,
        dump: SEDump,
        encoder: Encoder,
        settings: Settings,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> None:
        self.dump = dump
        self.encoder = encoder
        self.settings = settings
        self.progress = progress
        self.questions = evaluable_questions(dump)
        self._evaluated = {q.id for q in self.questions}
        # Every question someone other than the asker answered is a training example once
        # its answer exists (the org's own answered history); evaluated ones are ranked.
        self.moments = [
            q
            for q in dump.questions()
            if q.id in self._evaluated or (q.owner_id and self.answers_of(q))
        ]
        self.store = Store(":memory:")
        self._events = dump.events()
        self._items = {e_id: item for e_id, item in self._knowledge_items()}
        self._vectors = self._encode_all()
        self.router = Router(self.store, encoder, settings)
        self._next = 0  # index into self._events of the first event not yet in the store
        self._newest: datetime | None = None  # the latest event written to the store

    def _knowledge_items(self) -> Iterator[tuple[int, KnowledgeItem]]:
        for n, event in enumerate(self._events):
            item = knowledge_of(event, self.dump)
            if item is not None:
                yield n, item

    def _encode_all(self) -> dict[str, np.ndarray]:
        """Embed every item and question text once, up front: an embedding depends only
        on its own text, so this reveals nothing about the future."""
        texts = {item.id: item.embedding_text() for item in self._items.values()}
        for q in self.moments:  # a question's own item usually has its very text
            if texts.get(f"p{q.id}") != question_text(q):
                texts[f"q{q.id}"] = question_text(q)
        keys = list(texts)

        def step(done: int) -> None:
            if self.progress:
                self.progress("embedding", done, len(keys))

        matrix = self.encoder.encode([texts[k] for k in keys], progress=step)
        return dict(zip(keys, matrix, strict=True))

    def advance_to(self, moment: datetime) -> None:
        """Write every event dated strictly before `moment` into the store."""
        people: dict[str, Person] = {}
        items: list[KnowledgeItem] = []
        ties: list[tuple[str, str, str, str]] = []
        while self._next < len(self._events) and self._events[self._next].created < moment:
            event = self._events[self._next]
            author = author_of(event)
            if author and author not in self.router.persons and author not in people:
                user = self.dump.users.get(author)
                people[author] = Person(id=author, name=(user.name if user else "") or author)
            item = self._items.get(self._next)
            if item is not None:
                items.append(item)
            tie = tie_of(event, self.dump)
            if tie is not None:
                ties.append((*tie, event.created_at))
            self._newest = max(self._newest or event.created, event.created)
            self._next += 1
        if not (people or items or ties):
            return
        with self.store.transaction():
            self.store.upsert_people(people.values())
            self.store.upsert_knowledge(items)
            for a, b, kind, at in ties:
                self.store.strengthen_contact(a, b, kind, 1.0, at)
            self.store.save_vectors(
                self.encoder.model_id,
                ((i.id, i.content_hash(), self._vectors[i.id]) for i in items),
            )
        self.router.sync()

    def answers_of(self, question: SEPost) -> list[SEPost]:
        """Answers to `question` by known people other than the asker."""
        return [
            a
            for a in self.dump.answers_of(question.id)
            if a.owner_id and a.owner_id != question.owner_id
        ]

    def walk(self) -> Iterator[Moment]:
        """Every evaluated or answered question in time order, each with the feature table
        of everyone known just before it was asked."""
        for n, question in enumerate(self.moments):
            self.advance_to(question.created)
            if self._newest is not None and self._newest >= question.created:
                raise FutureLeak(f"data from {self._newest} present at {question.created_at}")
            asker = question.owner_id
            vector = self._vectors.get(f"q{question.id}")
            if vector is None:
                vector = self._vectors.get(f"p{question.id}")
            table = self.router.features(
                question_text(question),
                asker,
                now=to_epoch(question.created_at),
                query_vector=vector,
                tags=question.tags,
            )
            yield Moment(
                question,
                question.id in self._evaluated,
                table,
                self.router.eligible(asker),
                list(self.router.people.ids),
                self.answers_of(question),
            )
            if self.progress:
                self.progress("replaying", n + 1, len(self.moments))

    def rank_all(
        self, systems: dict[str, Scorer], keep_features: bool = False, k: int = 100
    ) -> Iterator[QuestionRanking]:
        """Rank every evaluated question with every system, in time order."""
        for moment in self.walk():
            if not moment.evaluated:
                continue
            question, table, eligible, ids = (
                moment.question,
                moment.table,
                moment.eligible,
                moment.ids,
            )
            rankings = {
                name: top_ranking(table, score(table, eligible), ids, k)
                for name, score in systems.items()
            }
            yield QuestionRanking(
                question,
                rankings,
                features=table if keep_features else None,
                candidate_ids=list(ids) if keep_features else [],
                eligible=eligible if keep_features else None,
            )
