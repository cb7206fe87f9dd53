"""Per-person expertise on a question, from item-level matches, with the evidence.

Expertise is document-centric: a question is matched against each knowledge item, and a
person's score aggregates the scores of their best items. Two signals are kept apart
because they fail differently: embeddings catch paraphrases ("pods OOM killed" ~ "memory
limits"), BM25 catches rare exact terms (product names, error codes).
"""

from __future__ import annotations

from collections.abc import Sequence
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
    """Per-person expertise arrays (indexed like the router's people) and evidence."""

    sem_max: np.ndarray
    sem_top3: np.ndarray
    lex_max: np.ndarray
    lex_top5: np.ndarray
    matches: dict[int, list[Match]] = field(default_factory=dict)


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


def semantic_expertise(
    index: VectorIndex, query: np.ndarray, n_people: int, pool: int
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int, float]]]:
    """Score people by the cosine of their best items to `query`.

    Only the `pool` most similar items are aggregated: anyone without an item among them
    gets 0. Returns (max, mean of top 3, [(person, row, similarity), ...] best first).
    """
    rows, sims = index.top(query, pool)
    sims = np.clip(sims.astype(np.float64), 0.0, None)
    people = index.people[rows]
    best, mean3, _ = top_k_mean_by_group(people, sims, n_people, 3)
    ranked = [(int(p), int(r), float(s)) for p, r, s in zip(people, rows, sims, strict=True)]
    return best, mean3, ranked


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


def expertise(
    index: VectorIndex,
    query: np.ndarray,
    hits: Sequence[LexicalHit],
    person_index: dict[str, int],
    semantic_pool: int,
    evidence_per_person: int = 3,
) -> ExpertiseScores:
    """Both signals for every person, plus their best matching items as evidence."""
    n = len(person_index)
    sem_max, sem_top3, sem_ranked = semantic_expertise(index, query, n, semantic_pool)
    lex_max, lex_top5, lex_ranked = lexical_expertise(hits, person_index, n)
    matches: dict[int, list[Match]] = {}
    for person, row, sim in sem_ranked:
        found = matches.setdefault(person, [])
        if len(found) < evidence_per_person:
            found.append(Match(index.item_ids[row], sim, "semantic"))
    for person, hit in lex_ranked:
        found = matches.setdefault(person, [])
        if len(found) < evidence_per_person + 1 and all(m.item_id != hit.item_id for m in found):
            found.append(Match(hit.item_id, hit.score, "lexical"))
    return ExpertiseScores(sem_max, sem_top3, lex_max, lex_top5, matches)
