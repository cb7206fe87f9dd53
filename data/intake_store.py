"""Durable intake: every input a chat platform hands us is written here before we
acknowledge it, and marked done once the core has handled it.

Slack never resends an event it got a 200 for, and Teams does not resend an activity, so
anything acknowledged must already be on disk. The adapters write the raw request here
(in the same database as everything else) before the ack returns; a restart replays the
rows that never finished, oldest first. Replays are safe because every core input carries
the platform's event id and the core handles an id once.

The table is written through a connection of its own, with `synchronous = FULL`: an ack
must survive a power cut, not only a killed process, and it must not wait behind another
thread's use of the Store's shared connection (only behind SQLite's write lock, which the
core holds for milliseconds).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from data.lifecycle_store import from_iso, to_iso
from data.store import Store

# The table is made by migration 3 (data/migrations.py).

PENDING, DONE, FAILED = "pending", "done", "failed"
# A row whose handling failed this often is left for an admin instead of being replayed.
MAX_ATTEMPTS = 3
BUSY_TIMEOUT_MS = 5000


class IntakeBusy(RuntimeError):
    """The database could not take the write in time: the caller must not acknowledge."""


@dataclass(frozen=True)
class IntakeRow:
    """One accepted input."""

    id: int
    platform: str
    dedup_key: str | None
    body: str
    meta: dict[str, Any]
    received_at: datetime
    state: str
    attempts: int
    last_error: str | None


class IntakeStore:
    """Reads and writes of the `intake` table, on a connection of its own."""

    def __init__(self, store: Store) -> None:
        self._lock = threading.Lock()
        self._own = store.path != ":memory:"
        if not self._own:  # one in-memory database: share its connection
            self._conn = store.db.conn
            self._lock = store._lock  # the same connection needs the same lock
        else:
            self._conn = sqlite3.connect(
                store.path, check_same_thread=False, isolation_level=None, timeout=0
            )
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._conn.execute("PRAGMA synchronous = FULL")
            # Never checkpoint the WAL from the ack path (copying pages into the database
            # and syncing it can take a while); the Store's connections do it.
            self._conn.execute("PRAGMA wal_autocheckpoint = 0")

    def close(self) -> None:
        """Close the connection (if it is our own)."""
        if self._own:
            with self._lock:
                self._conn.close()

    def accept(
        self,
        platform: str,
        dedup_key: str | None,
        body: str,
        meta: dict[str, Any],
        now: datetime,
    ) -> int | None:
        """Write an input durably; returns its row id, or None if an input with the same
        key was accepted before (a platform retry). Raises IntakeBusy if the database
        could not take the write (the input must then not be acknowledged)."""
        try:
            with self._lock:
                cur = self._conn.execute(
                    "INSERT INTO intake(platform, dedup_key, body, meta, received_at) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT(platform, dedup_key) DO NOTHING",
                    (platform, dedup_key, body, json.dumps(meta), to_iso(now)),
                )
                if cur.rowcount == 1:
                    return cur.lastrowid
                # Seen before. Only a copy whose handling failed is taken again.
                cur = self._conn.execute(
                    "UPDATE intake SET state = ? WHERE platform = ? AND dedup_key = ? "
                    "AND state = ? AND attempts < ? RETURNING id",
                    (PENDING, platform, dedup_key, FAILED, MAX_ATTEMPTS),
                )
                rows = cur.fetchall()  # all: a RETURNING statement commits when it ends
                return rows[0][0] if rows else None
        except sqlite3.OperationalError as error:  # locked past the busy timeout, disk full
            raise IntakeBusy(str(error)) from error

    def started(self, intake_id: int) -> None:
        """Count a handling attempt (before it runs, so a crash counts too)."""
        self._write("UPDATE intake SET attempts = attempts + 1 WHERE id = ?", (intake_id,))

    def finish(self, intake_id: int, now: datetime) -> None:
        """The core has handled the input."""
        self._write(
            "UPDATE intake SET state = ?, finished_at = ?, last_error = NULL WHERE id = ?",
            (DONE, to_iso(now), intake_id),
        )

    def fail(self, intake_id: int, error: str, now: datetime) -> None:
        """Handling the input raised; it is replayed on the next start while it has
        attempts left."""
        self._write(
            "UPDATE intake SET state = ?, finished_at = ?, last_error = ? WHERE id = ?",
            (FAILED, to_iso(now), error[:500], intake_id),
        )

    def unfinished(self, platform: str, max_attempts: int = MAX_ATTEMPTS) -> list[IntakeRow]:
        """Inputs of `platform` that were accepted but never handled (or failed with
        attempts left), oldest first: what a restart must replay."""
        with self._lock:
            cur = self._conn.execute(
                "SELECT id, platform, dedup_key, body, meta, received_at, state, attempts, "
                "last_error FROM intake WHERE platform = ? AND "
                "(state = ? OR (state = ? AND attempts < ?)) ORDER BY id",
                (platform, PENDING, FAILED, max_attempts),
            )
            rows = cur.fetchall()
        return [
            IntakeRow(r[0], r[1], r[2], r[3], json.loads(r[4]), from_iso(r[5]), r[6], r[7], r[8])
            for r in rows
        ]

    def counts(self) -> dict[str, int]:
        """How many inputs are in each state."""
        with self._lock:
            rows = self._conn.execute("SELECT state, count(*) FROM intake GROUP BY state")
            return {state: n for state, n in rows}

    def prune(self, before: datetime, batch: int = 5000) -> int:
        """Forget handled inputs received before `before` (failed ones are kept for an
        admin to look at). Returns how many rows were deleted."""
        deleted = 0
        while True:
            n = self._write(
                "DELETE FROM intake WHERE id IN (SELECT id FROM intake "
                "WHERE state = ? AND received_at < ? LIMIT ?)",
                (DONE, to_iso(before), batch),
            )
            deleted += n
            if n < batch:
                return deleted

    def _write(self, sql: str, params: tuple[Any, ...]) -> int:
        with self._lock:
            return self._conn.execute(sql, params).rowcount
