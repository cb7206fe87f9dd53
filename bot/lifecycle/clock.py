"""Time, injected: the system clock in production, a hand-moved clock in tests and the
console sandbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the current time as an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        """Now, in UTC."""
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday morning

    def now(self) -> datetime:
        """The clock's current time."""
        return self._now

    def advance(self, **delta: float) -> datetime:
        """Move forward by a timedelta's keywords (minutes=30, hours=2...); returns now."""
        self._now += timedelta(**delta)
        return self._now

    def set(self, moment: datetime) -> None:
        """Jump to `moment` (aware)."""
        self._now = moment
