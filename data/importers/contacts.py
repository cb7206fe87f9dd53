"""The contacts importer: explicit who-knows-whom pairs, from CSV, JSON or JSONL.

Manager and same-team ties are derived from the directory, so they are refused here.
All or nothing: every row is checked, and people resolved against the directory, before
anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from data.importers.errors import ProblemList
from data.importers.readers import (
    ImportResult,
    date_value,
    float_value,
    person_ref,
    read_table,
    require_columns,
    text_value,
    validation_reasons,
)
from data.models import Contact, ordered_pair
from data.store import Store

# Kinds a contacts file may hold; `manager` and `team` come from the directory.
IMPORTABLE_KINDS = ("contact", "helped", "interacted")
DERIVED_KINDS = ("manager", "team")


@dataclass(frozen=True)
class _Pair:
    line: int
    a: str
    b: str
    kind: str
    weight: float
    created_at: str | None
    valid: bool  # False if the row already has a problem: only its people are checked


def import_contacts(store: Store, path: Path) -> ImportResult:
    """Import who-knows-whom pairs, all or nothing.

    Columns: a, b (each an id, email, Slack id or Teams id of someone in the directory),
    kind (contact, helped or interacted; default contact), weight (> 0; default 1.0) and
    created_at (ISO date, optional). JSON may be a list or an object with a "contacts" list.
    For undirected kinds the pair is stored in id order, so "a,b" and "b,a" are one tie.

    Raises ImportFailed listing every problem (`file:line: reason`) if anything is wrong.
    """
    path = Path(path)
    problems = ProblemList(path)
    table = read_table(path, problems, ("contacts",), "contacts")
    if table is None or not table.records:
        problems.raise_if_any()
    assert table is not None

    missing = require_columns(table, problems, [("a",), ("b",)])
    pairs: list[_Pair] = []
    for record in table.records:
        before = len(problems.problems)
        a = text_value(record, problems, "a")
        b = text_value(record, problems, "b")
        for name, value in (("a", a), ("b", b)):
            if value is None and name not in missing:
                problems.add(record.line, f"missing required value: {name}")
        kind = text_value(record, problems, "kind") or "contact"
        if kind in DERIVED_KINDS:
            problems.add(
                record.line,
                f"kind {kind!r} is derived from the directory "
                "(manager_id, team), not imported as a contact",
            )
        elif kind not in IMPORTABLE_KINDS:
            problems.add(
                record.line,
                f"unknown kind {kind!r} (expected one of {', '.join(IMPORTABLE_KINDS)})",
            )
        weight = float_value(record, problems, "weight")
        if weight is not None and weight <= 0:
            problems.add(record.line, f"weight must be greater than 0, got {weight:g}")
        created_at = date_value(record, problems, "created_at")
        if a and b:
            valid = len(problems.problems) == before
            pairs.append(_Pair(record.line, a, b, kind, weight or 1.0, created_at, valid))

    with store.transaction():  # people cannot disappear between the check and the write
        contacts = _resolve(pairs, store.person_refs(), problems)
        problems.raise_if_any()
        counts = store.upsert_contacts(contacts)
    people = len({c.a for c in contacts} | {c.b for c in contacts})
    return ImportResult("contacts", counts, f"{len(contacts)} ties between {people} people")


def _resolve(pairs: list[_Pair], refs: dict[str, str], problems: ProblemList) -> list[Contact]:
    """Turn references into person ids; report unknown people, self pairs and repeats."""
    contacts: list[Contact] = []
    first: dict[tuple[str, str, str], int] = {}
    for pair in pairs:
        ids: list[str] = []
        for name, ref in (("a", pair.a), ("b", pair.b)):
            pid = person_ref(refs, ref)
            if pid is None:
                problems.add(
                    pair.line,
                    f"{name}: unknown person {ref!r} (not an id, email, "
                    "Slack id or Teams id in the directory)",
                )
            else:
                ids.append(pid)
        if len(ids) < 2:
            continue
        a, b = ids
        if a == b:
            problems.add(pair.line, f"a and b are the same person ({a!r})")
            continue
        a, b = ordered_pair(a, b, pair.kind)
        key = (a, b, pair.kind)
        if key in first:
            problems.add(
                pair.line,
                f"duplicate {pair.kind} between {a!r} and {b!r} (first on line {first[key]})",
            )
            continue
        first[key] = pair.line
        if not pair.valid:
            continue
        try:
            contacts.append(
                Contact(a=a, b=b, kind=pair.kind, weight=pair.weight, created_at=pair.created_at)
            )
        except ValidationError as exc:
            for reason in validation_reasons(exc):
                problems.add(pair.line, reason)
    return contacts


__all__ = ["import_contacts"]
