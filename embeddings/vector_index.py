"""An in-memory index of knowledge-item vectors, searched by cosine similarity.

Rows are unit vectors, so a dot product is the cosine. Items can be added or replaced at
any time (an answer becomes knowledge while the bot runs).

Two ways to search, chosen by `AnnConfig`:
- exact: a float32 matrix scanned whole (it grows by doubling). Best for small orgs.
- approximate: an IVF index with 8-bit codes (`embeddings.ann`), a quarter of the memory
  and a scan of a few percent of the items. In "auto" mode the index switches to it once it
  holds `threshold` items; in "on" mode once it holds `min_items` (below that a scan is
  exact and just as fast); in "off" mode never.

Items can also be removed. An exact index moves its last row into the gap; an approximate
one cannot move a row (it keeps codes, not vectors), so the row becomes a hole: its item
id reads "" (never a real id) and the approximate index no longer holds it, so no search
returns it. The approximate index and its rows can be saved and restored
(`embeddings.index_store`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from embeddings.ann import IvfIndex

ANN_MODES = ("auto", "on", "off")
# The approximate index's lists grow by doubling; once it holds this many times what it
# held when last compacted, it is rewritten at its exact size.
COMPACT_GROWTH = 1.5


@dataclass(frozen=True)
class AnnConfig:
    """When and how the vector index searches approximately."""

    mode: str = "auto"  # "auto", "on" or "off"
    threshold: int = 100_000  # "auto": items at which the approximate index takes over
    nprobe: int = 64  # clusters scanned per question (more for a big pool)
    lists: int = 0  # clusters; 0 = about 2 sqrt(items), retrained as the index grows
    min_items: int = 1024  # "on": items at which the approximate index takes over

    def __post_init__(self) -> None:
        if self.mode not in ANN_MODES:
            raise ValueError(f"unknown ANN mode {self.mode!r} (expected one of {ANN_MODES})")

    def switch_at(self) -> int | None:
        """How many items make the index go approximate (None: never)."""
        return {"auto": self.threshold, "on": self.min_items, "off": None}[self.mode]


class VectorIndex:
    """Item vectors with the person each item belongs to."""

    def __init__(self, dim: int, ann: AnnConfig | None = None) -> None:
        self.dim = dim
        self.ann_config = ann or AnnConfig(mode="off")
        self._matrix = np.zeros((0, dim), dtype=np.float32)
        self._people = np.zeros(0, dtype=np.int64)
        self.item_ids: list[str] = []
        self._row_of: dict[str, int] = {}
        self._size = 0  # rows in use, holes included
        self._holes = 0  # removed rows of an approximate index (item id "")
        self._ann: IvfIndex | None = None
        self._compacted_at = 0  # size of the approximate index when last compacted

    def __len__(self) -> int:
        """How many items the index holds (holes not counted)."""
        return self._size - self._holes

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._row_of

    @property
    def rows(self) -> int:
        """Rows in use, holes included: row numbers run from 0 to this."""
        return self._size

    @property
    def ann(self) -> IvfIndex | None:
        """The approximate index (None while the index is exact)."""
        return self._ann

    @property
    def approximate(self) -> bool:
        """Whether searches go through the approximate index."""
        return self._ann is not None

    @property
    def matrix(self) -> np.ndarray:
        """The (n, dim) matrix of current vectors (a view; do not modify). Exact mode only:
        an approximate index keeps 8-bit codes, not the vectors."""
        if self._ann is not None:
            raise RuntimeError("the approximate index keeps no float matrix")
        return self._matrix[: self._size]

    @property
    def people(self) -> np.ndarray:
        """For each row, the index of the person who wrote that item."""
        return self._people[: self._size]

    def upsert(self, item_ids: Sequence[str], people: Sequence[int], vectors: np.ndarray) -> None:
        """Add items, or replace the vectors of items already present."""
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(item_ids), self.dim)
        rows = np.empty(len(item_ids), dtype=np.int64)
        old_size = self._size
        new = sum(1 for item in item_ids if item not in self._row_of)
        self._reserve(self._size + new)
        for i, item in enumerate(item_ids):
            row = self._row_of.get(item)
            if row is None:
                row = self._size
                self._row_of[item] = row
                self.item_ids.append(item)
                self._size += 1
            rows[i] = row
        self._people[rows] = np.asarray(people, dtype=np.int64)
        if self._ann is not None:
            # A row written twice in one call keeps its last vector.
            _, last = np.unique(rows[::-1], return_index=True)
            keep = len(rows) - 1 - last
            self._ann.upsert(rows[keep], vectors[keep], replacing=bool((rows < old_size).any()))
            if len(self._ann) >= COMPACT_GROWTH * self._compacted_at:
                self._ann.compact()
                self._compacted_at = len(self._ann)
            return
        self._matrix[rows] = vectors
        switch_at = self.ann_config.switch_at()
        if switch_at is not None and self._size >= switch_at:
            self._go_approximate()

    def remove(self, item_ids: Iterable[str]) -> int:
        """Drop items (ids not held are ignored); returns how many were dropped."""
        rows = sorted(
            (r for item in set(item_ids) if (r := self._row_of.pop(item, None)) is not None),
            reverse=True,
        )
        if not rows:
            return 0
        if self._ann is not None:
            self._ann.remove(np.asarray(rows, dtype=np.int64))
            for row in rows:
                self.item_ids[row] = ""
            self._holes += len(rows)
            return len(rows)
        # Exact: fill each gap with the last row, highest gaps first, so that the row
        # moved is never one still waiting to be removed.
        for row in rows:
            last = self._size - 1
            if row != last:
                moved = self.item_ids[last]
                self._matrix[row] = self._matrix[last]
                self._people[row] = self._people[last]
                self.item_ids[row] = moved
                self._row_of[moved] = row
            self.item_ids.pop()
            self._size -= 1
        return len(rows)

    def rows_of(self, item_ids: Sequence[str]) -> np.ndarray:
        """The row of each item, -1 for items not held."""
        get = self._row_of.get
        return np.fromiter((get(item, -1) for item in item_ids), np.int64, len(item_ids))

    def set_people(self, item_ids: Sequence[str], people: Sequence[int]) -> None:
        """Give items another author (items not held are ignored); the vectors stay."""
        for item, person in zip(item_ids, people, strict=True):
            row = self._row_of.get(item)
            if row is not None:
                self._people[row] = person

    def restore(self, ann: IvfIndex, item_ids: list[str], people: np.ndarray) -> None:
        """Become the approximate index `ann`, whose ids are rows of `item_ids` ("" for a
        hole) written by `people` (a person index per row), replacing anything held."""
        if len(item_ids) != len(people):
            raise ValueError("one person per row expected")
        self._ann = ann
        self._compacted_at = len(ann)
        self._matrix = np.zeros((0, self.dim), dtype=np.float32)
        self._people = np.zeros(0, dtype=np.int64)
        self._size = 0
        self._reserve(len(item_ids))
        self._people[: len(item_ids)] = people
        self.item_ids = item_ids
        self._row_of = {item: row for row, item in enumerate(item_ids) if item}
        self._size = len(item_ids)
        self._holes = self._size - len(self._row_of)

    def similarities(self, query: np.ndarray) -> np.ndarray:
        """Cosine similarity of `query` (a unit vector) to every item, by row (exact mode)."""
        return self.matrix @ np.asarray(query, dtype=np.float32)

    def top(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The rows of the `k` most similar items and their similarities, best first."""
        if self._ann is not None:
            return self._ann.search(query, k)
        sims = self.similarities(query)
        k = min(k, len(sims))
        if k == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        rows = np.argpartition(-sims, k - 1)[:k]
        rows = rows[np.argsort(-sims[rows], kind="stable")]
        return rows, sims[rows]

    def _go_approximate(self) -> None:
        ann = IvfIndex(self.dim, nprobe=self.ann_config.nprobe, lists=self.ann_config.lists)
        ann.build(np.arange(self._size, dtype=np.int64), self.matrix)
        self._ann = ann
        self._compacted_at = len(ann)
        self._matrix = np.zeros((0, self.dim), dtype=np.float32)

    def _reserve(self, n: int) -> None:
        if n <= len(self._people):
            return
        capacity = max(n, 2 * len(self._people), 1024)
        people = np.zeros(capacity, dtype=np.int64)
        people[: self._size] = self.people
        self._people = people
        if self._ann is None:
            matrix = np.zeros((capacity, self.dim), dtype=np.float32)
            matrix[: self._size] = self._matrix[: self._size]
            self._matrix = matrix
