"""Who may be asked now, and who is better asked first: caps, load, quiet hours, passes.

The router says who knows; this says who can reasonably be bothered. Hard limits (opted
out, daily cap) exclude a person; soft ones (quiet hours, many open asks, a recent pass on
a similar question, being far from the asker) only move them down the list, so the best
expert is still asked when nobody else fits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from bot.router import Candidate
from bot.settings import LifecycleSettings
from data.lifecycle_store import LifecycleStore
from data.models import Person
from embeddings.encoder import Encoder


@dataclass(frozen=True)
class Availability:
    """What the policy thinks of asking one person now."""

    allowed: bool
    why_not: str = ""
    send_after: datetime | None = None  # set when they are in quiet hours
    busy: bool = False

    @property
    def quiet(self) -> bool:
        """True if the request would wait for their quiet hours to end."""
        return self.send_after is not None


class AskPolicy:
    """Availability and ordering rules for asking people."""

    def __init__(
        self, settings: LifecycleSettings, lifecycle: LifecycleStore, encoder: Encoder
    ) -> None:
        self.settings = settings
        self.lifecycle = lifecycle
        self.encoder = encoder
        self._text_vectors: dict[str, np.ndarray] = {}

    # --------------------------------------------------------------------- one person

    def zone(self, person: Person) -> ZoneInfo:
        """The person's time zone (the org default if unknown)."""
        try:
            return ZoneInfo(person.timezone or self.settings.default_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo(self.settings.default_timezone)

    def quiet_until(self, person: Person, now: datetime) -> datetime | None:
        """When the person's quiet time ends, if they are in it now; else None."""
        prefs = self.lifecycle.preferences(person.id)
        start = self.settings.quiet_start_hour if prefs.quiet_start is None else prefs.quiet_start
        end = self.settings.quiet_end_hour if prefs.quiet_end is None else prefs.quiet_end
        local = now.astimezone(self.zone(person))
        if not self._quiet_at(local, start, end):
            return None
        moment = local
        for _ in range(24 * 4):  # a quiet stretch never lasts longer than a long weekend
            moment = (moment + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
            if not self._quiet_at(moment, start, end):
                return moment.astimezone(now.tzinfo)
        return None

    def _quiet_at(self, local: datetime, start: int, end: int) -> bool:
        if self.settings.quiet_weekends and local.weekday() >= 5:
            return True
        if start == end:
            return False
        hour = local.hour
        return (start <= hour < end) if start < end else (hour >= start or hour < end)

    def daily_cap(self, person: Person) -> int:
        """How many asks the person accepts per 24 hours."""
        mine = self.lifecycle.preferences(person.id).max_asks_per_day
        return min(mine, self.settings.daily_ask_cap) if mine else self.settings.daily_ask_cap

    def availability(self, person: Person, now: datetime) -> Availability:
        """Whether the person may be asked now, and when the request would reach them."""
        if person.opted_out:
            return Availability(False, f"{person.name} has opted out of requests")
        if self.lifecycle.asks_since(person.id, now - timedelta(days=1)) >= self.daily_cap(person):
            return Availability(False, f"{person.name} has had enough requests for today")
        busy = self.lifecycle.open_asks_count(person.id) >= self.settings.max_open_asks
        return Availability(True, send_after=self.quiet_until(person, now), busy=busy)

    # ------------------------------------------------------------------- a candidate list

    def order(
        self,
        candidates: Sequence[Candidate],
        question_vector: np.ndarray,
        radius: int,
        now: datetime,
    ) -> list[tuple[Candidate, Availability]]:
        """The candidates who may be asked, best first.

        The router's order stands, except that people close to the asker (within `radius`
        hops) who have written something relevant move up one place (a request through a
        colleague gets answered), and people who are busy, in quiet hours or recently passed
        on a similar question are tried after those who are not.
        """
        allowed = []
        for c in candidates:
            a = self.availability(c.person, now)
            if a.allowed:
                allowed.append((c, a))
        declined = self._declined_similar([c.person.id for c, _ in allowed], question_vector, now)

        def key(entry: tuple[int, tuple[Candidate, Availability]]) -> tuple:
            position, (c, a) = entry
            near = 1 <= c.hops <= radius and bool(c.evidence)
            return (c.person.id in declined, a.busy, a.quiet, position - 1.5 * near)

        return [entry for _, entry in sorted(enumerate(allowed), key=key)]

    def _declined_similar(
        self, person_ids: list[str], question_vector: np.ndarray, now: datetime
    ) -> set[str]:
        since = now - timedelta(days=self.settings.decline_memory_days)
        texts = self.lifecycle.declined_texts(person_ids, since)
        new = sorted({t for ts in texts.values() for t in ts} - set(self._text_vectors))
        if new:
            for text, vec in zip(new, self.encoder.encode(new), strict=True):
                self._text_vectors[text] = vec
        threshold = self.settings.decline_similarity
        return {
            pid
            for pid, ts in texts.items()
            if any(float(self._text_vectors[t] @ question_vector) >= threshold for t in ts)
        }
