"""The router's features: one row per person, one column per signal.

The live bot, `whoknows train` and `whoknows eval` all build features here, so what is
measured is what runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from data.person_index import PersonIndex
from embeddings.expertise import ExpertiseScores
from graph.contact_graph import Proximity

FEATURES = (
    "sem_max",  # cosine of the person's best item
    "sem_top3",  # mean cosine of their best three items
    "lex_max",  # BM25 of their best item
    "lex_top5",  # summed BM25 of their best five items
    "net_direct",  # strength of direct ties to the asker
    "net_two_hop",  # strength of paths through one shared contact
    "net_shared",  # number of shared contacts (log)
    "act_answers",  # answers given before (log)
    "act_items",  # knowledge items written (log)
    "act_recency",  # how recently they were active (1 = today, halves every 90 days)
)

RECENCY_HALF_LIFE_DAYS = 90.0


def to_epoch(timestamp: str | None) -> float:
    """Seconds since the epoch for an ISO date or datetime (UTC if no zone); NaN if None."""
    if not timestamp:
        return float("nan")
    parsed = datetime.fromisoformat(timestamp)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


class ActivityStats:
    """Per-person counts of knowledge written, answers given and the last activity time."""

    def __init__(self, people: PersonIndex) -> None:
        self.people = people
        self._items: dict[str, tuple[int, bool, float]] = {}  # id -> (person, is_answer, t)
        self.answers = np.zeros(0)
        self.items = np.zeros(0)
        self.last_active = np.zeros(0)

    def observe(self, item_id: str, person_id: str, kind: str, created_at: str | None) -> None:
        """Count an item (again, if it changed: its old record is replaced)."""
        self._grow()
        old = self._items.get(item_id)
        if old is not None:
            person, was_answer, _ = old
            self.items[person] -= 1
            self.answers[person] -= was_answer
        person = self.people.add(person_id)
        self._grow()
        when = to_epoch(created_at)
        is_answer = kind == "answer"
        self._items[item_id] = (person, is_answer, when)
        self.items[person] += 1
        self.answers[person] += is_answer
        if not np.isnan(when):
            self.last_active[person] = max(self.last_active[person], when)

    def _grow(self) -> None:
        n = len(self.people)
        if len(self.items) < n:
            pad = n - len(self.items)
            self.answers = np.r_[self.answers, np.zeros(pad)]
            self.items = np.r_[self.items, np.zeros(pad)]
            self.last_active = np.r_[self.last_active, np.zeros(pad)]


@dataclass
class FeatureTable:
    """Features of every person for one question and asker."""

    matrix: np.ndarray  # (n_people, len(FEATURES))
    expertise: ExpertiseScores
    proximity: Proximity

    def column(self, name: str) -> np.ndarray:
        """One feature for every person."""
        return self.matrix[:, FEATURES.index(name)]


def build_features(
    expertise: ExpertiseScores,
    proximity: Proximity,
    activity: ActivityStats,
    now: float,
) -> FeatureTable:
    """Stack every signal into one (people x features) matrix."""
    n = len(expertise.sem_max)
    activity._grow()
    days = np.maximum(0.0, (now - activity.last_active[:n]) / 86400.0)
    recency = np.where(activity.last_active[:n] > 0, 0.5 ** (days / RECENCY_HALF_LIFE_DAYS), 0.0)
    columns = {
        "sem_max": expertise.sem_max,
        "sem_top3": expertise.sem_top3,
        "lex_max": expertise.lex_max,
        "lex_top5": expertise.lex_top5,
        "net_direct": proximity.direct[:n],
        "net_two_hop": proximity.two_hop[:n],
        "net_shared": np.log1p(proximity.shared[:n]),
        "act_answers": np.log1p(activity.answers[:n]),
        "act_items": np.log1p(activity.items[:n]),
        "act_recency": recency,
    }
    matrix = np.column_stack([columns[name] for name in FEATURES]).astype(np.float64)
    return FeatureTable(matrix, expertise, proximity)
