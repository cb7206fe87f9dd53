"""The scheduler: fires due timers, delivers the outbox, and indexes new knowledge.

Delivery is at-least-once made exactly-once where the platform allows: before sending, a
row is *claimed*; after sending, it is marked sent with the platform's reference. A crash
between the two leaves the row claimed but unsent ("in doubt"); on restart the deliverer
is asked whether it already delivered that key before anything is sent again.

A message is checked against the state it announces when it is sent, not only when it was
queued: a request (`AskExpert`) whose ask is no longer pending or whose question is over,
and an update (`AskClosed`) of a request that never went out, are finished unsent
("skipped: ..."), however long they waited (quiet hours, retries). A delivery that fails
MAX_ATTEMPTS times becomes a dead letter: kept with its last error, no longer due, listed
and retried by an admin (`whoknows outbox dead|retry`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.lifecycle.flow import Flow
from bot.lifecycle.intents import AskClosed, AskExpert, Intent, intent_from
from bot.lifecycle.states import OPEN_STATES, AskState
from data.lifecycle_store import OutboxRow

log = logging.getLogger(__name__)

# Give up retrying a delivery after this many attempts (about a day with doubling delays).
MAX_ATTEMPTS = 12

# What happened to one due row.
DELIVERED, FAILED, SKIPPED, DEAD = "delivered", "failed", "skipped", "dead"


class Deliverer(Protocol):
    """A chat platform's side of delivery."""

    def deliver(self, intent: Intent, key: str, message_ref: str | None) -> str | None:
        """Render and send `intent`; return the platform's reference for it (e.g. a message
        id) or None. `message_ref` is the reference of the request an `AskClosed` updates.
        Raise on failure: the scheduler retries later."""
        ...

    def find_delivered(self, key: str) -> str | None:
        """The reference of an earlier delivery of `key`, if it happened; else None."""
        ...


@dataclass(frozen=True)
class TickReport:
    """What one scheduler run did."""

    timers: int = 0
    delivered: int = 0
    failed: int = 0  # attempts that failed (each retried later, or given up: `dead`)
    indexed: int = 0
    skipped: int = 0  # finished unsent: what they announced was no longer so
    dead: int = 0  # of the failed, how many were the last attempt


def outbox_key(row_id: int) -> str:
    """The idempotency key of an outbox row, passed to the platform with the message."""
    return f"whoknows-{row_id}"


def outbox_id_of(key: str) -> int | None:
    """The outbox row id inside a key made by `outbox_key` (None if it is not one)."""
    prefix, _, number = key.rpartition("-")
    return int(number) if prefix == "whoknows" and number.isdigit() else None


class Scheduler:
    """Runs the lifecycle's clockwork against one deliverer."""

    def __init__(
        self, flow: Flow, deliverer: Deliverer, indexer: Callable[[], int] | None = None
    ) -> None:
        self.flow = flow
        self.lc = flow.lc
        self.deliverer = deliverer
        self.indexer = indexer

    def run_once(self) -> TickReport:
        """Fire timers, deliver what is due, index new knowledge."""
        timers = self.flow.tick()
        done = {DELIVERED: 0, FAILED: 0, SKIPPED: 0, DEAD: 0}
        for row in self.lc.outbox_due(self.flow.clock.now()):
            done[self._deliver(row)] += 1
        indexed = self.indexer() if self.indexer else 0
        return TickReport(
            timers,
            delivered=done[DELIVERED],
            failed=done[FAILED] + done[DEAD],
            indexed=indexed,
            skipped=done[SKIPPED],
            dead=done[DEAD],
        )

    def run_forever(self, stop: threading.Event, interval: float | None = None) -> None:
        """Run until `stop` is set, every `interval` seconds (default: the settings)."""
        pause = interval or self.flow.limits.tick_seconds
        while not stop.is_set():
            try:
                self.run_once()
            except Exception:  # keep the loop alive; the next run retries
                log.exception("scheduler run failed")
            stop.wait(pause)

    def _deliver(self, row: OutboxRow) -> str:
        """Deliver one due row; returns DELIVERED, FAILED, SKIPPED or DEAD."""
        key = outbox_key(row.id)
        now = self.flow.clock.now()
        if row.claimed_at is not None:  # a crash interrupted an earlier attempt
            earlier = self.deliverer.find_delivered(key)
            if earlier is not None:
                self._mark_sent(row, earlier)
                return DELIVERED
        if row.attempts >= MAX_ATTEMPTS:  # e.g. a crash during its last attempt
            with self.flow.store.transaction():
                self.lc.mark_dead(row.id, row.last_error or "out of attempts", now)
            return DEAD
        obsolete = self._obsolete(row)
        if obsolete:
            with self.flow.store.transaction():
                self.lc.mark_skipped(row.id, now, obsolete)
            log.info("not sending %s #%d to %s: %s", row.kind, row.id, row.recipient, obsolete)
            return SKIPPED
        intent = intent_from(row.kind, row.payload)
        with self.flow.store.transaction():
            self.lc.claim(row.id, now)
        ref_to_update = self.lc.ask(row.ask_id).message_ref if row.ask_id else None
        try:
            result = self.deliverer.deliver(intent, key, ref_to_update)
        except Exception as error:
            return self._failed(row, error, now)
        self._mark_sent(row, result)
        return DELIVERED

    def _obsolete(self, row: OutboxRow) -> str | None:
        """Why `row` must not be sent now (None: send it). Read at sending time, so that
        a request held back by quiet hours or retries is never delivered after its
        question was closed, and nobody gets an update of a request they never saw."""
        if row.kind == AskExpert.kind and row.ask_id:
            ask = self.lc.ask(row.ask_id)
            if ask is None or ask.state != AskState.PENDING:
                return "ask closed"
            question = self.lc.question(ask.question_id)
            if question is None or question.state not in OPEN_STATES:
                return "question closed"
        elif (
            row.kind == AskClosed.kind
            and row.ask_id
            and not self.lc.was_delivered(AskExpert.kind, row.ask_id)
        ):
            return "request never sent"  # nothing to update, and it was not seen
        return None

    def _failed(self, row: OutboxRow, error: Exception, now: datetime) -> str:
        attempt = row.attempts + 1  # claimed: counted
        reason = f"{type(error).__name__}: {error}"
        if attempt >= MAX_ATTEMPTS:
            with self.flow.store.transaction():
                self.lc.mark_dead(row.id, reason, now)
            log.error(
                "delivery of %s #%d to %s failed %d times; giving up (`whoknows outbox dead` "
                "lists it, `whoknows outbox retry %d` tries again): %s",
                row.kind,
                row.id,
                row.recipient,
                attempt,
                row.id,
                error,
            )
            return DEAD
        delay = self.flow.limits.delivery_retry_seconds * 2 ** min(row.attempts, 10)
        with self.flow.store.transaction():
            self.lc.mark_failed(row.id, reason, now + timedelta(seconds=delay))
        log.warning(
            "delivery of %s to %s failed (attempt %d): %s; retry in %.0fs",
            row.kind,
            row.recipient,
            attempt,
            error,
            delay,
        )
        return FAILED

    def _mark_sent(self, row: OutboxRow, result: str | None) -> None:
        with self.flow.store.transaction():
            self.lc.mark_sent(row.id, self.flow.clock.now(), result)
            if row.kind == AskExpert.kind and row.ask_id and result:
                self.lc.set_message_ref(row.ask_id, result)
