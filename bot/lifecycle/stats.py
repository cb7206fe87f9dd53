"""Org-level numbers for admins: how questions fare, platform-neutral."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime

from data.lifecycle_store import LifecycleStore


@dataclass(frozen=True)
class OrgStats:
    """How whoknows is doing over a period."""

    questions: int  # asked in the period
    routed: int  # of which went to people (not cancelled, not answered by earlier answers)
    answered: int  # of the routed, how many got at least one answer
    open: int  # still waiting, being checked or routing
    gave_up: int
    median_minutes_to_first_answer: float | None
    mean_hops_of_answers: float | None  # 1 = answered by someone the router chose
    requests_per_question: float | None  # asks sent per routed question
    dead_letters: int = 0  # messages given up on after every retry (all time; see the CLI)

    @property
    def answer_rate(self) -> float | None:
        """Share of routed questions that got an answer."""
        return self.answered / self.routed if self.routed else None

    def lines(self) -> list[str]:
        """The numbers as short lines of text."""

        def fmt(value: float | None, spec: str) -> str:
            return "–" if value is None else format(value, spec)

        return [
            f"Questions: {self.questions} ({self.routed} routed, {self.open} open)",
            f"Answer rate: {fmt(self.answer_rate, '.0%')} ({self.answered} answered, "
            f"{self.gave_up} given up)",
            f"Median time to first answer: {fmt(self.median_minutes_to_first_answer, '.0f')} min",
            f"Hops per answer: {fmt(self.mean_hops_of_answers, '.1f')}",
            f"Requests per question: {fmt(self.requests_per_question, '.1f')}",
            f"Undelivered messages: {self.dead_letters}"
            + (" (`whoknows outbox dead` lists them)" if self.dead_letters else ""),
        ]


def org_stats(lifecycle: LifecycleStore, since: datetime | None = None) -> OrgStats:
    """Numbers over every question asked since `since` (all time if None)."""
    questions = [q for q in lifecycle.questions() if since is None or q.created_at >= since]
    routed = 0
    answered = open_ = gave_up = 0
    minutes: list[float] = []
    hop_counts: list[int] = []
    request_counts: list[int] = []
    for q in questions:
        asks = lifecycle.asks_of_question(q.id)
        if q.state in ("waiting", "checking", "routing"):
            open_ += 1
        if q.state == "gave_up":
            gave_up += 1
        if not asks:
            continue
        routed += 1
        request_counts.append(len(asks))
        answers = lifecycle.answers_of(q.id)
        if answers:
            answered += 1
            first = answers[0]
            minutes.append((first.created_at - q.created_at).total_seconds() / 60)
            by_ask = {a.id: a for a in asks}
            if first.ask_id in by_ask:
                hop_counts.append(by_ask[first.ask_id].hop)
    return OrgStats(
        questions=len(questions),
        routed=routed,
        answered=answered,
        open=open_,
        gave_up=gave_up,
        median_minutes_to_first_answer=statistics.median(minutes) if minutes else None,
        mean_hops_of_answers=statistics.fmean(hop_counts) if hop_counts else None,
        requests_per_question=statistics.fmean(request_counts) if request_counts else None,
        dead_letters=lifecycle.dead_letter_count(),
    )
