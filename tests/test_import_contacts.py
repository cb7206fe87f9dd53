"""The contacts importer: who-knows-whom pairs by any person reference, all or nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from data.importers.contacts import import_contacts
from data.importers.directory import import_directory
from data.importers.errors import ImportFailed
from data.models import Contact
from data.store import Store, WriteCounts

PEOPLE_CSV = """\
id,name,email,slack_id,teams_id
p1,Ada Lovelace,ada@example.com,U001,T001
p2,Dana Ng,dana@example.com,U002,T002
p3,Sam Roe,sam@example.com,U003,T003
"""

CONTACTS_CSV = """\
a,b,kind,weight,created_at
p1,p2,,,
Dana@Example.com,U003,helped,2.5,2024-03-01
T003,p1,interacted,0.5,2024-03-02T10:00:00+00:00
"""


# --------------------------------------------------------------------------- helpers


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    """Write an input file into the test's folder."""
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def snapshot(store: Store) -> tuple[int, int, int, int]:
    """Row counts and the change counter: equal snapshots mean nothing was written."""
    return (
        store.count("people"),
        store.count("contacts"),
        store.count("knowledge"),
        store.current_seq(),
    )


def failure(store: Store, path: Path) -> list[str]:
    """Run an import that must fail; check nothing was written; return its problems."""
    before = snapshot(store)
    with pytest.raises(ImportFailed) as info:
        import_contacts(store, path)
    assert snapshot(store) == before
    return [str(p) for p in info.value.problems]


def contact_set(store: Store) -> set[tuple[str, str, str, float, str | None]]:
    return {(c.a, c.b, c.kind, c.weight, c.created_at) for c in store.contacts()}


@pytest.fixture
def store(tmp_path) -> Store:
    """A store with three people in the directory."""
    store = Store()
    import_directory(store, write(tmp_path, "people.csv", PEOPLE_CSV))
    return store


# ------------------------------------------------------------------------ good files


def test_csv_contacts_resolve_ids_emails_slack_and_teams_ids(store, tmp_path):
    result = import_contacts(store, write(tmp_path, "contacts.csv", CONTACTS_CSV))

    assert result.kind == "contacts"
    assert result.counts == WriteCounts(inserted=3)
    assert result.derived == "3 ties between 3 people"
    assert contact_set(store) == {
        ("p1", "p2", "contact", 1.0, None),
        ("p2", "p3", "helped", 2.5, "2024-03-01"),
        # undirected kinds are stored in id order
        ("p1", "p3", "interacted", 0.5, "2024-03-02T10:00:00+00:00"),
    }


def test_json_and_jsonl_contacts_are_imported(store, tmp_path):
    rows = [{"a": "p1", "b": "p2"}, {"a": "p3", "b": "p2", "kind": "helped", "weight": 3}]
    import_contacts(store, write(tmp_path, "contacts.json", json.dumps({"contacts": rows})))
    assert contact_set(store) == {
        ("p1", "p2", "contact", 1.0, None),
        ("p3", "p2", "helped", 3.0, None),
    }

    jsonl = '{"a": "U001", "b": "U003"}\n\n{"a": "p2", "b": "p1", "weight": 1}\n'
    result = import_contacts(store, write(tmp_path, "contacts.jsonl", jsonl))
    assert result.counts == WriteCounts(inserted=1, unchanged=1)  # p2,p1 is p1,p2


def test_reimporting_the_same_contacts_changes_nothing(store, tmp_path):
    path = write(tmp_path, "contacts.csv", CONTACTS_CSV)
    import_contacts(store, path)
    before = snapshot(store)

    assert import_contacts(store, path).counts == WriteCounts(unchanged=3)
    assert snapshot(store) == before


def test_an_updated_weight_updates_the_tie_in_place(store, tmp_path):
    import_contacts(store, write(tmp_path, "contacts.csv", CONTACTS_CSV))
    updated = CONTACTS_CSV.replace("helped,2.5", "helped,4")

    result = import_contacts(store, write(tmp_path, "contacts.csv", updated))

    assert result.counts == WriteCounts(updated=1, unchanged=2)
    assert store.count("contacts") == 3
    assert Contact(a="p2", b="p3", kind="helped", weight=4.0, created_at="2024-03-01") in (
        store.contacts()
    )


# ------------------------------------------------------------------------- bad files


def test_missing_required_columns_are_reported_once_on_the_header_line(store, tmp_path):
    path = write(tmp_path, "contacts.csv", "a,kind\np1,contact\np2,contact\n")
    assert failure(store, path) == [f"{path}:1: missing required column: b"]


def test_every_bad_row_is_reported_with_its_line_and_nothing_is_written(store, tmp_path):
    path = write(
        tmp_path,
        "contacts.csv",
        "a,b,kind,weight,created_at\n"
        "p1,p2,,,\n"  # fine
        "p1,nobody@example.com,,,\n"
        "U001,p1,,,\n"
        "p1,p3,friend,,\n"
        "p1,p3,team,,\n"
        "p2,p3,,0,\n"
        "p2,p3,helped,heavy,\n"
        "p2,p3,interacted,,yesterday\n"
        "p2,U001,,,\n"  # the same tie as line 2, written the other way round
        ",p3,,,\n",
    )
    assert failure(store, path) == [  # sorted by line
        f"{path}:3: b: unknown person 'nobody@example.com' (not an id, email, Slack id or "
        "Teams id in the directory)",
        f"{path}:4: a and b are the same person ('p1')",
        f"{path}:5: unknown kind 'friend' (expected one of contact, helped, interacted)",
        f"{path}:6: kind 'team' is derived from the directory (manager_id, team), "
        "not imported as a contact",
        f"{path}:7: weight must be greater than 0, got 0",
        f"{path}:8: weight: expected a number, got 'heavy'",
        f"{path}:9: created_at: not an ISO date: 'yesterday'",
        f"{path}:10: duplicate contact between 'p1' and 'p2' (first on line 2)",
        f"{path}:11: missing required value: a",
    ]


def test_contacts_with_people_not_in_the_directory_are_refused(store, tmp_path):
    path = write(tmp_path, "contacts.jsonl", '{"a": "p1", "b": "p9"}\n{"a": "x", "b": "p2"}\n')
    assert failure(store, path) == [
        f"{path}:1: b: unknown person 'p9' (not an id, email, Slack id or Teams id in the "
        "directory)",
        f"{path}:2: a: unknown person 'x' (not an id, email, Slack id or Teams id in the "
        "directory)",
    ]


def test_person_references_with_control_characters_are_refused_in_csv_and_jsonl(store, tmp_path):
    rows = [("p1", "p2"), ("p1\x00", "p3"), ("p2", "p\u200b3"), ("\x1b[2Jp2", "p3\t")]
    csv_path = write(tmp_path, "contacts.csv", "a,b\n" + "".join(f"{a},{b}\n" for a, b in rows))
    jsonl_path = write(
        tmp_path, "contacts.jsonl", "".join(json.dumps({"a": a, "b": b}) + "\n" for a, b in rows)
    )
    reasons = [
        "a: control character U+0000 (NUL) at character 3",
        # U+200B (zero width space) is no control character, just nobody's id (and shown
        # escaped, like any character that does not print)
        "b: unknown person 'p\\u200b3' (not an id, email, Slack id or Teams id in the directory)",
        # b's trailing tab is stripped like a space; the refused row is not resolved at all
        "a: control character U+001B (ESC) at character 1",
    ]
    for path, first in ((csv_path, 2), (jsonl_path, 1)):
        assert failure(store, path) == [
            f"{path}:{line}: {reason}"
            for line, reason in zip((first + 1, first + 2, first + 3), reasons, strict=True)
        ]


def test_a_huge_jsonl_line_is_refused_without_being_parsed(store, tmp_path, monkeypatch):
    import data.importers.readers as readers

    parsed: list[int] = []
    real_loads = json.loads
    monkeypatch.setattr(
        readers.json, "loads", lambda s, **kw: parsed.append(len(s)) or real_loads(s, **kw)
    )
    huge = json.dumps({"a": "p1", "b": "p2", "note": "x" * readers.MAX_RECORD_CHARS})
    path = write(tmp_path, "contacts.jsonl", f'{{"a": "p1", "b": "p3"}}\n{huge}\n{{"a": "p2"}}\n')

    assert failure(store, path) == [
        f"{path}:2: line is {len(huge):,} characters long: more than the 1,048,576 characters "
        "one record may hold (not read)",
        f"{path}:3: missing required value: b",
    ]
    assert max(parsed) < 100  # the huge line never reached the JSON parser


def test_malformed_jsonl_lines_are_all_reported(store, tmp_path):
    path = write(tmp_path, "contacts.jsonl", '{"a": "p1", "b": "p2"}\n{"a": "p1"\n[1, 2]\n{bad}\n')
    problems = failure(store, path)
    assert [p.split(": ", 1)[0] for p in problems] == [f"{path}:2", f"{path}:3", f"{path}:4"]
    assert problems[1] == f"{path}:3: expected an object, got a list"


def test_bad_encoding_is_reported_with_its_line(store, tmp_path):
    path = write(tmp_path, "contacts.csv", "a,b\np1,p2\np1,p3\n# Müller\n".encode("latin-1"))
    problems = failure(store, path)
    assert len(problems) == 1 and problems[0].startswith(f"{path}:4: not UTF-8")


def test_an_empty_file_is_refused(store, tmp_path):
    empty = write(tmp_path, "contacts.csv", "")
    assert failure(store, empty) == [f"{empty}: empty file (no records)"]
    header_only = write(tmp_path, "header.csv", "a,b,kind\n")
    assert failure(store, header_only) == [f"{header_only}: empty file (no contacts)"]


def test_the_wrong_format_is_refused(store, tmp_path):
    txt = write(tmp_path, "contacts.txt", "p1 knows p2")
    assert failure(store, txt) == [
        f"{txt}: unsupported format '.txt' (expected .csv, .json or .jsonl)"
    ]
    shape = write(tmp_path, "contacts.json", '{"a": "p1", "b": "p2"}')
    assert failure(store, shape) == [
        f'{shape}:1: wrong shape: expected a JSON list of objects or an object with a "contacts" '
        "list, got an object"
    ]
    assert failure(store, tmp_path) == [f"{tmp_path}: is a folder (expected .csv, .json or .jsonl)"]
