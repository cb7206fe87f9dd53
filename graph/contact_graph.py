"""The org contact graph: who knows whom, how, and how strongly.

Ties come in kinds (manager, team, contact, helped, interacted). Each kind has a weight in
the settings; a tie's strength grows with its count but with diminishing returns
(log2(1 + w)), so ten chats count for more than one but not ten times more.

The graph is sized for a whole company (100,000 people, millions of ties), so ties are kept
as columns, not Python objects: one sorted int64 key per tie (the pair, the kind and, for
directed kinds, the direction) with its weight. New ties are appended to small pending
lists and merged in bulk the next time the graph is read. Scoring every person at once uses
a symmetric scipy sparse matrix of tie strengths, rebuilt lazily after changes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from data.models import DIRECTED_EDGE_KINDS, EDGE_KINDS, Contact, Person
from data.person_index import PersonIndex

# Teams larger than this are not linked as a clique (a 500-person "team" is not a team);
# their members are still linked to their managers.
MAX_TEAM_CLIQUE = 50

DERIVED_KINDS = ("manager", "team")

# A tie's key: pair (i < j, 26 bits each), kind (3 bits), direction (1 bit).
_PERSON_BITS = 26
_KIND_BITS = 4  # 3 bits of kind code + 1 bit of direction
_MAX_KINDS = 8


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
        self._kinds: list[str] = list(EDGE_KINDS)
        # Merged ties, sorted by key; `_flip` says a symmetric tie was written b -> a.
        self._keys = np.zeros(0, dtype=np.int64)
        self._weights = np.zeros(0, dtype=np.float64)
        self._flip = np.zeros(0, dtype=bool)
        # Ties added since the last merge: parallel lists, later writes win.
        self._pending_keys: list[int] = []
        self._pending_weights: list[float] = []
        self._pending_flip: list[bool] = []
        self._adjacency: sparse.csr_matrix | None = None
        self._binary: sparse.csr_matrix | None = None
        self._damping: np.ndarray | None = None

    # ---------------------------------------------------------------------- building

    def add_tie(self, a: str, b: str, kind: str, weight: float = 1.0) -> None:
        """Add or replace the tie of `kind` between `a` and `b`."""
        if a == b:
            return
        i, j = self.people.add(a), self.people.add(b)
        key, flip = self._key(i, j, self._kind_code(kind), kind in DIRECTED_EDGE_KINDS)
        self._pending_keys.append(key)
        self._pending_weights.append(float(weight))
        self._pending_flip.append(flip)
        self._adjacency = None

    def add_contacts(self, contacts: Iterable[Contact]) -> None:
        """Add stored contact rows."""
        rows = [(c.a, c.b, c.kind, c.weight) for c in contacts]
        if rows:
            a, b, kinds, weights = zip(*rows, strict=True)
            self.add_ties(a, b, kinds, weights)

    def add_ties(
        self,
        a: Sequence[str],
        b: Sequence[str],
        kinds: Sequence[str],
        weights: Sequence[float],
    ) -> None:
        """Add or replace many ties at once (columns of equal length); later rows win."""
        keep = [n for n, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        if len(keep) < len(a):  # self ties are ignored (their people are not added)
            a, b = [a[n] for n in keep], [b[n] for n in keep]
            kinds, weights = [kinds[n] for n in keep], [weights[n] for n in keep]
        if not len(a):
            return
        add = self.people.add
        # People are numbered in order of first sight, row by row, as `add_tie` does.
        pairs = np.fromiter(
            (n for x, y in zip(a, b, strict=True) for n in (add(x), add(y))),
            dtype=np.int64,
            count=2 * len(a),
        )
        i, j = pairs[0::2], pairs[1::2]
        names = sorted(set(kinds))
        code_of = {k: self._kind_code(k) for k in names}
        codes = np.fromiter((code_of[k] for k in kinds), dtype=np.int64, count=len(kinds))
        directed_codes = [code_of[k] for k in names if k in DIRECTED_EDGE_KINDS]
        directed = np.isin(codes, directed_codes)
        keys, flip = self._keys_of(i, j, codes, directed)
        self._merge(keys, np.asarray(weights, dtype=np.float64), flip)

    def derive_from_directory(self, people: Iterable[Person]) -> int:
        """Replace manager and same-team ties with those implied by the directory.

        Returns the number of derived ties.
        """
        ids, managers, teams = [], [], []
        for p in people:
            ids.append(p.id)
            managers.append(p.manager_id)
            teams.append(p.team)
        return self.derive_from_columns(ids, managers, teams)

    def derive_from_columns(
        self,
        ids: Sequence[str],
        managers: Sequence[str | None],
        teams: Sequence[str | None],
    ) -> int:
        """`derive_from_directory` from columns: each person's id, manager id and team.

        Returns the number of derived ties.
        """
        self._flush()
        derived_codes = [self._kind_code(k) for k in DERIVED_KINDS]
        keep = ~np.isin(self._kind_codes(self._keys), derived_codes)
        self._keys, self._weights, self._flip = (
            self._keys[keep],
            self._weights[keep],
            self._flip[keep],
        )
        add = self.people.add
        person = np.zeros(len(ids), dtype=np.int64)
        reports: list[int] = []
        bosses: list[int] = []
        for n, (pid, manager) in enumerate(zip(ids, managers, strict=True)):
            person[n] = add(pid)
            if manager:
                reports.append(int(person[n]))
                bosses.append(add(manager))
        members: dict[str, list[int]] = defaultdict(list)
        for n, team in enumerate(teams):
            if team:
                members[team].append(n)
        left: list[np.ndarray] = []
        right: list[np.ndarray] = []
        for rows in members.values():
            if 1 < len(rows) <= MAX_TEAM_CLIQUE:
                x, y = np.triu_indices(len(rows), 1)
                team_people = person[rows]
                left.append(team_people[x])
                right.append(team_people[y])
        team_a = np.concatenate(left) if left else np.zeros(0, dtype=np.int64)
        team_b = np.concatenate(right) if right else np.zeros(0, dtype=np.int64)
        manager_code, team_code = derived_codes
        i = np.r_[np.array(reports, dtype=np.int64), team_a]
        j = np.r_[np.array(bosses, dtype=np.int64), team_b]
        codes = np.r_[np.full(len(reports), manager_code), np.full(len(team_a), team_code)]
        directed = np.r_[np.ones(len(reports), dtype=bool), np.zeros(len(team_a), dtype=bool)]
        keep = i != j
        keys, flip = self._keys_of(i[keep], j[keep], codes[keep], directed[keep])
        self._merge(keys, np.ones(len(keys)), flip)
        return int(keep.sum())

    # ----------------------------------------------------------------------- reading

    def ties(self, a: str, b: str) -> list[Tie]:
        """The direct ties between two people, strongest kind first."""
        i, j = self.people.get(a), self.people.get(b)
        if i is None or j is None or i == j:
            return []
        self._flush()
        lo, hi = min(i, j), max(i, j)
        pair = (lo << _PERSON_BITS) | hi
        start, stop = np.searchsorted(
            self._keys, [pair << _KIND_BITS, (pair + 1) << _KIND_BITS], side="left"
        )
        names = self.people.ids
        found = []
        for n in range(start, stop):
            key = int(self._keys[n])
            kind = self._kinds[(key >> 1) & (_MAX_KINDS - 1)]
            backwards = bool(key & 1) or bool(self._flip[n])
            x, y = (hi, lo) if backwards else (lo, hi)
            found.append(Tie(names[x], names[y], kind, float(self._weights[n])))
        return sorted(found, key=lambda t: -self._strength(t))

    def tie_count(self) -> int:
        """Number of connected pairs."""
        self._flush()
        return len(np.unique(self._keys >> _KIND_BITS))

    def neighbours(self, person: int) -> np.ndarray:
        """Indexes of everyone directly tied to `person`."""
        adj = self.adjacency()
        if person >= adj.shape[0]:
            return np.zeros(0, dtype=np.int64)
        return adj.indices[adj.indptr[person] : adj.indptr[person + 1]]

    def adjacency(self) -> sparse.csr_matrix:
        """The symmetric matrix of tie strengths (summed over kinds)."""
        n = len(self.people)
        if self._adjacency is not None and self._adjacency.shape[0] == n and not self._pending_keys:
            return self._adjacency
        self._flush()
        pairs = self._keys >> _KIND_BITS
        codes = self._kind_codes(self._keys)
        kind_weight = np.array([self.kind_weights.get(k, 1.0) for k in self._kinds])
        strength = kind_weight[codes] * np.log2(1.0 + self._weights)
        i = (pairs >> _PERSON_BITS).astype(np.int32)
        j = (pairs & ((1 << _PERSON_BITS) - 1)).astype(np.int32)
        positive = strength > 0
        i, j, strength = i[positive], j[positive], strength[positive]
        adj = sparse.csr_matrix(
            (np.r_[strength, strength], (np.r_[i, j], np.r_[j, i])), shape=(n, n), dtype=np.float64
        )
        adj.sum_duplicates()
        degree = np.diff(adj.indptr)
        self._adjacency = adj
        # Ones where there is a tie, sharing the strength matrix's index arrays.
        self._binary = sparse.csr_matrix(
            (np.ones(adj.nnz, dtype=np.float32), adj.indices, adj.indptr), shape=adj.shape
        )
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
        start, stop = adj.indptr[i], adj.indptr[i + 1]
        contacts, strengths = adj.indices[start:stop], adj.data[start:stop]
        direct = np.zeros(n)
        direct[contacts] = strengths
        # Rows of the asker's contacts, weighted and summed: a sparse vector-matrix product.
        two_hop = (strengths * self._damping[contacts]) @ adj[contacts] if len(contacts) else None
        two_hop = np.zeros(n) if two_hop is None else np.asarray(two_hop).ravel()
        shared = (
            np.asarray(self._binary[contacts].sum(axis=0)).ravel() if len(contacts) else np.zeros(n)
        )
        two_hop[i] = shared[i] = 0.0
        return Proximity(direct, two_hop, shared.astype(np.float64))

    def best_intermediary(self, asker: str, target: str) -> str | None:
        """The contact of `asker` through whom `target` is most strongly reached."""
        i, j = self.people.get(asker), self.people.get(target)
        if i is None or j is None:
            return None
        adj = self.adjacency()
        via = adj.getrow(i).multiply(adj.getrow(j)).tocsr()
        if via.nnz == 0:
            return None
        return self.people.ids[int(via.indices[np.argmax(via.data)])]

    def shortest_paths_from(
        self, asker: str, max_hops: int, targets: Iterable[int] | None = None
    ) -> dict[int, list[int]]:
        """Shortest path (as person indexes, asker first) to everyone within `max_hops`,
        or only to `targets` (person indexes) when given.

        Everyone: a breadth-first search that stops at `max_hops`, one frontier at a time.
        A few targets: two searches meeting in the middle (half the hops out from the asker,
        the rest back from each target), which in a big org touches far fewer people.
        """
        i = self.people.get(asker)
        if i is None:
            return {}
        if targets is not None:
            return self._paths_to(i, [int(t) for t in targets], max_hops)
        parent, _ = self._search(i, max_hops)
        paths: dict[int, list[int]] = {}
        for target in np.flatnonzero(parent >= 0):
            paths[int(target)] = self._walk_back(parent, int(target), i)[::-1]
        return paths

    def _paths_to(self, i: int, targets: list[int], max_hops: int) -> dict[int, list[int]]:
        n = self.adjacency().shape[0]
        near = (max_hops + 1) // 2
        from_asker, asker_depth = self._search(i, near)
        paths: dict[int, list[int]] = {}
        for t in targets:
            if t >= n:
                continue
            from_target, target_depth = self._search(t, max_hops - near)
            met = np.flatnonzero((asker_depth >= 0) & (target_depth >= 0))
            if not len(met):
                continue
            middle = int(met[np.argmin(asker_depth[met] + target_depth[met])])
            to_middle = self._walk_back(from_asker, middle, i)[::-1]
            paths[t] = to_middle + self._walk_back(from_target, middle, t)[1:]
        return paths

    def _search(self, source: int, hops: int) -> tuple[np.ndarray, np.ndarray]:
        """Breadth-first search from `source` up to `hops`: (parent, depth) of everyone,
        -1 for those not reached."""
        adj = self.adjacency()
        n = adj.shape[0]
        parent = np.full(n, -1, dtype=np.int64)
        depth = np.full(n, -1, dtype=np.int64)
        parent[source], depth[source] = source, 0
        frontier = np.array([source], dtype=np.int64)
        for level in range(1, hops + 1):
            if not len(frontier):
                break
            sub = adj[frontier]
            rows = np.repeat(frontier, np.diff(sub.indptr))
            cols = sub.indices
            fresh = parent[cols] < 0
            cols, rows = cols[fresh], rows[fresh]
            cols, first = np.unique(cols, return_index=True)  # first finder is the parent
            parent[cols] = rows[first]
            depth[cols] = level
            frontier = cols
        return parent, depth

    @staticmethod
    def _walk_back(parent: np.ndarray, node: int, root: int) -> list[int]:
        """`node`, its parent, ... up to `root`."""
        path = [node]
        while path[-1] != root:
            path.append(int(parent[path[-1]]))
        return path

    # ---------------------------------------------------------------------- internals

    def _strength(self, tie: Tie) -> float:
        return self.kind_weights.get(tie.kind, 1.0) * float(np.log2(1.0 + tie.weight))

    def _kind_code(self, kind: str) -> int:
        if kind not in self._kinds:
            if len(self._kinds) >= _MAX_KINDS:
                raise ValueError(f"too many kinds of tie (at most {_MAX_KINDS})")
            self._kinds.append(kind)
        return self._kinds.index(kind)

    @staticmethod
    def _kind_codes(keys: np.ndarray) -> np.ndarray:
        return (keys >> 1) & (_MAX_KINDS - 1)

    @staticmethod
    def _key(i: int, j: int, code: int, directed: bool) -> tuple[int, bool]:
        lo, hi = (i, j) if i < j else (j, i)
        backwards = i > j
        direction = int(directed and backwards)
        key = (((lo << _PERSON_BITS) | hi) << _KIND_BITS) | (code << 1) | direction
        return key, backwards and not directed

    @staticmethod
    def _keys_of(
        i: np.ndarray, j: np.ndarray, codes: np.ndarray, directed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = np.minimum(i, j), np.maximum(i, j)
        backwards = i > j
        direction = (directed & backwards).astype(np.int64)
        keys = (((lo << _PERSON_BITS) | hi) << _KIND_BITS) | (codes << 1) | direction
        return keys, backwards & ~directed

    def _flush(self) -> None:
        if not self._pending_keys:
            return
        keys = np.array(self._pending_keys, dtype=np.int64)
        weights = np.array(self._pending_weights, dtype=np.float64)
        flip = np.array(self._pending_flip, dtype=bool)
        self._pending_keys, self._pending_weights, self._pending_flip = [], [], []
        self._merge(keys, weights, flip)

    def _merge(self, keys: np.ndarray, weights: np.ndarray, flip: np.ndarray) -> None:
        """Merge new ties into the sorted columns; a new tie replaces an old one."""
        if self._pending_keys:
            self._flush()
        if not len(keys):
            return
        all_keys = np.r_[self._keys, keys]
        all_weights = np.r_[self._weights, weights]
        all_flip = np.r_[self._flip, flip]
        # Keep the last occurrence of each key: unique over the reversed arrays.
        _, last = np.unique(all_keys[::-1], return_index=True)
        keep = len(all_keys) - 1 - last
        self._keys, self._weights, self._flip = all_keys[keep], all_weights[keep], all_flip[keep]
        self._adjacency = None
