"""The router's features: one row per person, one column per signal.

The live bot, `whoknows train` and `whoknows eval` all build features here, so what is
measured is what runs. Every column is computed for everyone at once (numpy and sparse
products, no loop over people), and every count is kept incrementally as items arrive.
The table keeps the question-dependent columns only for the people with a signal on the
question (a few thousand of 100,000), which is what makes a big org fast to rank.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from data.models import Contact, KnowledgeItem
from data.person_index import PersonIndex
from data.store import Store
from embeddings.expertise import ExpertiseScores
from graph.contact_graph import Proximity

# Each feature belongs to one signal group; the ablation removes a group at a time.
FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "semantic": (
        "sem_max",  # cosine of the person's best item
        "sem_top3",  # mean cosine of their best three items
        "sem_soft",  # soft maximum (log-sum-exp) over their items: many good items count
        "sem_answer",  # cosine of their best answer (answers are the strongest evidence)
    ),
    "lexical": (
        "lex_max",  # BM25 of their best item
        "lex_top5",  # summed BM25 of their best five items
        "lex_answer",  # summed BM25 of their best five answers
    ),
    "tags": (
        "tag_answers",  # IDF-weighted count of their answers on the question's tags (log)
        "tag_items",  # the same over everything they wrote or declared (skills included)
        "tag_focus",  # share of their answers that are on the question's tags
    ),
    "network": (
        "net_direct",  # strength of direct ties to the asker
        "net_two_hop",  # strength of paths through one shared contact
        "net_shared",  # number of shared contacts (log)
        "net_helped",  # times they helped (answered) the asker before (log)
    ),
    "mention": ("mentioned",),  # named in the question (an @mention): the asker thought of them
    "activity": (
        "act_answers",  # answers given before (log)
        "act_items",  # knowledge items written (log)
        "act_recency",  # how recently they were active (1 = now, halves every 90 days)
        "act_recent_answers",  # answers given lately, each halving in weight every 90 days (log)
    ),
    "availability": (
        "avail_hour",  # around right now: 1 if active this moment, halves every hour
        "avail_day",  # around today: halves every day since they were last active
        "avail_time_of_day",  # share of their activity at this hour of the day (UTC, +-1 h)
    ),
    "responsiveness": (
        "resp_answer_share",  # answers among what they wrote: answerers, not askers
        "resp_ask_rate",  # asks answered among asks received through the bot (smoothed)
    ),
}
FEATURES: tuple[str, ...] = tuple(f for group in FEATURE_GROUPS.values() for f in group)
GROUP_OF: dict[str, str] = {f: g for g, fs in FEATURE_GROUPS.items() for f in fs}

RECENCY_HALF_LIFE_DAYS = 90.0
DAY = 86400.0
HOUR = 3600.0
# Reference time for decayed counts (sum of 2^((t - T0) / half-life)): stays finite in
# float64 for centuries either side.
_T0 = datetime(2000, 1, 1, tzinfo=UTC).timestamp()
_TAG_SPLIT = re.compile(r"[^\w+#.]+", re.UNICODE)


def to_epoch(timestamp: str | None) -> float:
    """Seconds since the epoch for an ISO date or datetime (UTC if no zone); NaN if None."""
    if not timestamp:
        return float("nan")
    parsed = datetime.fromisoformat(timestamp)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def normalise_tag(tag: str) -> str:
    """Tags compare lower-cased with runs of spaces, dashes and underscores as one dash."""
    return re.sub(r"[\s_-]+", "-", tag.strip().lower())


@dataclass(slots=True)  # a million of these at org scale: no per-instance dict
class _ItemRecord:
    person: int
    kind: str
    when: float
    tags: tuple[str, ...]


class ActivityStats:
    """Per-person record of what they wrote and answered, when, on which tags, whom they
    helped, and how they responded to asks: everything the non-text features need."""

    def __init__(self, people: PersonIndex) -> None:
        self.people = people
        self._items: dict[str, _ItemRecord] = {}
        self._answer_ids: set[str] = set()  # a set answers "which are answers" at C speed
        self.answers = np.zeros(0)
        self.questions = np.zeros(0)
        self.items = np.zeros(0)
        self.last_active = np.zeros(0)
        self.answer_decay = np.zeros(0)  # sum over answers of 2^((t - T0) / half-life)
        self.asks_received = np.zeros(0)
        self.asks_answered = np.zeros(0)
        # What they wrote per hour of the day (UTC): when they are usually around.
        self.hours = np.zeros((0, 24), dtype=np.float32)
        # Inverted tag index: tag -> {person: count}, for answers and for every item.
        self._tag_answers: dict[str, dict[int, float]] = defaultdict(dict)
        self._tag_items: dict[str, dict[int, float]] = defaultdict(dict)
        self._tag_df: dict[str, int] = defaultdict(int)  # items carrying each tag
        self._tagged_items = 0
        # helped[asker][helper] = weight of "helper helped asker" ties.
        self._helped: dict[int, dict[int, float]] = defaultdict(dict)

    # ----------------------------------------------------------------------- updates

    def observe_item(self, item: KnowledgeItem) -> None:
        """Count an item (again, if it changed: its old record is replaced)."""
        self.observe(item.id, item.person_id, item.kind, item.created_at, item.tags)

    def observe(
        self,
        item_id: str,
        person_id: str,
        kind: str,
        created_at: str | None,
        tags: Sequence[str] = (),
    ) -> None:
        """Count an item (again, if it changed: its old record is replaced)."""
        old = self._items.pop(item_id, None)
        if old is not None:
            self._count(old, -1.0)
            self._answer_ids.discard(item_id)
        record = _ItemRecord(
            self.people.add(person_id),
            kind,
            to_epoch(created_at),
            tuple(dict.fromkeys(normalise_tag(t) for t in tags if t.strip())),
        )
        self._grow()
        self._items[item_id] = record
        if kind == "answer":
            self._answer_ids.add(item_id)
        self._count(record, 1.0)

    def observe_contact(self, contact: Contact) -> None:
        """Remember "a helped b" ties (the weight is the number of times, as stored)."""
        if contact.kind != "helped":
            return
        helper, asker = self.people.add(contact.a), self.people.add(contact.b)
        self._grow()
        self._helped[asker][helper] = float(contact.weight)

    def observe_ask(self, person_id: str, answered: bool, count: float = 1.0) -> None:
        """Record the outcome of asks through the bot (answered, or passed / expired)."""
        person = self.people.add(person_id)
        self._grow()
        self.asks_received[person] += count
        if answered:
            self.asks_answered[person] += count

    def set_ask_outcomes(self, outcomes: Iterable[AskOutcome]) -> None:
        """Replace the ask record with these outcomes (see `ask_outcomes`)."""
        self._grow()
        self.asks_received[:] = 0.0
        self.asks_answered[:] = 0.0
        for outcome in outcomes:
            self.observe_ask(outcome.person_id, outcome.answered)

    def _count(self, record: _ItemRecord, sign: float) -> None:
        p = record.person
        is_answer = record.kind == "answer"
        self.items[p] += sign
        self.answers[p] += sign * is_answer
        self.questions[p] += sign * (record.kind == "question")
        if not math.isnan(record.when):
            if sign > 0:
                self.last_active[p] = max(self.last_active[p], record.when)
            if is_answer:
                self.answer_decay[p] += sign * _decay_weight(record.when)
            self.hours[p, int(record.when // HOUR) % 24] += sign
        if record.tags:
            self._tagged_items += int(sign)
        for tag in record.tags:
            self._tag_df[tag] += int(sign)
            _bump(self._tag_items[tag], p, sign)
            if is_answer:
                _bump(self._tag_answers[tag], p, sign)

    def _grow(self) -> None:
        n = len(self.people)
        if len(self.items) < n:
            pad = np.zeros(n - len(self.items))
            for name in (
                "answers",
                "questions",
                "items",
                "last_active",
                "answer_decay",
                "asks_received",
                "asks_answered",
            ):
                setattr(self, name, np.r_[getattr(self, name), pad])
            grown = np.zeros((n, 24), dtype=np.float32)
            grown[: len(self.hours)] = self.hours
            self.hours = grown

    # ----------------------------------------------------------------------- reading

    def is_answer(self, item_ids: Sequence[str]) -> np.ndarray:
        """Which of these items are answers."""
        return np.fromiter(
            map(self._answer_ids.__contains__, item_ids), dtype=bool, count=len(item_ids)
        )

    def known_tags(self) -> set[str]:
        """Every tag seen on an item."""
        return {t for t, df in self._tag_df.items() if df > 0}

    def question_tags(self, text: str, tags: Iterable[str] = ()) -> list[str]:
        """The question's tags: those given, else known tags its words spell (up to 3
        words: "india pale ale" finds the tag india-pale-ale)."""
        given = [normalise_tag(t) for t in tags if t.strip()]
        if given:
            return list(dict.fromkeys(given))
        words = [w for w in _TAG_SPLIT.split(text.lower()) if w]
        found: dict[str, None] = {}
        for n in (1, 2, 3):
            for i in range(len(words) - n + 1):
                candidate = "-".join(words[i : i + n])
                if self._tag_df.get(candidate, 0) > 0:
                    found[candidate] = None
        return list(found)

    def tag_scores(self, tags: Sequence[str], n: int) -> tuple[np.ndarray, np.ndarray]:
        """IDF-weighted counts of each person's answers and items on `tags`."""
        answers, items = np.zeros(n), np.zeros(n)
        total = max(self._tagged_items, 1)
        for tag in tags:
            df = self._tag_df.get(tag, 0)
            if df <= 0:
                continue
            idf = math.log(1.0 + total / df)
            for target, index in ((answers, self._tag_answers), (items, self._tag_items)):
                _add_postings(target, index.get(tag), idf)
        return answers, items

    def time_of_day(self, now: float, n: int) -> np.ndarray:
        """Each person's share of activity within an hour of `now`'s hour of the day
        (smoothed: someone seen twice is not certain to be around)."""
        hour = int(now // HOUR) % 24
        near = self.hours[:n, [(hour - 1) % 24, hour, (hour + 1) % 24]].sum(axis=1)
        return near / (self.hours[:n].sum(axis=1) + 3.0)

    def helped(self, asker: int | None, n: int) -> np.ndarray:
        """How often each person helped `asker` before."""
        out = np.zeros(n)
        _add_postings(out, self._helped.get(asker) if asker is not None else None)
        return out


@dataclass(frozen=True)
class AskOutcome:
    """How one ask through the bot ended: answered (or referred on), or not."""

    person_id: str
    answered: bool
    closed_at: str | None


# Ask states that say how a person responds: answering or referring is responding;
# passing or letting the ask expire is not. Other states (pending, closed because someone
# else answered) say nothing about them.
RESPONDED_STATES = ("answered", "referred")
IGNORED_STATES = ("passed", "expired")


def ask_outcomes(store: Store) -> list[AskOutcome]:
    """Every finished ask from the question lifecycle's `asks` table (none without one)."""
    found = store.db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'asks'"
    ).fetchone()
    if not found:
        return []
    states = (*RESPONDED_STATES, *IGNORED_STATES)
    rows = store.db.execute(
        f"SELECT person_id, state, closed_at FROM asks WHERE state IN ({', '.join('?' * 4)})",
        states,
    )
    return [AskOutcome(p, state in RESPONDED_STATES, closed) for p, state, closed in rows]


def _add_postings(
    target: np.ndarray, postings: dict[int, float] | None, scale: float = 1.0
) -> None:
    """Add `scale` times each person's value in `postings` to `target` (people beyond its
    length, added since the arrays were sized, are left out)."""
    if not postings:
        return
    people = np.fromiter(postings.keys(), dtype=np.int64, count=len(postings))
    values = np.fromiter(postings.values(), dtype=np.float64, count=len(postings))
    keep = people < len(target)
    np.add.at(target, people[keep], scale * values[keep])


def _bump(postings: dict[int, float], person: int, by: float) -> None:
    value = postings.get(person, 0.0) + by
    if value > 0:
        postings[person] = value
    else:
        postings.pop(person, None)


def _decay_weight(when: float) -> float:
    return 2.0 ** ((when - _T0) / (RECENCY_HALF_LIFE_DAYS * DAY))


# Features that depend on the question or the asker, and those that only describe the
# person. A person with no question-dependent signal differs from the others only in the
# second kind, which is why a table keeps the first kind for the few people who have some.
PERSON_FEATURES: tuple[str, ...] = (
    FEATURE_GROUPS["activity"] + FEATURE_GROUPS["availability"] + FEATURE_GROUPS["responsiveness"]
)
QUESTION_FEATURES: tuple[str, ...] = tuple(f for f in FEATURES if f not in PERSON_FEATURES)
# Where each part's features sit in FEATURES.
QUESTION_AT = np.array([FEATURES.index(f) for f in QUESTION_FEATURES])
PERSON_AT = np.array([FEATURES.index(f) for f in PERSON_FEATURES])


@dataclass
class FeatureTable:
    """Features of every person for one question and asker.

    Stored in two parts, because at 100,000 people most of a dense table is zeros:
    `question` holds the question-dependent features (semantic, lexical, tags, network)
    of the people in `rows` only, everyone else having 0 in all of them; `person` holds
    the person features (activity, responsiveness) of everyone. `matrix` and `column`
    give the dense view.
    """

    rows: np.ndarray  # person indexes with a question-dependent signal, ascending
    question: np.ndarray  # (len(rows), len(QUESTION_FEATURES))
    person: np.ndarray  # (n_people, len(PERSON_FEATURES))
    expertise: ExpertiseScores
    proximity: Proximity
    asker_connected: bool = False  # does the asker have any tie at all?
    tags: tuple[str, ...] = ()
    _dense: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.person)

    @property
    def matrix(self) -> np.ndarray:
        """The dense (n_people, len(FEATURES)) matrix, built on first use."""
        if self._dense is None:
            dense = np.zeros((len(self), len(FEATURES)))
            dense[np.ix_(self.rows, QUESTION_AT)] = self.question
            dense[:, PERSON_AT] = self.person
            self._dense = dense
        return self._dense

    def column(self, name: str) -> np.ndarray:
        """One feature for every person."""
        if name in PERSON_FEATURES:
            return self.person[:, PERSON_FEATURES.index(name)]
        out = np.zeros(len(self))
        out[self.rows] = self.question[:, QUESTION_FEATURES.index(name)]
        return out

    def row(self, person: int) -> np.ndarray:
        """One person's features, aligned with FEATURES."""
        out = np.zeros(len(FEATURES))
        out[PERSON_AT] = self.person[person]
        at = np.searchsorted(self.rows, person)
        if at < len(self.rows) and self.rows[at] == person:
            out[QUESTION_AT] = self.question[at]
        return out


def build_features(
    expertise: ExpertiseScores,
    proximity: Proximity,
    activity: ActivityStats,
    now: float,
    tags: Sequence[str] = (),
    asker: int | None = None,
    mentioned: Sequence[int] = (),
) -> FeatureTable:
    """Every signal of every person, for one question and asker (see FeatureTable);
    `mentioned` are the people the question names."""
    n = len(expertise.sem_max)
    activity._grow()
    a = activity
    days = np.maximum(0.0, (now - a.last_active[:n]) / DAY)
    recency = np.where(a.last_active[:n] > 0, 0.5 ** (days / RECENCY_HALF_LIFE_DAYS), 0.0)
    recent_answers = a.answer_decay[:n] / _decay_weight(now)
    tag_answers, tag_items = a.tag_scores(tags, n)
    answers = a.answers[:n]
    since = np.where(a.last_active[:n] > 0, np.maximum(0.0, now - a.last_active[:n]), np.inf)
    named = np.zeros(n)
    for person in mentioned:
        if 0 <= person < n:
            named[person] = 1.0
    question = {
        "sem_max": expertise.sem_max,
        "sem_top3": expertise.sem_top3,
        "sem_soft": expertise.sem_soft,
        "sem_answer": expertise.sem_answer,
        "lex_max": expertise.lex_max,
        "lex_top5": expertise.lex_top5,
        "lex_answer": expertise.lex_answer,
        "tag_answers": np.log1p(tag_answers),
        "tag_items": np.log1p(tag_items),
        "tag_focus": _answer_share_on_tags(activity, tags, n, answers),
        "net_direct": proximity.direct[:n],
        "net_two_hop": proximity.two_hop[:n],
        "net_shared": np.log1p(proximity.shared[:n]),
        "net_helped": np.log1p(activity.helped(asker, n)),
        "mentioned": named,
    }
    person = {
        "act_answers": np.log1p(answers),
        "act_items": np.log1p(a.items[:n]),
        "act_recency": recency,
        "act_recent_answers": np.log1p(np.maximum(recent_answers, 0.0)),
        "avail_hour": 0.5 ** (since / HOUR),
        "avail_day": 0.5 ** (since / DAY),
        "avail_time_of_day": a.time_of_day(now, n),
        "resp_answer_share": (answers + 0.5) / (answers + a.questions[:n] + 1.0),
        "resp_ask_rate": (a.asks_answered[:n] + 1.0) / (a.asks_received[:n] + 2.0),
    }
    signal = np.zeros(n, dtype=bool)
    for values in question.values():
        signal |= values != 0
    rows = np.flatnonzero(signal)
    return FeatureTable(
        rows=rows,
        question=_columns([question[f][rows] for f in QUESTION_FEATURES], len(rows)),
        person=_columns([person[f] for f in PERSON_FEATURES], n),
        expertise=expertise,
        proximity=proximity,
        asker_connected=bool(proximity.direct[:n].any()),
        tags=tuple(tags),
    )


def _columns(columns: list[np.ndarray], n: int) -> np.ndarray:
    """Stack columns into an (n, len(columns)) matrix stored column by column: the ranker
    reduces each column over 100,000 people, which is 10 times faster on contiguous
    columns than across rows."""
    out = np.empty((n, len(columns)), order="F")
    for j, column in enumerate(columns):
        out[:, j] = column
    return out


def _answer_share_on_tags(
    activity: ActivityStats, tags: Sequence[str], n: int, answers: np.ndarray
) -> np.ndarray:
    """Share of each person's answers that carry at least one of `tags` (an upper bound:
    an answer with two of the tags counts twice, capped at 1)."""
    on_tags = np.zeros(n)
    for tag in tags:
        _add_postings(on_tags, activity._tag_answers.get(tag))
    return np.minimum(1.0, np.divide(on_tags, answers, out=np.zeros(n), where=answers > 0))
