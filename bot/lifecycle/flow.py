"""The question lifecycle: every input a person can give, and what it changes.

Each public method is one input (a question, an answer, a referral, a timer...). It runs in
one transaction: it checks the input, moves the question and its asks between the states
of `states.py`, and queues intents (messages for people) in the outbox. An input that
carries a platform event id is handled once, however often the platform repeats it.
Nothing here knows which chat platform is in use.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from bot.lifecycle.chat_answers import chat_thread_matches
from bot.lifecycle.clock import Clock
from bot.lifecycle.intents import (
    AnswerConfirmed,
    AnswerPosted,
    AskClosed,
    AskExpert,
    FollowUpAnswered,
    FollowUpAsked,
    Intent,
    Notice,
    SimilarFound,
    StatusUpdate,
)
from bot.lifecycle.learning import Learning, answer_id_of
from bot.lifecycle.policy import AskPolicy
from bot.lifecycle.prepared import PreparedRouting
from bot.lifecycle.states import (
    ANSWERED_STATES,
    OPEN_STATES,
    AskState,
    QuestionState,
    check_move,
)
from bot.router import Router
from bot.settings import Settings
from data.lifecycle_store import AnswerRow, AskRow, LifecycleStore, QuestionRow
from data.models import Person
from data.store import Store
from graph.relations import relation_to

ORIGINS = ("channel", "ask", "mention", "dm", "shortcut", "console")
MAX_TEXT = 4000


class FlowError(ValueError):
    """An input the lifecycle cannot take (unknown ask, not yours, empty answer...).
    The message is meant for the person who gave the input."""


@dataclass(frozen=True)
class Outcome:
    """What happened to an input: a sentence for the person who gave it, and ids."""

    ok: bool
    message: str
    question_id: int | None = None
    ask_id: int | None = None
    answer_id: int | None = None
    duplicate: bool = False


DUPLICATE = Outcome(True, "already handled", duplicate=True)


class Flow:
    """The question lifecycle over one store."""

    def __init__(self, store: Store, router: Router, settings: Settings, clock: Clock) -> None:
        self.store = store
        self.router = router
        self.settings = settings
        self.limits = settings.lifecycle
        self.clock = clock
        self.lc = LifecycleStore(store)
        self.policy = AskPolicy(self.limits, self.lc, router.encoder)
        self.learning = Learning(store, self.lc)
        # Rankings computed before the write transaction that uses them (see prepared.py).
        self.prepared = PreparedRouting(router, self.limits.candidate_pool)

    # =================================================================== intake

    def ask(
        self,
        asker_id: str,
        text: str,
        origin: str = "ask",
        place: dict[str, Any] | None = None,
        private: bool = False,
        event_id: str | None = None,
        wait_minutes: float | None = None,
    ) -> Outcome:
        """A new question. A channel question first waits for a human reply (for
        `wait_minutes`, default: the settings); any other is checked against earlier
        answers and routed at once."""
        text = _clean(text, "question")
        if origin not in ORIGINS:
            raise FlowError(f"unknown origin {origin!r}")
        asker = self._person(asker_id)
        wait = self.limits.channel_wait_minutes if wait_minutes is None else wait_minutes
        waiting = origin == "channel" and wait > 0
        if not waiting and (event_id is None or not self.lc.seen(event_id)):
            self.prepared.prepare(text, asker.id, self.clock.now().timestamp())
        with self._input(event_id) as fresh:
            if not fresh:
                return DUPLICATE
            now = self.clock.now()
            due = now + timedelta(minutes=wait) if waiting else None
            # Every question starts out waiting; only a channel question waits for a while.
            qid = self.lc.add_question(
                asker.id, text, origin, place or {}, private, QuestionState.WAITING, now, due
            )
            if waiting:
                return Outcome(True, "I'll wait for a colleague to answer first.", qid)
            return self._begin(self._question(qid), now)

    def human_replied(
        self, question_id: int, replier_id: str, event_id: str | None = None
    ) -> Outcome:
        """Someone replied to a waiting channel question: no routing is needed."""
        with self._input(event_id) as fresh:
            if not fresh:
                return DUPLICATE
            q = self._question(question_id)
            if q.state != QuestionState.WAITING or replier_id == q.asker_id:
                return Outcome(False, "nothing to cancel", q.id)
            self._move(q, QuestionState.CANCELLED, self.clock.now(), outcome="a colleague replied")
            return Outcome(True, "a colleague replied in time; not routing", q.id)

    def similar_result(
        self, question_id: int, asker_id: str, helped: bool, event_id: str | None = None
    ) -> Outcome:
        """The asker says whether the earlier answers shown to them helped."""
        with self._input(event_id) as fresh:
            if not fresh:
                return DUPLICATE
            q = self._question(question_id)
            self._require_asker(q, asker_id)
            if q.state != QuestionState.CHECKING:
                return Outcome(False, "This question is past that step.", q.id)
            now = self.clock.now()
            if helped:
                self._move(q, QuestionState.RESOLVED, now, outcome="an earlier answer helped")
                return Outcome(True, "Glad an earlier answer helped.", q.id)
            return self._route(q, now)

    def withdraw(self, question_id: int, asker_id: str, event_id: str | None = None) -> Outcome:
        """The asker takes their question back while it is still open (e.g. they deleted
        the message that asked it): it is withdrawn, its pending requests are closed, and
        whoever already got one sees it updated in place (a request that never went out
        is simply not sent). A question already answered or over is left as it is."""
        with self._input(event_id) as fresh:
            if not fresh:
                return DUPLICATE
            q = self._question(question_id)
            self._require_asker(q, asker_id)
            if q.state not in OPEN_STATES:
                return Outcome(False, "This question is already over; nothing to withdraw.", q.id)
            now = self.clock.now()
            self._close_pending(
                q,
                now,
                f"{self._name(asker_id)} withdrew this question, so nothing more is needed. "
                "Thanks anyway!",
                outcome="withdrawn",
            )
            self._move(q, QuestionState.WITHDRAWN, now, outcome="withdrawn by the asker")
            return Outcome(True, "Your question was withdrawn.", q.id)

    def edit_question(
        self, question_id: int, asker_id: str, text: str, event_id: str | None = None
    ) -> Outcome:
        """The asker changed the text of a question that is still open (e.g. edited the
        message that asked it). The new text is what is routed from now on: a waiting or
        checking question just takes it; a question being routed keeps its requests, and
        each person who already got one is sent the new wording (a request that has not
        gone out yet goes out as it is stored; adapters render it with the question's
        current text). An answered or closed question keeps the text it was answered as."""
        text = _clean(text, "question")
        with self._input(event_id) as fresh:
            if not fresh:
                return DUPLICATE
            q = self._question(question_id)
            self._require_asker(q, asker_id)
            if q.state not in OPEN_STATES:
                return Outcome(False, "This question is already answered or closed.", q.id)
            if text == q.text:
                return Outcome(True, "The question is unchanged.", q.id)
            now = self.clock.now()
            self.lc.set_question_text(q.id, text, now)
            told = []
            for ask in self.lc.asks_of_question(q.id):
                if ask.state == AskState.PENDING and self.lc.was_delivered(AskExpert.kind, ask.id):
                    self._send(
                        Notice(
                            q.id,
                            ask.person_id,
                            f"{self._name(asker_id)} edited the question they asked you. "
                            f"It now reads: “{text}”",
                        ),
                        now,
                    )
                    told.append(ask.person_id)
            if told:
                names = _join([self._name(p) for p in told])
                return Outcome(True, f"Updated; I've told {names}.", q.id)
            return Outcome(True, "Updated.", q.id)

    # ================================================================== routing

    def _begin(self, q: QuestionRow, now: datetime) -> Outcome:
        matches = self._similar_answers(q)
        if matches:
            self._move(q, QuestionState.CHECKING, now)
            self._send(SimilarFound(q.id, q.asker_id, matches, q.place, q.private), now)
            return Outcome(True, "Some earlier answers may help; tell me if they don't.", q.id)
        return self._route(q, now)

    def _route(self, q: QuestionRow, now: datetime) -> Outcome:
        if q.state != QuestionState.ROUTING:
            self._move(q, QuestionState.ROUTING, now)
        asked = self._ask_more(self._question(q.id), self.limits.first_wave, now)
        if not asked:
            return self._give_up(self._question(q.id), now)
        names = _join([self._name(a.person_id) for a in asked])
        self._send(
            StatusUpdate(
                q.id,
                q.asker_id,
                f"I've asked {names}. Answers will come here.",
                place=q.place,
                private=q.private,
            ),
            now,
        )
        return Outcome(True, f"Asked {names}.", q.id)

    def _ask_more(self, q: QuestionRow, wanted: int, now: datetime) -> list[AskRow]:
        """Ask up to `wanted` more people for `q`, chosen by the router and the policy."""
        asks = self.lc.asks_of_question(q.id)
        room = self.limits.max_asks_per_question - len(asks)
        wanted = min(wanted, room)
        if wanted <= 0:
            return []
        in_chain = {a.person_id for a in asks} | {a.via_id for a in asks if a.via_id}
        # A ranking prepared before this transaction opened fits only a first wave.
        prepared = None if in_chain else self.prepared.take(q.text, q.asker_id)
        if prepared is not None:
            qvec, ranked = prepared.vector, prepared.ranked
        else:
            self.router.sync()
            qvec = self.router.encoder.encode_one(q.text)
            ranked = self.router.rank(
                q.text,
                q.asker_id,
                limit=self.limits.candidate_pool,
                exclude=in_chain,
                now=now.timestamp(),
                query_vector=qvec,
            )
        radius = self.limits.start_radius + q.widenings
        chosen = self.policy.order(ranked, qvec, radius, now)[:wanted]
        created = []
        for candidate, availability in chosen:
            created.append(
                self._create_ask(
                    q,
                    candidate.person,
                    via=None,
                    hop=1,
                    reason="; ".join(candidate.reasons[:1]),
                    connection=candidate.connection,
                    note="",
                    now=now,
                    send_after=availability.send_after or now,
                )
            )
        return created

    def _create_ask(
        self,
        q: QuestionRow,
        person: Person,
        via: Person | None,
        hop: int,
        reason: str,
        connection: str,
        note: str,
        now: datetime,
        send_after: datetime,
    ) -> AskRow:
        due = max(now, send_after) + timedelta(minutes=self.limits.ask_timeout_minutes)
        ask_id = self.lc.add_ask(
            q.id,
            person.id,
            via.id if via else None,
            hop,
            reason,
            connection,
            note,
            now,
            send_after,
            due,
        )
        asker = self._person(q.asker_id)
        self._send(
            AskExpert(
                q.id,
                ask_id,
                person.id,
                person.name,
                asker.id,
                asker.name,
                q.text,
                reason,
                connection,
                via.id if via else None,
                via.name if via else None,
                note,
                hop,
            ),
            now,
            send_after=send_after,
        )
        ask = self.lc.ask(ask_id)
        assert ask is not None
        return ask

    def _widen(self, q: QuestionRow, now: datetime) -> list[AskRow]:
        """After an ask ended without an answer: keep a full wave out, one hop further.
        Returns the asks it created (none if a full wave is still out, or nobody is left)."""
        if q.state != QuestionState.ROUTING:
            return []
        pending = [a for a in self.lc.asks_of_question(q.id) if a.state == AskState.PENDING]
        missing = self.limits.first_wave - len(pending)
        if missing <= 0:
            return []
        self.lc.widen(q.id)
        asked = self._ask_more(self._question(q.id), missing, now)
        if not asked and not pending:
            self._give_up(self._question(q.id), now)
        return asked

    def _give_up(self, q: QuestionRow, now: datetime) -> Outcome:
        """Nobody (more) can be asked: tell the asker honestly what was tried."""
        tried = self._what_was_tried(q)
        text = ("I couldn't find anyone to answer this. " + tried).strip()
        self._move(q, QuestionState.GAVE_UP, now, outcome="nobody found")
        self._send(
            StatusUpdate(q.id, q.asker_id, text, final=True, place=q.place, private=q.private), now
        )
        return Outcome(False, text, q.id)

    def _what_was_tried(self, q: QuestionRow) -> str:
        asks = self.lc.asks_of_question(q.id)
        if not asks:
            return (
                "Nobody in the directory can be asked about it right now (everyone "
                "suitable is opted out or has had enough requests today)."
            )
        words = {
            AskState.EXPIRED: "did not reply in time",
            AskState.PASSED: "passed",
            AskState.REFERRED: "referred it on",
            AskState.CLOSED: "was not needed",
        }
        parts = [f"{self._name(a.person_id)} {words.get(AskState(a.state), a.state)}" for a in asks]
        return (
            f"I asked {len(asks)} {'person' if len(asks) == 1 else 'people'}: "
            + "; ".join(parts)
            + ". Try rephrasing, or ask in a team channel."
        )

    # =========================================================== expert replies

    def answer(
        self, ask_id: int, person_id: str, text: str, event_id: str | None = None
    ) -> Outcome:
        """The person asked answers. The answer goes to the asker, with the chain."""
        text = _clean(text, "answer")
        with self._input(event_id) as fresh:
            if not fresh:
                return DUPLICATE
            ask, q = self._open_ask(ask_id, person_id)
            now = self.clock.now()
            answer_id = self.lc.add_answer(q.id, ask.id, person_id, text, now)
            self.lc.close_ask(ask.id, AskState.ANSWERED, now)
            asker = self._person(q.asker_id)
            self._send(
                AskClosed(
                    q.id,
                    ask.id,
                    person_id,
                    "answered",
                    f"Thanks! Your answer was sent to {asker.name}.",
                ),
                now,
            )
            self._close_pending(q, now, f"{self._name(person_id)} answered this one. Thanks!")
            self._move(q, QuestionState.ANSWERED, now)
            self._send(
                AnswerPosted(
                    q.id,
                    answer_id,
                    q.asker_id,
                    person_id,
                    self._name(person_id),
                    text,
                    self._chain_names(q.id, ask),
                    q.place,
                    q.private,
                ),
                now,
            )
            self.learning.answered(q, ask, now)
            return Outcome(True, f"Sent to {asker.name}.", q.id, ask.id, answer_id)

    def refer(
        self, ask_id: int, person_id: str, referee: str, note: str = "", event_id: str | None = None
    ) -> Outcome:
        """The person asked names a colleague; the question goes one hop further."""
        with self._input(event_id) as fresh:
            if not fresh:
                return DUPLICATE
            ask, q = self._open_ask(ask_id, person_id)
            now = self.clock.now()
            target = self.store.find_person(referee)
            refusal = self._referral_refusal(q, ask, target, now)
            if refusal:  # said to the referrer at once by the adapter; nothing changes
                return Outcome(False, refusal, q.id, ask.id)
            assert target is not None
            me = self._person(person_id)
            self.lc.close_ask(ask.id, AskState.REFERRED, now)
            availability = self.policy.availability(target, now)
            asker = self._person(q.asker_id)
            ties = self.router.graph.ties(asker.id, target.id)
            connection = (
                f"you know {asker.name} ({relation_to(target.id, ties[0])})"
                if ties
                else f"through {me.name}"
            )
            self._create_ask(
                q,
                target,
                via=me,
                hop=ask.hop + 1,
                reason=f"referred by {me.name}",
                connection=connection,
                note=note.strip()[:MAX_TEXT],
                now=now,
                send_after=availability.send_after or now,
            )
            self._send(
                AskClosed(
                    q.id, ask.id, person_id, "referred", f"Thanks! I've asked {target.name}."
                ),
                now,
            )
            return Outcome(True, f"Thanks, I've asked {target.name}.", q.id, ask.id)

    def _referral_refusal(
        self, q: QuestionRow, ask: AskRow, target: Person | None, now: datetime
    ) -> str | None:
        if target is None:
            return "I can't find that person in the directory. Could you name someone else?"
        asks = self.lc.asks_of_question(q.id)
        if target.id == q.asker_id:
            return f"{target.name} is the one asking. Could you suggest someone else?"
        if target.id in {a.person_id for a in asks} | {a.via_id for a in asks}:
            return (
                f"{target.name} is already part of this question's chain, so I won't ask "
                "them again. Could you suggest someone else, or pass?"
            )
        if ask.hop + 1 > self.limits.max_hops:
            return (
                f"This question has already travelled {ask.hop} hops, the most I allow. "
                "Could you answer or pass?"
            )
        if len(asks) >= self.limits.max_asks_per_question:
            return "Enough people have been asked about this question already. Could you pass?"
        availability = self.policy.availability(target, now)
        if not availability.allowed:
            return f"{availability.why_not}. Could you suggest someone else?"
        return None

    def pass_(self, ask_id: int, person_id: str, event_id: str | None = None) -> Outcome:
        """The person asked does not know; the next candidate is asked."""
        with self._input(event_id) as fresh:
            if not fresh:
                return DUPLICATE
            ask, q = self._open_ask(ask_id, person_id)
            now = self.clock.now()
            self.lc.close_ask(ask.id, AskState.PASSED, now)
            self.lc.add_decline(q.id, person_id, "passed", now)
            asked = self._widen(self._question(q.id), now)
            # Only say someone else is asked when a new request was made just now.
            detail = (
                "No problem, I'll ask someone else."
                if asked
                else "No problem, thanks for letting me know."
            )
            self._send(AskClosed(q.id, ask.id, person_id, "passed", detail), now)
            return Outcome(True, detail, q.id, ask.id)

    def snooze(self, ask_id: int, person_id: str, event_id: str | None = None) -> Outcome:
        """The person asked wants more time; they are reminded when the snooze ends."""
        with self._input(event_id) as fresh:
            if not fresh:
                return DUPLICATE
            ask, q = self._open_ask(ask_id, person_id)
            if ask.snoozes >= self.limits.max_snoozes:
                return Outcome(
                    False,
                    "This request can't be snoozed again. Could you answer, refer someone or pass?",
                    q.id,
                    ask.id,
                )
            now = self.clock.now()
            wake = now + timedelta(minutes=self.limits.snooze_minutes)
            self.lc.snooze_ask(ask.id, wake + timedelta(minutes=self.limits.ask_timeout_minutes))
            until = _clock_time(wake, self.policy.zone(self._person(person_id)))
            self._send(
                AskClosed(
                    q.id, ask.id, person_id, "snoozed", f"Snoozed: I'll remind you at {until}."
                ),
                now,
            )
            self._send(
                Notice(
                    q.id,
                    person_id,
                    f"Reminder: {self._name(q.asker_id)}'s question "
                    f"is still waiting for you: “{q.text}”",
                ),
                now,
                send_after=wake,
            )
            return Outcome(True, f"Snoozed until {until}.", q.id, ask.id)

    # ============================================================ after an answer

    def follow_up(
        self, question_id: int, asker_id: str, text: str, event_id: str | None = None
    ) -> Outcome:
        """The asker asks the person who answered something more."""
        text = _clean(text, "follow-up")
        with self._input(event_id) as fresh:
            if not fresh:
                return DUPLICATE
            q = self._question(question_id)
            self._require_asker(q, asker_id)
            answer = self._latest_answer(q)
            now = self.clock.now()
            self.lc.add_message(q.id, asker_id, answer.person_id, "followup", text, now)
            self._send(
                FollowUpAsked(q.id, answer.person_id, asker_id, self._name(asker_id), q.text, text),
                now,
            )
            return Outcome(True, f"Sent to {self._name(answer.person_id)}.", q.id)

    def reply(
        self, question_id: int, person_id: str, text: str, event_id: str | None = None
    ) -> Outcome:
        """An answerer replies to a follow-up; the reply goes back to the asker's thread."""
        text = _clean(text, "reply")
        with self._input(event_id) as fresh:
            if not fresh:
                return DUPLICATE
            q = self._question(question_id)
            if person_id not in {a.person_id for a in self.lc.answers_of(q.id)}:
                raise FlowError("Only someone who answered this question can reply to it.")
            now = self.clock.now()
            self.lc.add_message(q.id, person_id, q.asker_id, "reply", text, now)
            self._send(
                FollowUpAnswered(
                    q.id, q.asker_id, person_id, self._name(person_id), text, q.place, q.private
                ),
                now,
            )
            return Outcome(True, f"Sent to {self._name(q.asker_id)}.", q.id)

    def accept(self, answer_id: int, asker_id: str, event_id: str | None = None) -> Outcome:
        """The asker accepts an answer: the question is resolved and the bot learns."""
        with self._input(event_id) as fresh:
            if not fresh:
                return DUPLICATE
            answer = self._answer(answer_id)
            q = self._question(answer.question_id)
            self._require_asker(q, asker_id)
            now = self.clock.now()
            self.lc.accept_answer(answer.id)
            self.learning.vouched(q, answer, now)
            if q.state != QuestionState.RESOLVED:
                self._resolve(
                    q,
                    now,
                    f"{self._name(asker_id)} accepted {self._name(answer.person_id)}'s answer.",
                )
            return Outcome(True, "Marked as the answer. Thanks!", q.id, answer_id=answer.id)

    def resolve(self, question_id: int, asker_id: str, event_id: str | None = None) -> Outcome:
        """The asker closes the question (answered or not)."""
        with self._input(event_id) as fresh:
            if not fresh:
                return DUPLICATE
            q = self._question(question_id)
            self._require_asker(q, asker_id)
            if q.state in (
                QuestionState.RESOLVED,
                QuestionState.CANCELLED,
                QuestionState.WITHDRAWN,
            ):
                return Outcome(True, "This question is already closed.", q.id)
            self._resolve(q, self.clock.now(), f"{self._name(asker_id)} marked it resolved.")
            return Outcome(True, "Marked as resolved. Thanks!", q.id)

    def _resolve(self, q: QuestionRow, now: datetime, why: str) -> None:
        self._close_pending(q, now, f"{self._name(q.asker_id)} resolved this question. Thanks!")
        self._move(q, QuestionState.RESOLVED, now, outcome=why)
        self._send(
            StatusUpdate(
                q.id, q.asker_id, f"Resolved: {why}", final=True, place=q.place, private=q.private
            ),
            now,
        )

    def confirm(self, answer_id: int, person_id: str, event_id: str | None = None) -> Outcome:
        """Someone in the chain vouches for an answer."""
        with self._input(event_id) as fresh:
            if not fresh:
                return DUPLICATE
            answer = self._answer(answer_id)
            q = self._question(answer.question_id)
            chain = {a.person_id for a in self.lc.asks_of_question(q.id)}
            chain |= {a.via_id for a in self.lc.asks_of_question(q.id) if a.via_id}
            if person_id == answer.person_id:
                raise FlowError("You can't confirm your own answer.")
            if person_id not in chain:
                raise FlowError("Only people this question reached can confirm its answers.")
            now = self.clock.now()
            if not self.lc.add_confirmation(answer.id, person_id, now):
                return Outcome(True, "You already confirmed this answer.", q.id)
            self.learning.vouched(q, answer, now)
            self._send(
                AnswerConfirmed(
                    q.id,
                    answer.id,
                    q.asker_id,
                    person_id,
                    self._name(person_id),
                    self._name(answer.person_id),
                    q.place,
                    q.private,
                ),
                now,
            )
            return Outcome(True, "Thanks for confirming.", q.id, answer_id=answer.id)

    # ==================================================================== timers

    def tick(self) -> int:
        """Fire every timer that is due: waiting questions start routing, unanswered asks
        expire and the question widens. Returns how many timers fired."""
        fired = 0
        now = self.clock.now()
        for q in self.lc.questions_due(QuestionState.WAITING, now):
            self.prepared.prepare(q.text, q.asker_id, now.timestamp())  # before the lock
            with self.store.transaction():
                q = self._question(q.id)
                if q.state == QuestionState.WAITING:
                    self._begin(q, now)
                    fired += 1
        for ask in self.lc.asks_due(now):
            with self.store.transaction():
                current = self.lc.ask(ask.id)
                if current is None or current.state != AskState.PENDING:
                    continue
                self.lc.close_ask(ask.id, AskState.EXPIRED, now)
                self.lc.add_decline(ask.question_id, ask.person_id, "expired", now)
                asked = self._widen(self._question(ask.question_id), now)
                detail = (
                    "This request expired; I've asked someone else."
                    if asked
                    else "This request expired."
                )
                self._send(
                    AskClosed(ask.question_id, ask.id, ask.person_id, "expired", detail), now
                )
                fired += 1
        return fired

    # ================================================================= removal

    def drop_person(self, person_id: str) -> tuple[list[int], list[int]]:
        """`person_id` leaves the directory (`whoknows people remove`): each request still
        pending for them is closed and its question goes on to the next candidate, as after
        a pass (`_widen`); each of their own open questions is cancelled, and whoever has
        its request is told. Nothing is sent to them. Runs in the caller's transaction if
        there is one. Returns (questions routed on, questions cancelled)."""
        with self.store.transaction():
            now = self.clock.now()
            routed_on: list[int] = []
            for ask in self.lc.asks_for(person_id):
                self.lc.close_ask(ask.id, AskState.CLOSED, now)
                q = self._question(ask.question_id)
                if q.asker_id != person_id:
                    self._widen(q, now)
                    routed_on.append(q.id)
            cancelled: list[int] = []
            for q in self.lc.questions(asker_id=person_id, states=OPEN_STATES):
                self._close_pending(
                    q,
                    now,
                    "The person who asked this has left the directory, so nothing more is "
                    "needed. Thanks anyway!",
                    outcome="cancelled",
                )
                self._move(q, QuestionState.CANCELLED, now, outcome="the asker was removed")
                cancelled.append(q.id)
        return routed_on, cancelled

    # =================================================================== reading

    def question(self, question_id: int) -> QuestionRow:
        """A question (FlowError if unknown)."""
        return self._question(question_id)

    def requests_for(self, person_id: str) -> list[tuple[AskRow, QuestionRow]]:
        """A person's pending requests (already delivered or due), oldest first."""
        now = self.clock.now()
        return [
            (a, self._question(a.question_id))
            for a in self.lc.asks_for(person_id)
            if a.send_after <= now
        ]

    def questions_of(self, asker_id: str) -> list[QuestionRow]:
        """A person's questions, newest first."""
        return self.lc.questions(asker_id=asker_id)

    # =================================================================== helpers

    @contextmanager
    def _input(self, event_id: str | None) -> Iterator[bool]:
        """One transaction for one input; yields False if the event was handled before."""
        with self.store.transaction():
            yield event_id is None or self.lc.first_time(event_id, self.clock.now())

    def _send(self, intent: Intent, now: datetime, send_after: datetime | None = None) -> None:
        self.lc.enqueue(
            intent.kind,
            intent.recipient,
            intent.question_id,
            getattr(intent, "ask_id", None),
            intent.payload(),
            now,
            send_after or now,
        )

    def _move(
        self, q: QuestionRow, state: QuestionState, now: datetime, outcome: str | None = None
    ) -> None:
        check_move(q.state, state)
        self.lc.set_question_state(q.id, state, now, outcome=outcome)

    def _close_pending(
        self, q: QuestionRow, now: datetime, detail: str, outcome: str = "closed"
    ) -> None:
        for other in self.lc.asks_of_question(q.id):
            if other.state == AskState.PENDING:
                self.lc.close_ask(other.id, AskState.CLOSED, now)
                if other.send_after <= now:  # nothing to update if it never went out
                    self._send(AskClosed(q.id, other.id, other.person_id, outcome, detail), now)

    def _chain_names(self, question_id: int, ask: AskRow) -> list[str]:
        """Names along the referral chain that reached `ask`, first asked first."""
        by_person = {a.person_id: a for a in self.lc.asks_of_question(question_id)}
        chain, current = [], ask
        while current.via_id and current.via_id not in chain:
            chain.append(current.via_id)
            previous = by_person.get(current.via_id)
            if previous is None:
                break
            current = previous
        return [self._name(p) for p in reversed(chain)]

    def _similar_answers(self, q: QuestionRow) -> list[dict[str, Any]]:
        """Earlier vouched-for answers whose question is close to this one, then answered
        chat threads whose question is (`chat_answers`)."""
        prepared = self.prepared.vector(q.text, q.asker_id)
        if prepared is None:
            self.router.sync()
        if len(self.router.vectors) == 0:
            return []
        qvec = prepared if prepared is not None else self.router.encoder.encode_one(q.text)
        rows, sims = self.router.vectors.top(np.asarray(qvec), 20)
        hits = [
            (self.router.vectors.item_ids[int(row)], float(sim))
            for row, sim in zip(rows, sims, strict=True)
        ]
        matches = []
        for item_id, sim in hits:
            answer_id = answer_id_of(item_id)
            if sim < self.limits.similar_threshold or answer_id is None:
                continue
            answer = self.lc.answer(answer_id)
            if answer is None or answer.question_id == q.id:
                continue
            earlier = self._question(answer.question_id)
            matches.append(
                {
                    "question_id": earlier.id,
                    "question": earlier.text,
                    "answer": answer.text,
                    "answerer": self._name(answer.person_id),
                    "score": round(float(sim), 3),
                }
            )
        if len(matches) < 3:  # then threads in public channels that look answered
            threshold = self.limits.similar_threshold
            matches += chat_thread_matches(
                self.router, np.asarray(qvec), q.asker_id, threshold, hits, self._name
            )
        return matches[:3]

    def _open_ask(self, ask_id: int, person_id: str) -> tuple[AskRow, QuestionRow]:
        ask = self.lc.ask(ask_id)
        if ask is None:
            raise FlowError(f"There is no request #{ask_id}.")
        if ask.person_id != person_id:
            raise FlowError("That request was sent to someone else.")
        if ask.state != AskState.PENDING:
            raise FlowError(f"That request is already closed ({ask.state}).")
        q = self._question(ask.question_id)
        if q.state not in OPEN_STATES:
            raise FlowError("That question is already answered or closed.")
        return ask, q

    def _latest_answer(self, q: QuestionRow) -> AnswerRow:
        if q.state not in ANSWERED_STATES:
            raise FlowError("This question has no answer yet.")
        return self.lc.answers_of(q.id)[-1]

    def _require_asker(self, q: QuestionRow, person_id: str) -> None:
        if q.asker_id != person_id:
            raise FlowError("Only the person who asked can do that.")

    def _question(self, question_id: int) -> QuestionRow:
        q = self.lc.question(question_id)
        if q is None:
            raise FlowError(f"There is no question #{question_id}.")
        return q

    def _answer(self, answer_id: int) -> AnswerRow:
        answer = self.lc.answer(answer_id)
        if answer is None:
            raise FlowError(f"There is no answer #{answer_id}.")
        return answer

    def _person(self, person_id: str) -> Person:
        person = self.store.get_person(person_id)
        if person is None:
            raise FlowError(f"{person_id!r} is not in the directory.")
        return person

    def _name(self, person_id: str) -> str:
        person = self.store.get_person(person_id)
        return person.name if person else person_id


def _clean(text: str, what: str) -> str:
    text = (text or "").strip()
    if not text:
        raise FlowError(f"The {what} is empty.")
    if len(text) > MAX_TEXT:
        raise FlowError(f"The {what} is too long ({len(text)} characters; at most {MAX_TEXT}).")
    return text


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _clock_time(moment: datetime, zone: Any) -> str:
    return moment.astimezone(zone).strftime("%a %H:%M")
