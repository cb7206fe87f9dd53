"""The scheduler: fires due timers, delivers the outbox, and indexes new knowledge.

Delivery is at-least-once made exactly-once where the platform allows: before sending, a
row is *claimed*; after sending, it is marked sent with the platform's reference. A crash
between the two leaves the row claimed but unsent ("in doubt"); on restart the deliverer
is asked whether it already delivered that key before anything is sent again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from bot.lifecycle.flow import Flow
from bot.lifecycle.intents import AskExpert, Intent, intent_from
from data.lifecycle_store import OutboxRow

log = logging.getLogger(__name__)

# Give up retrying a delivery after this many attempts (about a day with doubling delays).
MAX_ATTEMPTS = 12


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
    failed: int = 0
    indexed: int = 0


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
        delivered = failed = 0
        for row in self.lc.outbox_due(self.flow.clock.now()):
            if self._deliver(row):
                delivered += 1
            else:
                failed += 1
        indexed = self.indexer() if self.indexer else 0
        return TickReport(timers, delivered, failed, indexed)

    def run_forever(self, stop: threading.Event, interval: float | None = None) -> None:
        """Run until `stop` is set, every `interval` seconds (default: the settings)."""
        pause = interval or self.flow.limits.tick_seconds
        while not stop.is_set():
            try:
                self.run_once()
            except Exception:  # keep the loop alive; the next run retries
                log.exception("scheduler run failed")
            stop.wait(pause)

    def _deliver(self, row: OutboxRow) -> bool:
        key = outbox_key(row.id)
        now = self.flow.clock.now()
        if row.claimed_at is not None:  # a crash interrupted an earlier attempt
            earlier = self.deliverer.find_delivered(key)
            if earlier is not None:
                self._mark_sent(row, earlier)
                return True
        intent = intent_from(row.kind, row.payload)
        if row.attempts >= MAX_ATTEMPTS:
            return False
        with self.flow.store.transaction():
            self.lc.claim(row.id, now)
        ref_to_update = self.lc.ask(row.ask_id).message_ref if row.ask_id else None
        try:
            result = self.deliverer.deliver(intent, key, ref_to_update)
        except Exception as error:
            delay = self.flow.limits.delivery_retry_seconds * 2 ** min(row.attempts, 10)
            with self.flow.store.transaction():
                self.lc.mark_failed(
                    row.id, f"{type(error).__name__}: {error}", now + timedelta(seconds=delay)
                )
            log.warning(
                "delivery of %s to %s failed (attempt %d): %s; retry in %.0fs",
                row.kind,
                row.recipient,
                row.attempts + 1,
                error,
                delay,
            )
            return False
        self._mark_sent(row, result)
        return True

    def _mark_sent(self, row: OutboxRow, result: str | None) -> None:
        with self.flow.store.transaction():
            self.lc.mark_sent(row.id, self.flow.clock.now(), result)
            if row.kind == AskExpert.kind and row.ask_id and result:
                self.lc.set_message_ref(row.ask_id, result)
