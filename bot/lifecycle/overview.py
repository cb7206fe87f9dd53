"""What a person's own overview shows, whatever the platform: their questions still going,
the requests waiting for them, and the org's default limits in words.

Slack's App Home and Teams' settings card render this same data (`PersonOverview`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.lifecycle.accounts import Accounts
from bot.lifecycle.flow import Flow
from bot.lifecycle.states import OPEN_STATES, QuestionState
from bot.settings import LifecycleSettings

# Questions worth showing their asker: still looking for an answer, or answered but open.
GOING_STATES = OPEN_STATES | {QuestionState.ANSWERED}


@dataclass(frozen=True)
class OpenQuestion:
    """One of my questions still going."""

    id: int
    text: str
    state: str


@dataclass(frozen=True)
class WaitingRequest:
    """A request waiting for me."""

    ask_id: int
    asker_name: str
    question: str
    via_name: str | None = None


def open_questions(flow: Flow, person_id: str) -> list[OpenQuestion]:
    """A person's questions still going, newest first."""
    return [OpenQuestion(q.id, q.text, q.state) for q in flow.questions_of(person_id)
            if q.state in GOING_STATES]  # fmt: skip


def waiting_requests(flow: Flow, person_id: str) -> list[WaitingRequest]:
    """The requests delivered to a person and not yet answered, oldest first."""
    found = []
    for ask, q in flow.requests_for(person_id):
        via = flow.store.get_person(ask.via_id) if ask.via_id else None
        asker = flow.store.get_person(q.asker_id)
        found.append(WaitingRequest(ask.id, asker.name if asker else q.asker_id, q.text,
                                    via.name if via else None))  # fmt: skip
    return found


def org_defaults(limits: LifecycleSettings) -> str:
    """The org's default limits as a sentence."""
    return (
        f"Org defaults: at most {limits.daily_ask_cap} requests a day, quiet from "
        f"{limits.quiet_start_hour:02d}:00 to {limits.quiet_end_hour:02d}:00 your time"
        + (", and at weekends." if limits.quiet_weekends else ".")
    )


@dataclass(frozen=True)
class PersonOverview:
    """Everything a person's own overview shows. The editable values (skills, opted out,
    limits) are what is saved, or, after a refused save, what they typed."""

    person_id: str
    name: str
    opted_out: bool
    skills: list[str]
    topics: list[str]
    answers_given: int
    asks_last_day: int
    max_asks_per_day: int | None
    quiet_start: int | None
    quiet_end: int | None
    defaults: str  # the org defaults, in words
    questions: list[OpenQuestion] = field(default_factory=list)
    requests: list[WaitingRequest] = field(default_factory=list)


def person_overview(flow: Flow, accounts: Accounts, person_id: str) -> PersonOverview:
    """A person's overview (KeyError if not in the directory). Call inside a transaction
    for one consistent snapshot."""
    profile = accounts.profile(person_id)
    prefs = profile.preferences
    return PersonOverview(
        person_id=person_id,
        name=profile.person.name,
        opted_out=profile.person.opted_out,
        skills=profile.skills,
        topics=profile.topics,
        answers_given=profile.answers_given,
        asks_last_day=profile.asks_last_day,
        max_asks_per_day=prefs.max_asks_per_day,
        quiet_start=prefs.quiet_start,
        quiet_end=prefs.quiet_end,
        defaults=org_defaults(flow.limits),
        questions=open_questions(flow, person_id),
        requests=waiting_requests(flow, person_id),
    )
