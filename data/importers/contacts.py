"""The contacts importer: explicit who-knows-whom pairs, from CSV, JSON or JSONL.

Manager and same-team ties are derived from the directory, so they are refused here.
All or nothing: every row is checked, and people resolved against the directory, before
anything is written.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

from pydantic import ValidationError

from data.importers.errors import ProblemList
from data.importers.readers import (
    ImportResult,
    Record,
    date_value,
    float_value,
    gc_paused,
    iso_date,
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


class _Pair(NamedTuple):
    """One row's pair before people are resolved (a tuple: a million are made at a time)."""

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
    with gc_paused():
        return _import_contacts(store, Path(path))


def _import_contacts(store: Store, path: Path) -> ImportResult:
    problems = ProblemList(path)
    table = read_table(
        path, problems, ("contacts",), "contacts", single_line=("a", "b"), drop_refused=True
    )
    if table is None or not table.records:
        problems.raise_if_any()
    assert table is not None

    missing = require_columns(table, problems, [("a",), ("b",)])
    pairs: list[_Pair] = []
    for record in table.records:
        pair = _plain_pair(record)
        if pair is None:
            pair = _checked_pair(record, problems, missing)
        if pair is not None:
            pairs.append(pair)

    with store.transaction():  # people cannot disappear between the check and the write
        contacts = _resolve(pairs, store.person_refs(), problems)
        problems.raise_if_any()
        counts = store.upsert_contacts(contacts)
    people = len({c.a for c in contacts} | {c.b for c in contacts})
    return ImportResult("contacts", counts, f"{len(contacts)} ties between {people} people")


def _plain_pair(record: Record) -> _Pair | None:
    """The pair of a row of plain, valid text (most rows of a CSV file), checked inline.

    Returns None for anything else (a missing or empty a/b, another type, a kind, weight or
    date that is not plainly valid): `_checked_pair` then checks that row and reports its
    problems. A row accepted here would have passed `_checked_pair` without a problem, to the
    same pair; a million rows go through here, so it avoids the general helpers."""
    values = record.values
    a = values.get("a")
    b = values.get("b")
    if type(a) is not str or type(b) is not str:
        return None
    a = a.strip()
    b = b.strip()
    kind = values.get("kind")
    weight = values.get("weight")
    created_at = values.get("created_at")
    if not a or not b or (kind is not None and type(kind) is not str):
        return None
    kind = (kind and kind.strip()) or "contact"
    if kind not in IMPORTABLE_KINDS:
        return None
    if type(weight) is str and weight.strip():
        try:
            weight = float(weight)  # as float_value: surrounding spaces are allowed
        except ValueError:
            return None
        if not 0 < weight < math.inf:  # also false for nan
            return None
    elif weight is None or type(weight) is str:  # absent or blank: the default
        weight = 1.0
    else:
        return None
    if type(created_at) is str and created_at.strip():
        try:
            created_at = iso_date(created_at)
        except ValueError:
            return None
    elif created_at is None or type(created_at) is str:  # absent or blank
        created_at = None
    else:
        return None
    return _Pair(record.line, a, b, kind, weight, created_at, True)


def _checked_pair(record: Record, problems: ProblemList, missing: set[str]) -> _Pair | None:
    """The pair of any row, reporting each of its problems; None if it lacks a or b."""
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
        return _Pair(record.line, a, b, kind, weight or 1.0, created_at, valid)
    return None


def _resolve(pairs: list[_Pair], refs: dict[str, str], problems: ProblemList) -> list[Contact]:
    """Turn references into person ids; report unknown people, self pairs and repeats."""
    contacts: list[Contact] = []
    first: dict[tuple[str, str, str], int] = {}
    for line, ref_a, ref_b, kind, weight, created_at, valid in pairs:
        # Most references are ids: one dict lookup before the general `person_ref`.
        a = refs.get(ref_a) or person_ref(refs, ref_a)
        b = refs.get(ref_b) or person_ref(refs, ref_b)
        if a is None or b is None:
            for name, ref, pid in (("a", ref_a, a), ("b", ref_b, b)):
                if pid is None:
                    problems.add(
                        line,
                        f"{name}: unknown person {ref!r} (not an id, email, "
                        "Slack id or Teams id in the directory)",
                    )
            continue
        if a == b:
            problems.add(line, f"a and b are the same person ({a!r})")
            continue
        a, b = ordered_pair(a, b, kind)
        key = (a, b, kind)
        if key in first:
            problems.add(
                line, f"duplicate {kind} between {a!r} and {b!r} (first on line {first[key]})"
            )
            continue
        first[key] = line
        if not valid:
            continue
        try:
            contacts.append(Contact(a=a, b=b, kind=kind, weight=weight, created_at=created_at))
        except ValidationError as exc:
            for reason in validation_reasons(exc):
                problems.add(line, reason)
    return contacts


__all__ = ["import_contacts"]
