"""An in-memory index of knowledge-item vectors, searched by cosine similarity.

Rows are unit vectors, so a dot product is the cosine. Items can be added or replaced at
any time (an answer becomes knowledge while the bot runs); the matrix grows by doubling.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class VectorIndex:
    """Item vectors with the person each item belongs to."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._matrix = np.zeros((0, dim), dtype=np.float32)
        self._people = np.zeros(0, dtype=np.int64)
        self.item_ids: list[str] = []
        self._row_of: dict[str, int] = {}
        self._size = 0

    def __len__(self) -> int:
        return self._size

    @property
    def matrix(self) -> np.ndarray:
        """The (n, dim) matrix of current vectors (a view; do not modify)."""
        return self._matrix[: self._size]

    @property
    def people(self) -> np.ndarray:
        """For each row, the index of the person who wrote that item."""
        return self._people[: self._size]

    def upsert(self, item_ids: Sequence[str], people: Sequence[int], vectors: np.ndarray) -> None:
        """Add items, or replace the vectors of items already present."""
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(item_ids), self.dim)
        new = [i for i, item in enumerate(item_ids) if item not in self._row_of]
        self._reserve(self._size + len(new))
        for i, item in enumerate(item_ids):
            row = self._row_of.get(item)
            if row is None:
                row = self._size
                self._row_of[item] = row
                self.item_ids.append(item)
                self._size += 1
            self._matrix[row] = vectors[i]
            self._people[row] = people[i]

    def similarities(self, query: np.ndarray) -> np.ndarray:
        """Cosine similarity of `query` (a unit vector) to every item, by row."""
        return self.matrix @ np.asarray(query, dtype=np.float32)

    def top(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The rows of the `k` most similar items and their similarities, best first."""
        sims = self.similarities(query)
        k = min(k, len(sims))
        if k == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        rows = np.argpartition(-sims, k - 1)[:k]
        rows = rows[np.argsort(-sims[rows], kind="stable")]
        return rows, sims[rows]

    def _reserve(self, n: int) -> None:
        if n <= len(self._matrix):
            return
        capacity = max(n, 2 * len(self._matrix), 1024)
        matrix = np.zeros((capacity, self.dim), dtype=np.float32)
        matrix[: self._size] = self.matrix
        people = np.zeros(capacity, dtype=np.int64)
        people[: self._size] = self.people
        self._matrix, self._people = matrix, people
