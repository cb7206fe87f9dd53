"""The org contact graph: who knows whom, how, and how strongly.

Ties come in kinds (manager, team, contact, helped, interacted). Each kind has a weight in
the settings; a tie's strength grows with its count but with diminishing returns
(log2(1 + w)), so ten chats count for more than one but not ten times more. The graph is
kept as tie records (for explanations) plus a symmetric sparse matrix (for scoring every
person at once), rebuilt lazily after changes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from data.models import DIRECTED_EDGE_KINDS, Contact, Person
from data.person_index import PersonIndex

# Teams larger than this are not linked as a clique (a 500-person "team" is not a team);
# their members are still linked to their managers.
MAX_TEAM_CLIQUE = 50

DERIVED_KINDS = ("manager", "team")


@dataclass(frozen=True)
class Tie:
    """A tie of one kind between two people; `a` -> `b` is its direction (a reports to b,
    a helped b); direction means nothing for symmetric kinds."""

    a: str
    b: str
    kind: str
    weight: float


@dataclass
class Proximity:
    """How close every person is to one asker (arrays indexed like the PersonIndex)."""

    direct: np.ndarray  # strength of direct ties to the asker
    two_hop: np.ndarray  # Adamic-Adar-weighted strength of paths through one contact
    shared: np.ndarray  # number of contacts in common with the asker

    def hops(self) -> np.ndarray:
        """1 for direct contacts, 2 for contacts of contacts, 0 for everyone else."""
        return np.where(self.direct > 0, 1, np.where(self.two_hop > 0, 2, 0))


class ContactGraph:
    """Weighted, undirected contact graph over a PersonIndex."""

    def __init__(self, people: PersonIndex, kind_weights: Mapping[str, float]) -> None:
        self.people = people
        self.kind_weights = dict(kind_weights)
        # (i, j) with i < j -> {(kind, direction): Tie}; directed kinds keep both directions
        # apart (a helped b, and later b helped a, are two ties).
        self._ties: dict[tuple[int, int], dict[tuple[str, str], Tie]] = defaultdict(dict)
        self._adjacency: sparse.csr_matrix | None = None
        self._binary: sparse.csr_matrix | None = None
        self._damping: np.ndarray | None = None

    # ---------------------------------------------------------------------- building

    def add_tie(self, a: str, b: str, kind: str, weight: float = 1.0) -> None:
        """Add or replace the tie of `kind` between `a` and `b`."""
        if a == b:
            return
        i, j = self.people.add(a), self.people.add(b)
        direction = a if kind in DIRECTED_EDGE_KINDS else ""
        self._ties[(min(i, j), max(i, j))][(kind, direction)] = Tie(a, b, kind, weight)
        self._adjacency = None

    def add_contacts(self, contacts: Iterable[Contact]) -> None:
        """Add stored contact rows."""
        for c in contacts:
            self.add_tie(c.a, c.b, c.kind, c.weight)

    def derive_from_directory(self, people: Iterable[Person]) -> int:
        """Replace manager and same-team ties with those implied by the directory.

        Returns the number of derived ties.
        """
        for key in list(self._ties):
            kinds = self._ties[key]
            for kind_key in [k for k in kinds if k[0] in DERIVED_KINDS]:
                del kinds[kind_key]
            if not kinds:
                del self._ties[key]
        teams: dict[str, list[str]] = defaultdict(list)
        derived = 0
        for p in people:
            self.people.add(p.id)
            if p.manager_id:
                self.add_tie(p.id, p.manager_id, "manager")
                derived += 1
            if p.team:
                teams[p.team].append(p.id)
        for members in teams.values():
            if len(members) > MAX_TEAM_CLIQUE:
                continue
            for x, a in enumerate(members):
                for b in members[x + 1 :]:
                    self.add_tie(a, b, "team")
                    derived += 1
        self._adjacency = None
        return derived

    # ----------------------------------------------------------------------- reading

    def ties(self, a: str, b: str) -> list[Tie]:
        """The direct ties between two people, strongest kind first."""
        i, j = self.people.get(a), self.people.get(b)
        if i is None or j is None:
            return []
        kinds = self._ties.get((min(i, j), max(i, j)), {})
        return sorted(kinds.values(), key=lambda t: -self._strength(t))

    def tie_count(self) -> int:
        """Number of connected pairs."""
        return len(self._ties)

    def neighbours(self, person: int) -> np.ndarray:
        """Indexes of everyone directly tied to `person`."""
        adj = self.adjacency()
        if person >= adj.shape[0]:
            return np.zeros(0, dtype=np.int64)
        return adj.indices[adj.indptr[person] : adj.indptr[person + 1]]

    def adjacency(self) -> sparse.csr_matrix:
        """The symmetric matrix of tie strengths (summed over kinds)."""
        n = len(self.people)
        if self._adjacency is not None and self._adjacency.shape[0] == n:
            return self._adjacency
        rows, cols, vals = [], [], []
        for (i, j), kinds in self._ties.items():
            w = sum(self._strength(t) for t in kinds.values())
            if w > 0:
                rows += [i, j]
                cols += [j, i]
                vals += [w, w]
        adj = sparse.csr_matrix((vals, (rows, cols)), shape=(n, n), dtype=np.float64)
        adj.sum_duplicates()
        degree = np.diff(adj.indptr)
        self._adjacency = adj
        self._binary = (adj > 0).astype(np.float64).tocsr()
        # Adamic-Adar: a contact shared through a hub with a thousand ties says less.
        self._damping = 1.0 / np.log(2.0 + degree)
        return adj

    def proximity(self, asker: str | None) -> Proximity:
        """Direct, two-hop and shared-contact closeness of everyone to `asker`."""
        n = len(self.people)
        i = self.people.get(asker) if asker else None
        if i is None:
            zeros = np.zeros(n)
            return Proximity(zeros, zeros.copy(), zeros.copy())
        adj = self.adjacency()
        assert self._binary is not None and self._damping is not None
        row = adj.getrow(i)
        direct = row.toarray().ravel()
        two_hop = (row.multiply(self._damping[None, :]) @ adj).toarray().ravel()
        shared = (self._binary.getrow(i) @ self._binary).toarray().ravel()
        two_hop[i] = shared[i] = 0.0
        return Proximity(direct, two_hop, shared)

    def best_intermediary(self, asker: str, target: str) -> str | None:
        """The contact of `asker` through whom `target` is most strongly reached."""
        i, j = self.people.get(asker), self.people.get(target)
        if i is None or j is None:
            return None
        adj = self.adjacency()
        via = adj.getrow(i).multiply(adj.getrow(j))
        if via.nnz == 0:
            return None
        return self.people.ids[int(via.indices[np.argmax(via.data)])]

    def shortest_paths_from(self, asker: str, max_hops: int) -> dict[int, list[int]]:
        """Shortest path (as person indexes, asker first) to everyone within `max_hops`."""
        i = self.people.get(asker)
        if i is None:
            return {}
        order, pred = csgraph.breadth_first_order(
            self.adjacency(), i, directed=False, return_predecessors=True
        )
        paths: dict[int, list[int]] = {i: [i]}
        for node in order[1:]:
            parent_path = paths.get(int(pred[node]))
            if parent_path is not None and len(parent_path) <= max_hops:
                paths[int(node)] = [*parent_path, int(node)]
        return paths

    def _strength(self, tie: Tie) -> float:
        return self.kind_weights.get(tie.kind, 1.0) * float(np.log2(1.0 + tie.weight))
