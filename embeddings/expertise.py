"""Per-person expertise on a question, from item-level matches, with the evidence.

Expertise is document-centric: a question is matched against each knowledge item, and a
person's score aggregates the scores of their best items. Two signals are kept apart
because they fail differently: embeddings catch paraphrases ("pods OOM killed" ~ "memory
limits"), BM25 catches rare exact terms (product names, error codes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from data.store import LexicalHit
from embeddings.vector_index import VectorIndex


@dataclass(frozen=True)
class Match:
    """One knowledge item that matched the question, and how strongly."""

    item_id: str
    score: float
    signal: str  # "semantic" or "lexical"


@dataclass
class ExpertiseScores:
    """Per-person expertise arrays (indexed like the router's people), and the item-level
    matches behind them, from which `evidence` picks a person's best items on demand (only
    the few people finally chosen need theirs)."""

    sem_max: np.ndarray
    sem_top3: np.ndarray
    lex_max: np.ndarray
    lex_top5: np.ndarray
    sem_soft: np.ndarray | None = None
    sem_answer: np.ndarray | None = None
    lex_answer: np.ndarray | None = None
    # Semantic matches best first: the person of each, and its item id and similarity.
    sem_people: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    sem_items: Sequence[str] = ()
    sem_scores: np.ndarray = field(default_factory=lambda: np.zeros(0))
    lexical: Sequence[tuple[int, LexicalHit]] = ()  # (person, hit), best first

    def __post_init__(self) -> None:
        for name in ("sem_soft", "sem_answer", "lex_answer"):
            if getattr(self, name) is None:
                setattr(self, name, np.zeros_like(self.sem_max))

    def evidence(self, person: int, per_person: int = 3) -> list[Match]:
        """The person's best semantic matches (up to `per_person`), then a lexical one
        not already among them."""
        found = [
            Match(self.sem_items[at], float(self.sem_scores[at]), "semantic")
            for at in np.flatnonzero(self.sem_people == person)[:per_person]
        ]
        for who, hit in self.lexical:
            if len(found) > per_person:
                break
            if who == person and all(m.item_id != hit.item_id for m in found):
                found.append(Match(hit.item_id, hit.score, "lexical"))
        return found


# Sharpness of the soft maximum over a person's item similarities: at 20, an item 0.1
# below the best counts e^-2 as much, so several good items beat one, but many weak
# ones do not add up to a strong one.
SOFT_MAX_SHARPNESS = 20.0

# Tells which of a list of item ids are answers (the strongest evidence of expertise).
AnswerMask = Callable[[Sequence[str]], np.ndarray]


def top_k_mean_by_group(
    groups: np.ndarray, scores: np.ndarray, n_groups: int, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each group, the max, the mean of its top-k and the sum of its top-k scores.

    `scores` must be sorted best first; groups with no score get 0.
    """
    best = np.zeros(n_groups, dtype=np.float64)
    total = np.zeros(n_groups, dtype=np.float64)
    count = np.zeros(n_groups, dtype=np.float64)
    if len(scores) == 0:
        return best, total, total.copy()
    # A stable sort by group keeps each group's scores best first, so the rank of a row
    # inside its group is its position minus the position of the group's first row.
    order = np.argsort(groups, kind="stable")
    g = groups[order]
    s = scores[order]
    starts = np.r_[0, np.flatnonzero(np.diff(g)) + 1]
    first = np.repeat(starts, np.diff(np.r_[starts, len(g)]))
    keep = (np.arange(len(g)) - first) < k
    np.add.at(total, g[keep], s[keep])
    np.add.at(count, g[keep], 1.0)
    best[g[starts]] = s[starts]
    mean = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    return best, mean, total


def soft_max_by_group(
    groups: np.ndarray, scores: np.ndarray, n_groups: int, sharpness: float
) -> np.ndarray:
    """For each group, log-sum-exp of its scores / sharpness (0 for empty groups).

    One item scores its own similarity; several close to the best score a little more.
    """
    out = np.zeros(n_groups, dtype=np.float64)
    if len(scores) == 0:
        return out
    total = np.bincount(groups, weights=np.exp(sharpness * (scores - 1.0)), minlength=n_groups)
    has = total > 0
    out[has] = 1.0 + np.log(total[has]) / sharpness
    return np.maximum(out, 0.0)


def semantic_expertise(
    index: VectorIndex,
    query: np.ndarray,
    n_people: int,
    pool: int,
    answer_mask: AnswerMask | None = None,
    hidden: AnswerMask | None = None,
) -> tuple[np.ndarray, ...]:
    """Score people by the cosine of their best items to `query`.

    Only the `pool` most similar items are aggregated: anyone without an item among them
    gets 0. Items `hidden` says the asker may not see are left out (the search looks
    further to fill the pool). Returns (max, mean of top 3, soft max, best answer, person
    of each matched row, matched rows, their similarities), matches best first.
    """
    rows, sims = index.top(query, pool if hidden is None else 2 * pool)
    if hidden is not None and len(rows):
        keep = ~hidden(_ItemIds(index.item_ids, rows))
        rows, sims = rows[keep][:pool], sims[keep][:pool]
    sims = np.clip(sims.astype(np.float64), 0.0, None)
    people = index.people[rows]
    best, mean3, _ = top_k_mean_by_group(people, sims, n_people, 3)
    soft = soft_max_by_group(people, sims, n_people, SOFT_MAX_SHARPNESS)
    best_answer = np.zeros(n_people)
    if answer_mask is not None and len(rows):
        is_answer = answer_mask(_ItemIds(index.item_ids, rows))
        best_answer, _, _ = top_k_mean_by_group(people[is_answer], sims[is_answer], n_people, 1)
    return best, mean3, soft, best_answer, people, rows, sims


def lexical_expertise(
    hits: Sequence[LexicalHit], person_index: dict[str, int], n_people: int
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, LexicalHit]]]:
    """Score people by the BM25 scores of their best items.

    Returns (max, sum of top 5, [(person, hit), ...] best first). Hits by people not in
    `person_index` (not in the directory) are dropped.
    """
    kept = [(person_index[h.person_id], h) for h in hits if h.person_id in person_index]
    if not kept:
        zeros = np.zeros(n_people)
        return zeros, zeros.copy(), []
    people = np.array([p for p, _ in kept], dtype=np.int64)
    scores = np.array([h.score for _, h in kept], dtype=np.float64)
    best, _, top5 = top_k_mean_by_group(people, scores, n_people, 5)
    return best, top5, kept


def lexical_answer_expertise(
    kept: list[tuple[int, LexicalHit]], n_people: int, answer_mask: AnswerMask
) -> np.ndarray:
    """Summed BM25 of each person's five best answers among `kept` hits."""
    if not kept:
        return np.zeros(n_people)
    is_answer = answer_mask([h.item_id for _, h in kept])
    people = np.array([p for p, _ in kept], dtype=np.int64)[is_answer]
    scores = np.array([h.score for _, h in kept], dtype=np.float64)[is_answer]
    return top_k_mean_by_group(people, scores, n_people, 5)[2]


def expertise(
    index: VectorIndex,
    query: np.ndarray,
    hits: Sequence[LexicalHit] | Callable[[], Sequence[LexicalHit]],
    person_index: dict[str, int],
    semantic_pool: int,
    answer_mask: AnswerMask | None = None,
    hidden: AnswerMask | None = None,
) -> ExpertiseScores:
    """Both signals for every person, with the matches behind them.

    `hits` may be a function that returns them: it is called after the vector search, so
    that a full-text search running in another thread overlaps it. Items `hidden` marks
    (the asker may not read them: `bot.learning.audience`) count in neither signal.
    """
    n = len(person_index)
    sem_max, sem_top3, sem_soft, sem_answer, people, rows, sims = semantic_expertise(
        index, query, n, semantic_pool, answer_mask, hidden
    )
    if callable(hits):
        hits = hits()
    if hidden is not None and hits:
        mask = hidden([h.item_id for h in hits])
        hits = [h for h, out in zip(hits, mask, strict=True) if not out]
    lex_max, lex_top5, lex_ranked = lexical_expertise(hits, person_index, n)
    lex_answer = (
        lexical_answer_expertise(lex_ranked, n, answer_mask) if answer_mask else np.zeros(n)
    )
    return ExpertiseScores(
        sem_max,
        sem_top3,
        lex_max,
        lex_top5,
        sem_soft,
        sem_answer,
        lex_answer,
        sem_people=people,
        sem_items=_ItemIds(index.item_ids, rows),
        sem_scores=sims,
        lexical=lex_ranked,
    )


class _ItemIds(Sequence[str]):
    """The item ids of some index rows, looked up only when read."""

    def __init__(self, item_ids: Sequence[str], rows: np.ndarray) -> None:
        self._item_ids = item_ids
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, at):  # type: ignore[override]
        if isinstance(at, slice):
            return [self._item_ids[r] for r in self._rows[at].tolist()]
        return self._item_ids[int(self._rows[at])]

    def __iter__(self) -> Iterator[str]:
        # Python ints index a list several times faster than numpy integers.
        return map(self._item_ids.__getitem__, self._rows.tolist())
