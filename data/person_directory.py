"""Everyone in the directory, as the router needs them: a few columns in memory, the full
record from the store on demand.

A company of 100,000 people as 100,000 pydantic models costs about 200 MB and seconds to
build on every start. The router only needs, for everyone, who they report to, their team
and whether they opted out (to derive ties and filter candidates); names and the rest are
needed for the handful of people it explains, and are read from the store then.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

import numpy as np

from data.models import Person
from data.person_index import PersonIndex
from data.store import Store

# (id, name, manager_id, team, opted_out), as `Store.directory_rows` returns them.
DirectoryRow = tuple[str, str, str | None, str | None, int]


class PersonDirectory(Mapping[str, Person]):
    """A read-only mapping of person id -> Person over the people in the directory."""

    def __init__(self, store: Store, people: PersonIndex, cache_size: int = 4096) -> None:
        self.store = store
        self.people = people
        self._ids: list[str] = []  # directory members, in order of first sight
        self._member: dict[str, int] = {}  # id -> position in the columns below
        self._names: list[str] = []
        self._managers: list[str | None] = []
        self._teams: list[str | None] = []
        self._opted_out: list[bool] = []
        self._cache: dict[str, Person] = {}
        self._cache_size = cache_size

    # ---------------------------------------------------------------------- updating

    def update(self, rows: Iterable[DirectoryRow]) -> int:
        """Add or refresh people from store rows; returns how many rows there were."""
        n = 0
        for pid, name, manager, team, opted_out in rows:
            self.people.add(pid)
            at = self._member.get(pid)
            if at is None:
                self._member[pid] = len(self._ids)
                self._ids.append(pid)
                self._names.append(name)
                self._managers.append(manager)
                self._teams.append(team)
                self._opted_out.append(bool(opted_out))
            else:
                self._names[at], self._managers[at], self._teams[at] = name, manager, team
                self._opted_out[at] = bool(opted_out)
            self._cache.pop(pid, None)
            n += 1
        return n

    # ----------------------------------------------------------------------- columns

    def columns(self) -> tuple[Sequence[str], Sequence[str | None], Sequence[str | None]]:
        """(ids, manager ids, teams) of everyone, aligned."""
        return self._ids, self._managers, self._teams

    def masks(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(in the directory, opted out) as boolean arrays over person numbers 0..n-1."""
        in_directory = np.zeros(n, dtype=bool)
        opted_out = np.zeros(n, dtype=bool)
        numbers = np.fromiter(
            (self.people.get(pid) for pid in self._ids), dtype=np.int64, count=len(self._ids)
        )
        in_directory[numbers] = True
        opted_out[numbers] = np.asarray(self._opted_out, dtype=bool)
        return in_directory, opted_out

    def name(self, pid: str) -> str | None:
        """A person's name, or None if they are not in the directory."""
        at = self._member.get(pid)
        return None if at is None else self._names[at]

    # ----------------------------------------------------------------------- mapping

    def __getitem__(self, pid: str) -> Person:
        found = self._cache.get(pid)
        if found is not None:
            return found
        if pid not in self._member:
            raise KeyError(pid)
        person = self.store.get_person(pid)
        if person is None:  # pragma: no cover - people are never deleted from the store
            raise KeyError(pid)
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        self._cache[pid] = person
        return person

    def __contains__(self, pid: object) -> bool:
        return pid in self._member

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)
