"""A stable numbering of people, shared by the in-memory indexes so their arrays line up."""

from __future__ import annotations


class PersonIndex:
    """Maps person ids to dense integers 0..n-1, in order of first sight (append only)."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self._index: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, person_id: object) -> bool:
        return person_id in self._index

    def add(self, person_id: str) -> int:
        """The number of `person_id`, giving it the next one if it is new."""
        found = self._index.get(person_id)
        if found is None:
            found = self._index[person_id] = len(self.ids)
            self.ids.append(person_id)
        return found

    def get(self, person_id: str) -> int | None:
        """The number of `person_id`, or None if unknown."""
        return self._index.get(person_id)

    def as_dict(self) -> dict[str, int]:
        """The id -> number mapping (read only)."""
        return self._index
