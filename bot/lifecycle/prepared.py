"""Routing work done before a write transaction opens.

Embedding a question and ranking the whole org takes tens of milliseconds; inside the
transaction that creates the asks it would hold SQLite's write lock all that time, and
every acknowledgement (the intake row written before each ack) would wait behind it.
So an input that is about to route first *prepares*: the question's vector and its
first-wave ranking are computed outside any transaction and kept here for a moment; the
transaction then takes them instead of computing them again. A ranking is only used
for the case it was made for (nobody asked yet), and only while fresh.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from bot.router import Candidate, Router

# A prepared ranking older than this is not used (the org may have changed meanwhile).
FRESH_SECONDS = 30.0
KEEP = 64  # at most this many prepared questions (a crash of the caller leaves one behind)


@dataclass(frozen=True)
class Prepared:
    """A question's vector and its ranking with nobody excluded."""

    vector: np.ndarray
    ranked: list[Candidate]
    made: float


class PreparedRouting:
    """Rankings made before their transaction, keyed by (question text, asker)."""

    def __init__(self, router: Router, pool: int) -> None:
        self.router = router
        self.pool = pool
        self._items: OrderedDict[tuple[str, str], Prepared] = OrderedDict()
        self._lock = threading.Lock()

    def prepare(self, text: str, asker_id: str, now: float) -> None:
        """Embed `text` and rank everyone for `asker_id`, outside any transaction."""
        self.router.sync()
        vector = np.asarray(self.router.encoder.encode_one(text))
        ranked = self.router.rank(
            text, asker_id, limit=self.pool, exclude=set(), now=now, query_vector=vector
        )
        with self._lock:
            self._items[(text, asker_id)] = Prepared(vector, ranked, time.monotonic())
            self._items.move_to_end((text, asker_id))
            while len(self._items) > KEEP:
                self._items.popitem(last=False)

    def vector(self, text: str, asker_id: str) -> np.ndarray | None:
        """The prepared vector of a question, if fresh (it stays prepared)."""
        found = self._fresh(text, asker_id, take=False)
        return found.vector if found else None

    def take(self, text: str, asker_id: str) -> Prepared | None:
        """The prepared ranking of a question, if fresh; it is used up."""
        return self._fresh(text, asker_id, take=True)

    def _fresh(self, text: str, asker_id: str, take: bool) -> Prepared | None:
        with self._lock:
            key = (text, asker_id)
            found = self._items.pop(key, None) if take else self._items.get(key)
        if found is None or time.monotonic() - found.made > FRESH_SECONDS:
            return None
        return found
