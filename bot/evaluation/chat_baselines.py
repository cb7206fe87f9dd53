"""The causal baselines of EVAL-CHAT.md, computed as the replay walks the timeline.

Each baseline sees only messages strictly before the question, like the router. They are
kept incrementally (one pass over the timeline for every question), and scored for the
candidates only: everyone who had posted before the question, minus the asker.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence

import numpy as np

from bot.evaluation.chat_protocol import ChatLine, ChatQuestion

RECENT_DAYS = 14
BM25_K1, BM25_B = 1.2, 0.75
BM25_TOP = 5
TWO_HOP = 0.3
# The combination's weights, as EVAL-CHAT.md gives them: recent, BM25, network, popularity.
COMBINATION = {"recent": 0.5, "bm25": 1.0, "network": 2.0, "popularity": 1.0}
POPULARITY = "popularity"
RECENT = "recent (14 days)"
BM25 = "BM25 (top-5 sum)"
NETWORK = "network"
COMBINED = "combination (0.5, 1, 2, 1)"
BASELINE_NAMES = (POPULARITY, RECENT, BM25, NETWORK, COMBINED)

_MENTION = re.compile(r"<[@!][^<>]*>")
_TOKEN = re.compile(r"[a-z0-9]+")
# A common English stop list (articles, pronouns, auxiliaries, prepositions, conjunctions).
STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not now of off on once only or
    other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your yours
    yourself yourselves""".split()
)


def tokens(text: str) -> list[str]:
    """BM25's tokens: mentions dropped, lower-case [a-z0-9]+ of 2+ characters, no stop words."""
    text = _MENTION.sub(" ", text).lower()
    return [t for t in _TOKEN.findall(text) if len(t) >= 2 and t not in STOP_WORDS]


class ChatBaselines:
    """Every baseline's state, fed message by message in time order."""

    def __init__(self) -> None:
        self.posted: Counter[str] = Counter()  # messages so far: the tie-break
        self._times: dict[str, list[float]] = defaultdict(list)  # each person's message times
        self._root_author: dict[tuple[str, str], str] = {}
        self._replied: dict[str, set[tuple[str, str]]] = defaultdict(set)
        self._thread_people: dict[tuple[str, str], set[str]] = defaultdict(set)
        self._w: dict[str, Counter[str]] = defaultdict(Counter)  # shared threads
        # BM25: one document per message
        self._doc_author: list[str] = []
        self._doc_len: list[int] = []
        self._postings: dict[str, list[tuple[int, int]]] = defaultdict(list)  # term -> (doc, tf)

    def observe(self, line: ChatLine) -> None:
        """Take one message (they must come in time order)."""
        user = line.user
        self.posted[user] += 1
        self._times[user].append(line.ts)
        key = line.thread_key
        if line.thread is not None and not line.is_reply:
            self._root_author.setdefault(key, user)
        root = self._root_author.get(key)
        if line.is_reply and root is not None and root != user:
            self._replied[user].add(key)
        people = self._thread_people[key]
        if user not in people:
            for other in people:
                self._w[user][other] += 1
                self._w[other][user] += 1
            people.add(user)
        terms = Counter(tokens(line.text))
        doc = len(self._doc_author)
        self._doc_author.append(user)
        self._doc_len.append(sum(terms.values()))
        for term, tf in terms.items():
            self._postings[term].append((doc, tf))

    def candidates(self, asker: str) -> list[str]:
        """Everyone who has posted so far, minus the asker."""
        return [p for p in self.posted if p != asker]

    # ----------------------------------------------------------------- the scores

    def popularity(self, people: Sequence[str]) -> np.ndarray:
        """Distinct threads started by someone else in which the person replied."""
        return np.array([len(self._replied.get(p, ())) for p in people], dtype=float)

    def recent(self, people: Sequence[str], now: float) -> np.ndarray:
        """Messages posted in the RECENT_DAYS before `now`."""
        since = now - RECENT_DAYS * 86400.0
        out = []
        for p in people:
            times = self._times.get(p, [])
            out.append(len(times) - bisect_left(times, since))
        return np.array(out, dtype=float)

    def bm25(self, people: Sequence[str], text: str) -> np.ndarray:
        """The sum of each person's BM25_TOP best message scores for `text`."""
        n_docs = len(self._doc_author)
        if not n_docs:
            return np.zeros(len(people))
        avg = sum(self._doc_len) / n_docs or 1.0
        scores: dict[int, float] = defaultdict(float)
        for term in set(tokens(text)):
            posting = self._postings.get(term)
            if not posting:
                continue
            idf = math.log(1.0 + (n_docs - len(posting) + 0.5) / (len(posting) + 0.5))
            for doc, tf in posting:
                norm = BM25_K1 * (1.0 - BM25_B + BM25_B * self._doc_len[doc] / avg)
                scores[doc] += idf * tf * (BM25_K1 + 1.0) / (tf + norm)
        per_person: dict[str, list[float]] = defaultdict(list)
        for doc, score in scores.items():
            per_person[self._doc_author[doc]].append(score)
        return np.array(
            [sum(sorted(per_person.get(p, []), reverse=True)[:BM25_TOP]) for p in people]
        )

    def network(self, people: Sequence[str], asker: str) -> np.ndarray:
        """Shared threads with the asker, plus TWO_HOP times the asker-weighted mean of
        shared threads through each of the asker's contacts."""
        mine = self._w.get(asker, Counter())
        total = sum(mine.values())
        out = []
        for b in people:
            score = float(mine.get(b, 0))
            if total:
                score += (
                    TWO_HOP
                    * sum(w * self._w[c].get(b, 0) for c, w in mine.items() if c != b)
                    / total
                )
            out.append(score)
        return np.array(out)

    def rankings(self, question: ChatQuestion, k: int = 100) -> dict[str, list[str]]:
        """Every baseline's ranking (top `k` candidates) for `question`, asked now."""
        people = self.candidates(question.asker)
        if not people:
            return {name: [] for name in BASELINE_NAMES}
        scores = {
            "popularity": self.popularity(people),
            "recent": self.recent(people, question.root.ts),
            "bm25": self.bm25(people, question.root.text),
            "network": self.network(people, question.asker),
        }
        combined = sum(w * normalised_rank(scores[name]) for name, w in COMBINATION.items())
        rank = self.ranker(people, k)
        return {
            POPULARITY: rank(scores["popularity"]),
            RECENT: rank(scores["recent"]),
            BM25: rank(scores["bm25"]),
            NETWORK: rank(scores["network"]),
            COMBINED: rank(combined),
        }

    def ranker(self, people: Sequence[str], k: int) -> Callable[[np.ndarray], list[str]]:
        """Best first; ties broken by messages posted so far, then user id."""
        posted = [self.posted[p] for p in people]

        def rank(scores: np.ndarray) -> list[str]:
            order = sorted(range(len(people)), key=lambda i: (-scores[i], -posted[i], people[i]))
            return [people[i] for i in order[:k]]

        return rank


def normalised_rank(scores: np.ndarray) -> np.ndarray:
    """Each score's rank scaled to 1 (top) .. 0 (bottom); ties share their average rank."""
    n = len(scores)
    if n < 2:
        return np.ones(n)
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(n)
    sorted_scores = scores[order]
    i = 0
    while i < n:  # runs of equal scores share the mean of their 0-based places
        j = i
        while j + 1 < n and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0
        i = j + 1
    return 1.0 - ranks / (n - 1)
