"""Storage of the question lifecycle: questions, asks, answers, follow-ups, timers, outbox.

It shares the Store's connection and transactions, so a state change and the messages it
causes are written together or not at all. Timers are plain columns (`due_at`,
`send_after`) read by the scheduler, so a restart resumes every one of them.
All times are UTC datetimes; they are stored as fixed-width ISO strings so that SQL can
compare them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from data.store import Store


def to_iso(moment: datetime) -> str:
    """A UTC datetime as a fixed-width, sortable string."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: lifecycle times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_iso(text: str | None) -> datetime | None:
    """The datetime `to_iso` wrote, or None."""
    if text is None:
        return None
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


@dataclass(frozen=True)
class QuestionRow:
    """A question as stored."""

    id: int
    asker_id: str
    text: str
    origin: str
    place: dict[str, Any]
    private: bool
    state: str
    widenings: int
    created_at: datetime
    updated_at: datetime
    due_at: datetime | None
    outcome: str | None


@dataclass(frozen=True)
class AskRow:
    """One request to one person to help with one question."""

    id: int
    question_id: int
    person_id: str
    via_id: str | None
    hop: int
    state: str
    reason: str
    connection: str
    note: str
    snoozes: int
    created_at: datetime
    send_after: datetime
    due_at: datetime
    closed_at: datetime | None
    message_ref: str | None


@dataclass(frozen=True)
class AnswerRow:
    """An answer to a question."""

    id: int
    question_id: int
    ask_id: int | None
    person_id: str
    text: str
    created_at: datetime
    accepted: bool


@dataclass(frozen=True)
class MessageRow:
    """A follow-up or a reply to one."""

    id: int
    question_id: int
    from_id: str
    to_id: str
    kind: str
    text: str
    created_at: datetime


# The result of an outbox row that was finished without being sent, because what it
# announced was no longer true when its time came ("skipped: ask closed").
SKIPPED = "skipped: "


@dataclass(frozen=True)
class OutboxRow:
    """A message waiting to be (or already) delivered.

    A row is finished when `sent_at` is set: delivered (`result` is the platform's
    reference, or None), or skipped (`result` starts with SKIPPED). A row whose last
    delivery attempt failed is a dead letter (`dead_at`, `last_error`): no longer due
    until an admin retries it."""

    id: int
    kind: str
    recipient: str | None
    question_id: int | None
    ask_id: int | None
    payload: dict[str, Any]
    created_at: datetime
    send_after: datetime
    claimed_at: datetime | None
    sent_at: datetime | None
    attempts: int
    result: str | None
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    dead_at: datetime | None = None

    @property
    def skipped(self) -> bool:
        """Finished without being sent (see SKIPPED)."""
        return self.sent_at is not None and (self.result or "").startswith(SKIPPED)


@dataclass(frozen=True)
class Preferences:
    """What a person has set about being asked (None = the org default)."""

    person_id: str
    max_asks_per_day: int | None = None
    quiet_start: int | None = None
    quiet_end: int | None = None


class LifecycleStore:
    """Every query of the question lifecycle. Use `store.transaction()` around writes that
    belong together."""

    def __init__(self, store: Store) -> None:
        self.store = store  # its tables come from data/migrations.py, made by the Store

    @property
    def db(self):
        """The calling thread's connection (see `Store.db`)."""
        return self.store.db

    def transaction(self):
        """The shared store's transaction."""
        return self.store.transaction()

    # ------------------------------------------------------------------------ events

    def first_time(self, event_id: str, now: datetime) -> bool:
        """Record a platform event id; False if it was seen before (then ignore it)."""
        cur = self.db.execute(
            "INSERT OR IGNORE INTO events(event_id, received_at) VALUES (?, ?)",
            (event_id, to_iso(now)),
        )
        return cur.rowcount == 1

    def set_question_text(self, question_id: int, text: str, now: datetime) -> None:
        """The asker edited their question: keep the new words."""
        self.db.execute(
            "UPDATE questions SET text = ?, updated_at = ? WHERE id = ?",
            (text, to_iso(now), question_id),
        )

    def seen(self, event_id: str) -> bool:
        """Whether a platform event id was recorded already (a read: no lock taken)."""
        row = self.db.execute("SELECT 1 FROM events WHERE event_id = ?", (event_id,)).fetchone()
        return row is not None

    # --------------------------------------------------------------------- questions

    def add_question(
        self,
        asker_id: str,
        text: str,
        origin: str,
        place: dict[str, Any],
        private: bool,
        state: str,
        now: datetime,
        due_at: datetime | None,
    ) -> int:
        """Store a new question; returns its id."""
        cur = self.db.execute(
            "INSERT INTO questions(asker_id, text, origin, place, private, state, created_at, "
            "updated_at, due_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                asker_id,
                text,
                origin,
                json.dumps(place, sort_keys=True),
                int(private),
                state,
                to_iso(now),
                to_iso(now),
                to_iso(due_at) if due_at else None,
            ),
        )
        return int(cur.lastrowid)

    def question(self, question_id: int) -> QuestionRow | None:
        """One question, or None."""
        row = self.db.execute("SELECT * FROM questions WHERE id = ?", (question_id,)).fetchone()
        return _question(row) if row else None

    def questions(
        self, asker_id: str | None = None, states: Iterable[str] = ()
    ) -> list[QuestionRow]:
        """Questions, newest first, optionally of one asker and in some states."""
        sql, args = "SELECT * FROM questions WHERE 1", []
        if asker_id:
            sql += " AND asker_id = ?"
            args.append(asker_id)
        states = list(states)
        if states:
            sql += f" AND state IN ({','.join('?' * len(states))})"
            args += states
        return [_question(r) for r in self.db.execute(sql + " ORDER BY id DESC", args)]

    def find_question_by_place(self, key: str, value: str) -> QuestionRow | None:
        """The newest question whose place has `key` == `value` (e.g. a thread id)."""
        row = self.db.execute(
            "SELECT * FROM questions WHERE json_extract(place, '$.' || ?) = ? "
            "ORDER BY id DESC LIMIT 1",
            (key, value),
        ).fetchone()
        return _question(row) if row else None

    def set_question_state(
        self,
        question_id: int,
        state: str,
        now: datetime,
        due_at: datetime | None = None,
        outcome: str | None = None,
    ) -> None:
        """Move a question to `state` with its new timer (None = no timer)."""
        self.db.execute(
            "UPDATE questions SET state = ?, updated_at = ?, due_at = ?, "
            "outcome = coalesce(?, outcome) WHERE id = ?",
            (state, to_iso(now), to_iso(due_at) if due_at else None, outcome, question_id),
        )

    def widen(self, question_id: int) -> None:
        """Count one more widening of the search radius for a question."""
        self.db.execute(
            "UPDATE questions SET widenings = widenings + 1 WHERE id = ?", (question_id,)
        )

    def questions_due(self, state: str, now: datetime) -> list[QuestionRow]:
        """Questions in `state` whose timer has run out."""
        cur = self.db.execute(
            "SELECT * FROM questions WHERE state = ? AND due_at IS NOT NULL AND due_at <= ? "
            "ORDER BY due_at",
            (state, to_iso(now)),
        )
        return [_question(r) for r in cur]

    # -------------------------------------------------------------------------- asks

    def add_ask(
        self,
        question_id: int,
        person_id: str,
        via_id: str | None,
        hop: int,
        reason: str,
        connection: str,
        note: str,
        now: datetime,
        send_after: datetime,
        due_at: datetime,
    ) -> int:
        """Store a new pending ask; returns its id."""
        cur = self.db.execute(
            "INSERT INTO asks(question_id, person_id, via_id, hop, state, reason, connection, "
            "note, created_at, send_after, due_at) "
            "VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?)",
            (
                question_id,
                person_id,
                via_id,
                hop,
                reason,
                connection,
                note,
                to_iso(now),
                to_iso(send_after),
                to_iso(due_at),
            ),
        )
        return int(cur.lastrowid)

    def ask(self, ask_id: int) -> AskRow | None:
        """One ask, or None."""
        row = self.db.execute("SELECT * FROM asks WHERE id = ?", (ask_id,)).fetchone()
        return _ask(row) if row else None

    def asks_of_question(self, question_id: int) -> list[AskRow]:
        """Every ask of a question, oldest first."""
        cur = self.db.execute(
            "SELECT * FROM asks WHERE question_id = ? ORDER BY id", (question_id,)
        )
        return [_ask(r) for r in cur]

    def asks_for(self, person_id: str, states: Iterable[str] = ("pending",)) -> list[AskRow]:
        """A person's asks in the given states, oldest first."""
        states = list(states)
        cur = self.db.execute(
            f"SELECT * FROM asks WHERE person_id = ? AND state IN ({','.join('?' * len(states))}) "
            "ORDER BY id",
            (person_id, *states),
        )
        return [_ask(r) for r in cur]

    def asks_since(self, person_id: str, since: datetime) -> int:
        """How many asks a person has received since `since`."""
        return int(
            self.db.execute(
                "SELECT count(*) FROM asks WHERE person_id = ? AND created_at >= ?",
                (person_id, to_iso(since)),
            ).fetchone()[0]
        )

    def open_asks_count(self, person_id: str) -> int:
        """How many requests a person has not answered yet."""
        return int(
            self.db.execute(
                "SELECT count(*) FROM asks WHERE person_id = ? AND state = 'pending'", (person_id,)
            ).fetchone()[0]
        )

    def close_ask(self, ask_id: int, state: str, now: datetime) -> None:
        """End an ask with its outcome."""
        self.db.execute(
            "UPDATE asks SET state = ?, closed_at = ? WHERE id = ?", (state, to_iso(now), ask_id)
        )

    def snooze_ask(self, ask_id: int, due_at: datetime) -> None:
        """Push an ask's due time back."""
        self.db.execute(
            "UPDATE asks SET due_at = ?, snoozes = snoozes + 1 WHERE id = ?",
            (to_iso(due_at), ask_id),
        )

    def asks_due(self, now: datetime) -> list[AskRow]:
        """Pending asks whose time is up."""
        cur = self.db.execute(
            "SELECT * FROM asks WHERE state = 'pending' AND due_at <= ? ORDER BY due_at",
            (to_iso(now),),
        )
        return [_ask(r) for r in cur]

    def set_message_ref(self, ask_id: int, ref: str) -> None:
        """Remember the platform's id of the request message, to update it later."""
        self.db.execute("UPDATE asks SET message_ref = ? WHERE id = ?", (ref, ask_id))

    # ----------------------------------------------------------------------- answers

    def add_answer(
        self, question_id: int, ask_id: int | None, person_id: str, text: str, now: datetime
    ) -> int:
        """Store an answer; returns its id."""
        cur = self.db.execute(
            "INSERT INTO answers(question_id, ask_id, person_id, text, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (question_id, ask_id, person_id, text, to_iso(now)),
        )
        return int(cur.lastrowid)

    def answer(self, answer_id: int) -> AnswerRow | None:
        """One answer, or None."""
        row = self.db.execute("SELECT * FROM answers WHERE id = ?", (answer_id,)).fetchone()
        return _answer(row) if row else None

    def answers_of(self, question_id: int) -> list[AnswerRow]:
        """A question's answers, oldest first."""
        cur = self.db.execute(
            "SELECT * FROM answers WHERE question_id = ? ORDER BY id", (question_id,)
        )
        return [_answer(r) for r in cur]

    def accept_answer(self, answer_id: int) -> None:
        """Mark an answer as the accepted one."""
        self.db.execute("UPDATE answers SET accepted = 1 WHERE id = ?", (answer_id,))

    def add_confirmation(self, answer_id: int, person_id: str, now: datetime) -> bool:
        """Record that someone confirmed an answer; False if they already had."""
        cur = self.db.execute(
            "INSERT OR IGNORE INTO confirmations(answer_id, person_id, created_at) "
            "VALUES (?, ?, ?)",
            (answer_id, person_id, to_iso(now)),
        )
        return cur.rowcount == 1

    def confirmations_of(self, answer_id: int) -> list[str]:
        """Who confirmed an answer, in order."""
        cur = self.db.execute(
            "SELECT person_id FROM confirmations WHERE answer_id = ? ORDER BY created_at",
            (answer_id,),
        )
        return [r[0] for r in cur]

    def add_message(
        self, question_id: int, from_id: str, to_id: str, kind: str, text: str, now: datetime
    ) -> int:
        """Store a follow-up or a reply; returns its id."""
        cur = self.db.execute(
            "INSERT INTO messages(question_id, from_id, to_id, kind, text, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (question_id, from_id, to_id, kind, text, to_iso(now)),
        )
        return int(cur.lastrowid)

    def messages_of(self, question_id: int) -> list[MessageRow]:
        """A question's follow-ups and replies, oldest first."""
        cur = self.db.execute(
            "SELECT * FROM messages WHERE question_id = ? ORDER BY id", (question_id,)
        )
        return [MessageRow(r[0], r[1], r[2], r[3], r[4], r[5], from_iso(r[6])) for r in cur]

    # ---------------------------------------------------------------------- learning

    def add_decline(self, question_id: int, person_id: str, kind: str, now: datetime) -> None:
        """Remember that someone passed on, or let expire, a question."""
        self.db.execute(
            "INSERT OR IGNORE INTO declines(question_id, person_id, kind, created_at) "
            "VALUES (?, ?, ?, ?)",
            (question_id, person_id, kind, to_iso(now)),
        )

    def declined_texts(self, person_ids: Iterable[str], since: datetime) -> dict[str, list[str]]:
        """The texts of the questions each person declined since `since`."""
        ids = list(person_ids)
        if not ids:
            return {}
        cur = self.db.execute(
            "SELECT d.person_id, q.text FROM declines d JOIN questions q ON q.id = d.question_id "
            f"WHERE d.created_at >= ? AND d.person_id IN ({','.join('?' * len(ids))})",
            (to_iso(since), *ids),
        )
        found: dict[str, list[str]] = {}
        for pid, text in cur:
            found.setdefault(pid, []).append(text)
        return found

    # ------------------------------------------------------------------- preferences

    def preferences(self, person_id: str) -> Preferences:
        """A person's preferences (all None when never set)."""
        row = self.db.execute(
            "SELECT person_id, max_asks_per_day, quiet_start, quiet_end FROM preferences "
            "WHERE person_id = ?",
            (person_id,),
        ).fetchone()
        return Preferences(*row) if row else Preferences(person_id)

    def set_preferences(self, prefs: Preferences) -> None:
        """Save a person's preferences."""
        self.db.execute(
            "INSERT INTO preferences(person_id, max_asks_per_day, quiet_start, quiet_end) "
            "VALUES (?, ?, ?, ?) ON CONFLICT(person_id) DO UPDATE SET "
            "max_asks_per_day = excluded.max_asks_per_day, quiet_start = excluded.quiet_start, "
            "quiet_end = excluded.quiet_end",
            (prefs.person_id, prefs.max_asks_per_day, prefs.quiet_start, prefs.quiet_end),
        )

    # ------------------------------------------------------------ platform addresses

    def save_address(
        self, person_id: str, platform: str, address: dict[str, Any], now: datetime
    ) -> None:
        """Remember how to reach a person on a platform (replacing what was known)."""
        self.db.execute(
            "INSERT INTO addresses(person_id, platform, address, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(person_id, platform) DO UPDATE SET address = excluded.address, "
            "updated_at = excluded.updated_at",
            (person_id, platform, json.dumps(address, sort_keys=True), to_iso(now)),
        )

    def address(self, person_id: str, platform: str) -> dict[str, Any] | None:
        """How to reach a person on a platform, if known."""
        row = self.db.execute(
            "SELECT address FROM addresses WHERE person_id = ? AND platform = ?",
            (person_id, platform),
        ).fetchone()
        return json.loads(row[0]) if row else None

    def forget_address(self, person_id: str, platform: str) -> bool:
        """Forget how to reach a person on a platform; whether there was an address."""
        cur = self.db.execute(
            "DELETE FROM addresses WHERE person_id = ? AND platform = ?", (person_id, platform)
        )
        return cur.rowcount > 0

    def forget_addresses_with(self, platform: str, key: str, value: str) -> list[str]:
        """Forget every address on a platform whose `key` is `value` (e.g. those learned in
        a workspace or team the bot left); the ids of their people."""
        if not key.isidentifier():
            raise ValueError(f"not an address key: {key!r}")
        where = "platform = ? AND json_extract(address, ?) = ?"
        args = (platform, f"$.{key}", value)
        people = [
            r[0] for r in self.db.execute(f"SELECT person_id FROM addresses WHERE {where}", args)
        ]
        self.db.execute(f"DELETE FROM addresses WHERE {where}", args)
        return sorted(people)

    # ---------------------------------------------------------------------- channels

    def channel_settings(self, platform: str, channel_id: str) -> tuple[bool, float | None]:
        """(enabled, wait minutes or None for the default) of a channel; enabled by default."""
        row = self.db.execute(
            "SELECT enabled, wait_minutes FROM channels WHERE platform = ? AND channel_id = ?",
            (platform, channel_id),
        ).fetchone()
        return (bool(row[0]), row[1]) if row else (True, None)

    def set_channel_settings(
        self, platform: str, channel_id: str, enabled: bool, wait_minutes: float | None
    ) -> None:
        """Turn intake in a channel on or off and set its grace period."""
        self.db.execute(
            "INSERT INTO channels(platform, channel_id, enabled, wait_minutes) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(platform, channel_id) DO UPDATE SET enabled = excluded.enabled, "
            "wait_minutes = excluded.wait_minutes",
            (platform, channel_id, int(enabled), wait_minutes),
        )

    # ------------------------------------------------------------------------ outbox

    def enqueue(
        self,
        kind: str,
        recipient: str | None,
        question_id: int | None,
        ask_id: int | None,
        payload: dict[str, Any],
        now: datetime,
        send_after: datetime,
    ) -> int:
        """Queue a message for delivery; returns its id."""
        cur = self.db.execute(
            "INSERT INTO outbox(kind, recipient, question_id, ask_id, payload, created_at, "
            "send_after) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                kind,
                recipient,
                question_id,
                ask_id,
                json.dumps(payload, sort_keys=True),
                to_iso(now),
                to_iso(send_after),
            ),
        )
        return int(cur.lastrowid)

    def outbox_due(self, now: datetime, limit: int = 100) -> list[OutboxRow]:
        """Undelivered messages that may be sent now, oldest first. Every condition is in
        SQL, before the LIMIT: rows waiting for their time (quiet hours, a retry's back-off)
        and dead letters never take the place of a row that is due."""
        cur = self.db.execute(
            "SELECT * FROM outbox WHERE sent_at IS NULL AND dead_at IS NULL "
            "AND send_after <= ? AND (next_attempt_at IS NULL OR next_attempt_at <= ?) "
            "ORDER BY id LIMIT ?",
            (to_iso(now), to_iso(now), limit),
        )
        return [_outbox(r) for r in cur]

    def outbox(self, question_id: int | None = None) -> list[OutboxRow]:
        """All queued and delivered messages (of one question), oldest first."""
        if question_id is None:
            cur = self.db.execute("SELECT * FROM outbox ORDER BY id")
        else:
            cur = self.db.execute(
                "SELECT * FROM outbox WHERE question_id = ? ORDER BY id", (question_id,)
            )
        return [_outbox(r) for r in cur]

    def outbox_row(self, outbox_id: int) -> OutboxRow | None:
        """One outbox row by id (a deliverer checking an in-doubt delivery), or None."""
        row = self.db.execute("SELECT * FROM outbox WHERE id = ?", (outbox_id,)).fetchone()
        return _outbox(row) if row else None

    def claim(self, outbox_id: int, now: datetime) -> None:
        """Note that a delivery attempt is starting (so a crash leaves it 'in doubt')."""
        self.db.execute(
            "UPDATE outbox SET claimed_at = ?, attempts = attempts + 1 WHERE id = ?",
            (to_iso(now), outbox_id),
        )

    def mark_sent(self, outbox_id: int, now: datetime, result: str | None) -> None:
        """Record a successful delivery."""
        self.db.execute(
            "UPDATE outbox SET sent_at = ?, result = ?, last_error = NULL WHERE id = ?",
            (to_iso(now), result, outbox_id),
        )

    def mark_failed(self, outbox_id: int, error: str, retry_at: datetime) -> None:
        """Record a failed delivery and when to try again."""
        self.db.execute(
            "UPDATE outbox SET last_error = ?, next_attempt_at = ?, claimed_at = NULL WHERE id = ?",
            (error[:500], to_iso(retry_at), outbox_id),
        )

    def mark_dead(self, outbox_id: int, error: str, now: datetime) -> None:
        """Give up on a delivery: the row becomes a dead letter, with its last error."""
        self.db.execute(
            "UPDATE outbox SET last_error = ?, dead_at = ?, next_attempt_at = NULL, "
            "claimed_at = NULL WHERE id = ?",
            (error[:500], to_iso(now), outbox_id),
        )

    def mark_skipped(self, outbox_id: int, now: datetime, reason: str) -> None:
        """Finish a row without sending it: what it announced is no longer so."""
        self.db.execute(
            "UPDATE outbox SET sent_at = ?, result = ?, claimed_at = NULL WHERE id = ?",
            (to_iso(now), SKIPPED + reason, outbox_id),
        )

    def dead_letters(self) -> list[OutboxRow]:
        """Rows given up on, oldest first."""
        cur = self.db.execute("SELECT * FROM outbox WHERE dead_at IS NOT NULL ORDER BY id")
        return [_outbox(r) for r in cur]

    def dead_letter_count(self) -> int:
        """How many rows were given up on."""
        return int(
            self.db.execute("SELECT count(*) FROM outbox WHERE dead_at IS NOT NULL").fetchone()[0]
        )

    def retry_dead(self, outbox_ids: Iterable[int] | None, now: datetime) -> list[int]:
        """Put dead letters (these, or all if None) back in the queue, due now, with their
        attempts counted from zero; returns the ids put back (others are ignored)."""
        sql, args = "SELECT id FROM outbox WHERE dead_at IS NOT NULL", []
        if outbox_ids is not None:
            args = sorted(set(outbox_ids))
            sql += f" AND id IN ({','.join('?' * len(args))})"  # SQLite takes IN ()
        ids = [r[0] for r in self.db.execute(sql, args)]
        for outbox_id in ids:
            self.db.execute(
                "UPDATE outbox SET dead_at = NULL, attempts = 0, next_attempt_at = ?, "
                "claimed_at = NULL WHERE id = ?",
                (to_iso(now), outbox_id),
            )
        return sorted(ids)

    def sent_result(self, kind: str, ask_id: int) -> str | None:
        """The platform reference of the delivered message of `kind` for an ask."""
        row = self.db.execute(
            "SELECT result FROM outbox WHERE kind = ? AND ask_id = ? AND sent_at IS NOT NULL "
            "AND (result IS NULL OR substr(result, 1, ?) <> ?) ORDER BY id LIMIT 1",
            (kind, ask_id, len(SKIPPED), SKIPPED),
        ).fetchone()
        return row[0] if row else None

    def was_delivered(self, kind: str, ask_id: int) -> bool:
        """Whether a message of `kind` for an ask was delivered (not only skipped)."""
        return (
            self.db.execute(
                "SELECT 1 FROM outbox WHERE kind = ? AND ask_id = ? AND sent_at IS NOT NULL "
                "AND (result IS NULL OR substr(result, 1, ?) <> ?) LIMIT 1",
                (kind, ask_id, len(SKIPPED), SKIPPED),
            ).fetchone()
            is not None
        )


def _question(r: Any) -> QuestionRow:
    return QuestionRow(
        id=r[0],
        asker_id=r[1],
        text=r[2],
        origin=r[3],
        place=json.loads(r[4]),
        private=bool(r[5]),
        state=r[6],
        widenings=r[7],
        created_at=from_iso(r[8]),
        updated_at=from_iso(r[9]),
        due_at=from_iso(r[10]),
        outcome=r[11],
    )


def _ask(r: Any) -> AskRow:
    return AskRow(
        id=r[0],
        question_id=r[1],
        person_id=r[2],
        via_id=r[3],
        hop=r[4],
        state=r[5],
        reason=r[6],
        connection=r[7],
        note=r[8],
        snoozes=r[9],
        created_at=from_iso(r[10]),
        send_after=from_iso(r[11]),
        due_at=from_iso(r[12]),
        closed_at=from_iso(r[13]),
        message_ref=r[14],
    )


def _answer(r: Any) -> AnswerRow:
    return AnswerRow(r[0], r[1], r[2], r[3], r[4], from_iso(r[5]), bool(r[6]))


def _outbox(r: Any) -> OutboxRow:
    return OutboxRow(
        id=r[0],
        kind=r[1],
        recipient=r[2],
        question_id=r[3],
        ask_id=r[4],
        payload=json.loads(r[5]),
        created_at=from_iso(r[6]),
        send_after=from_iso(r[7]),
        claimed_at=from_iso(r[8]),
        sent_at=from_iso(r[9]),
        attempts=r[10],
        next_attempt_at=from_iso(r[11]),
        last_error=r[12],
        result=r[13],
        dead_at=from_iso(r[14]),
    )
