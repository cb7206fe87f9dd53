"""What the core asks a chat platform to do, in platform-neutral terms.

The flow writes intents to the outbox in the same transaction as the state change that
causes them; an adapter (Slack, Teams, the console) renders and delivers each one. Names
are resolved by the core, so adapters need no directory look-ups to render them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar


@dataclass(frozen=True)
class Intent:
    """Base of every intent. `recipient` is the person id it goes to (None: a place)."""

    kind: ClassVar[str] = "intent"
    question_id: int

    @property
    def recipient(self) -> str | None:
        """The person this intent is delivered to, if it goes to one person."""
        return None

    def payload(self) -> dict[str, Any]:
        """The intent as JSON-able data."""
        return asdict(self)


@dataclass(frozen=True)
class AskExpert(Intent):
    """Ask one person, privately, to help with a question."""

    kind: ClassVar[str] = "ask_expert"
    ask_id: int
    expert_id: str
    expert_name: str
    asker_id: str
    asker_name: str
    question: str
    reason: str  # why them ("wrote 'Helm rollback runbook'")
    connection: str  # how they are connected to the asker
    via_id: str | None = None  # who referred them
    via_name: str | None = None
    note: str = ""  # the referrer's note
    hop: int = 1

    @property
    def recipient(self) -> str:
        return self.expert_id


@dataclass(frozen=True)
class AskClosed(Intent):
    """Update a request in place: it is done, and how ("You answered", "Expired")."""

    kind: ClassVar[str] = "ask_closed"
    ask_id: int
    expert_id: str
    outcome: str  # answered | referred | passed | expired | snoozed | closed
    detail: str  # a sentence for the expert

    @property
    def recipient(self) -> str:
        return self.expert_id


@dataclass(frozen=True)
class AnswerPosted(Intent):
    """Relay an answer to where the question was asked, attributed, with the chain."""

    kind: ClassVar[str] = "answer_posted"
    answer_id: int
    asker_id: str
    answerer_id: str
    answerer_name: str
    text: str
    chain: list[str] = field(default_factory=list)  # names from the first person asked on
    place: dict[str, Any] = field(default_factory=dict)
    private: bool = False

    @property
    def recipient(self) -> str:
        return self.asker_id


@dataclass(frozen=True)
class FollowUpAsked(Intent):
    """The asker's follow-up question, to the person who answered."""

    kind: ClassVar[str] = "follow_up"
    answerer_id: str
    asker_id: str
    asker_name: str
    question: str
    text: str

    @property
    def recipient(self) -> str:
        return self.answerer_id


@dataclass(frozen=True)
class FollowUpAnswered(Intent):
    """The answerer's reply to a follow-up, back to where the question was asked."""

    kind: ClassVar[str] = "follow_up_reply"
    asker_id: str
    answerer_id: str
    answerer_name: str
    text: str
    place: dict[str, Any] = field(default_factory=dict)
    private: bool = False

    @property
    def recipient(self) -> str:
        return self.asker_id


@dataclass(frozen=True)
class AnswerConfirmed(Intent):
    """Someone in the chain vouches for an answer ("Dana Ng confirmed")."""

    kind: ClassVar[str] = "answer_confirmed"
    answer_id: int
    asker_id: str
    confirmer_id: str
    confirmer_name: str
    answerer_name: str
    place: dict[str, Any] = field(default_factory=dict)
    private: bool = False

    @property
    def recipient(self) -> str:
        return self.asker_id


@dataclass(frozen=True)
class SimilarFound(Intent):
    """Earlier answered questions that may already answer this one; the asker says whether
    they helped before anyone is asked."""

    kind: ClassVar[str] = "similar_found"
    asker_id: str
    matches: list[dict[str, Any]] = field(default_factory=list)  # question, answer, by, score
    place: dict[str, Any] = field(default_factory=dict)
    private: bool = False

    @property
    def recipient(self) -> str:
        return self.asker_id


@dataclass(frozen=True)
class StatusUpdate(Intent):
    """Tell the asker how their question is going ("I've asked Dana and Eve")."""

    kind: ClassVar[str] = "status"
    asker_id: str
    text: str
    final: bool = False  # True when the question is over (resolved or given up)
    place: dict[str, Any] = field(default_factory=dict)
    private: bool = False

    @property
    def recipient(self) -> str:
        return self.asker_id


@dataclass(frozen=True)
class Notice(Intent):
    """A short private message to one person (a refused referral, a snooze confirmed)."""

    kind: ClassVar[str] = "notice"
    person_id: str
    text: str

    @property
    def recipient(self) -> str:
        return self.person_id


INTENT_TYPES: dict[str, type[Intent]] = {
    cls.kind: cls
    for cls in (
        AskExpert,
        AskClosed,
        AnswerPosted,
        FollowUpAsked,
        FollowUpAnswered,
        AnswerConfirmed,
        SimilarFound,
        StatusUpdate,
        Notice,
    )
}


def intent_from(kind: str, payload: dict[str, Any]) -> Intent:
    """Rebuild an intent from its kind and payload (as stored in the outbox)."""
    cls = INTENT_TYPES[kind]
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in payload.items() if k in names})
