"""The states of a question and of an ask, and the moves allowed between them.

question:  waiting ──► checking ──► routing ──► answered ──► resolved
              │            │           │
              └─► cancelled └► resolved └─► gave_up ──► resolved
   (waiting, checking, routing) ──► withdrawn

waiting   a channel question's grace period: a human reply in time cancels routing
checking  earlier answered questions were shown; routing waits for "did not help"
routing   asks are out; expiries and passes widen the search
answered  at least one answer was relayed; follow-ups and confirmations flow
resolved  the asker accepted an answer or closed the question
gave_up   nobody could be found; the asker was told what was tried
withdrawn the asker took it back while it was still open (e.g. deleted the message that
          asked it); requests still out were closed

ask:  pending ──► answered | referred | passed | expired | closed
      (a snooze keeps it pending with a later due time; `closed` = the question
      ended some other way)
"""

from __future__ import annotations

from enum import StrEnum


class QuestionState(StrEnum):
    """Where a question is in its life."""

    WAITING = "waiting"
    CHECKING = "checking"
    ROUTING = "routing"
    ANSWERED = "answered"
    RESOLVED = "resolved"
    GAVE_UP = "gave_up"
    CANCELLED = "cancelled"
    WITHDRAWN = "withdrawn"


class AskState(StrEnum):
    """Where one request to one person is."""

    PENDING = "pending"
    ANSWERED = "answered"
    REFERRED = "referred"
    PASSED = "passed"
    EXPIRED = "expired"
    CLOSED = "closed"


Q = QuestionState
QUESTION_MOVES: dict[QuestionState, frozenset[QuestionState]] = {
    Q.WAITING: frozenset({Q.CHECKING, Q.ROUTING, Q.CANCELLED, Q.RESOLVED, Q.WITHDRAWN}),
    Q.CHECKING: frozenset({Q.ROUTING, Q.RESOLVED, Q.CANCELLED, Q.WITHDRAWN}),
    Q.ROUTING: frozenset({Q.ANSWERED, Q.GAVE_UP, Q.RESOLVED, Q.CANCELLED, Q.WITHDRAWN}),
    Q.ANSWERED: frozenset({Q.ANSWERED, Q.RESOLVED}),
    Q.GAVE_UP: frozenset({Q.RESOLVED}),
    Q.RESOLVED: frozenset(),
    Q.CANCELLED: frozenset(),
    Q.WITHDRAWN: frozenset(),
}

# States in which the question still wants answers.
OPEN_STATES = frozenset({Q.WAITING, Q.CHECKING, Q.ROUTING})
# States in which an answer exists and follow-ups, confirmations and acceptance make sense.
ANSWERED_STATES = frozenset({Q.ANSWERED, Q.RESOLVED})


class IllegalMove(Exception):
    """A state change the lifecycle does not allow."""


def check_move(current: str, target: QuestionState) -> None:
    """Raise IllegalMove unless a question may go from `current` to `target`."""
    if target not in QUESTION_MOVES[QuestionState(current)]:
        raise IllegalMove(f"a question cannot go from {current} to {target}")
