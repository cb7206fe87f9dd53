"""The quick paths of big imports do what the general ones do: plain contact rows, CSV
parsing, text values, the field checks (skipped for CSV text known to be clean, one C-speed
test for most values), the management cycle check, and the bulk contact load that builds
the contacts indexes after the rows."""

from __future__ import annotations

import itertools
import random
import re
import sqlite3
from pathlib import Path

import networkx as nx
import pytest

from data.importers import readers
from data.importers.contacts import _checked_pair, _plain_pair, import_contacts
from data.importers.directory import _has_cycle, _management_cycles, import_directory
from data.importers.errors import ImportFailed, ProblemList
from data.importers.readers import (
    MAX_FIELD_CHARS,
    Record,
    Table,
    check_fields,
    field_problem,
    parse_csv,
    split_list,
    text_value,
)
from data.models import Contact, Person
from data.store import Store


class Text(str):
    """A str subclass: not plain text for the quick paths, still text for the general ones."""


# ------------------------------------------------------------------- contact rows

# Control characters are refused by the readers (`check_fields`) before rows get here, so
# both paths take such a ref alike.
REFS = [None, "", "  ", "p1", " p2 ", 7, True, Text("p3"), "p\x004", " p\t5 "]
KINDS = [None, "", "contact", " helped ", "interacted", "manager", "team", "bogus", 3]
WEIGHTS = [None, "", " ", "1", " 2.5 ", "0", "-1", "nan", "inf", "-inf", "1e400", "x", 2, 0.5]
DATES = [None, "", " ", "2024-01-02", " 2024-01-02T03:04:05+01:00 ", "2024-13-01", "soon", 5]


@pytest.mark.parametrize("a", REFS)
def test_a_plain_row_gives_the_pair_the_full_checks_give(a):
    plain_rows = 0
    for b, kind, weight, created_at in itertools.product(["p9", *REFS], KINDS, WEIGHTS, DATES):
        values = {"a": a, "b": b, "kind": kind, "weight": weight, "created_at": created_at}
        record = Record(7, {k: v for k, v in values.items() if v is not None})
        problems = ProblemList("contacts.csv")
        checked = _checked_pair(record, problems, set())
        plain = _plain_pair(record)
        if plain is not None:
            plain_rows += 1
            assert plain == checked and plain.valid and not problems, values
    if type(a) is str and a.strip():
        assert plain_rows > 0  # the quick path is taken for plain text


def test_plain_text_rows_take_the_quick_path():
    record = Record(3, {"a": " p1", "b": "p2 ", "kind": "helped", "weight": "2", "created_at": ""})

    pair = _plain_pair(record)

    assert pair is not None
    assert tuple(pair) == (3, "p1", "p2", "helped", 2.0, None, True)


# -------------------------------------------------------------------------- CSV


def test_csv_rows_are_read_with_their_lines_blank_ones_skipped():
    problems = ProblemList("x.csv")
    table = parse_csv('a,,b\n ,x,p2\n , ,\n\n"p3\np3",y\np5,z,p6,extra\np7\n', problems)

    assert table is not None
    assert [(r.line, r.values) for r in table.records] == [
        (2, {"a": " ", "b": "p2"}),  # the unnamed column is left out
        (5, {"a": "p3\np3", "b": ""}),  # a short row is padded
        (8, {"a": "p7", "b": ""}),
    ]
    assert [str(p) for p in problems.problems] == [
        "x.csv:7: row has 4 values but the header has 3 columns"
    ]


def test_a_broken_quote_is_reported_on_the_line_of_its_row():
    problems = ProblemList("x.csv")
    table = parse_csv('a,b\np1,p2\n\np3,"p4"x\np5,p6\n', problems)

    assert table is not None and [r.line for r in table.records] == [2]
    assert [p.line for p in problems.problems] == [4]
    assert problems.problems[0].reason.startswith("malformed CSV: ")


# ----------------------------------------------------------------- field checks

CONTROLS = [
    "\x00",
    "\x01",
    "\t",
    "\n",
    "\r",
    "\x0b",
    "\x1b",
    "\x1f",
    "\x7f",
    "\x80",
    "\x85",
    "\x9f",
]
PRINTABLE = ["a", "Z", "0", " ", ",", '"', ";", "é", "ß", "\u00a0", "\u2028", "\u200b", "日", "🙂"]
SINGLE_LINE_BAD = re.compile("[\x00-\x1f\x7f-\x9f]")
MULTI_LINE_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def test_the_quick_test_of_a_value_agrees_with_the_full_field_check():
    rng = random.Random(11)
    for _ in range(20_000):
        alphabet = PRINTABLE if rng.random() < 0.5 else [*PRINTABLE, *CONTROLS]
        value = "".join(rng.choices(alphabet, k=rng.randint(0, 8)))
        for multiline, bad in ((False, SINGLE_LINE_BAD), (True, MULTI_LINE_BAD)):
            refused = bad.search(value.strip()) is not None  # stripped: edges are dropped
            assert (field_problem(value, multiline) is not None) == refused, (value, multiline)


def test_the_field_limit_counts_the_value_as_given_in_text_and_lists():
    assert field_problem("x" * MAX_FIELD_CHARS) is None
    assert field_problem(" " + "x" * MAX_FIELD_CHARS) == (
        f"{MAX_FIELD_CHARS + 1:,} characters: more than the {MAX_FIELD_CHARS:,} a value may hold"
    )
    assert field_problem(["x" * (MAX_FIELD_CHARS // 2)] * 2) is None
    assert field_problem(["x" * (MAX_FIELD_CHARS // 2)] * 2 + ["y"]) is not None
    assert field_problem(["ok", "b\x00d"]) == "control character U+0000 (NUL) at character 2"
    assert field_problem([3, None, {"a": "\x00"}]) is None  # other types: the value readers'
    assert field_problem(12) is None


def test_a_csv_table_is_clean_only_when_no_value_would_be_refused():
    rng = random.Random(17)
    alphabet = ["a", "b", " ", ",", '"', "\n", "\r\n", "\r", "é", *CONTROLS]
    clean_tables = 0
    for _ in range(5_000):
        weights = [20, 20, 10, 10, 2, 6, 3, 1, 5] + [1] * len(CONTROLS)
        body = "".join(rng.choices(alphabet, weights=weights, k=rng.randint(1, 30)))
        problems = ProblemList("x.csv")
        table = parse_csv("a,b\n" + body, problems)
        if table is None or not table.clean:
            continue
        clean_tables += 1
        # The full check of every value, as for JSON, finds nothing either.
        full = ProblemList("x.csv")
        unchecked = Table(table.records, table.columns)
        assert check_fields(unchecked, full, ["a"], ["b"]) == table.records
        assert not full, (body, [str(p) for p in full.problems])
    assert clean_tables > 500  # the quick way is taken for plain text


def test_a_multi_line_value_or_a_control_character_makes_a_csv_table_unclean():
    for text in (
        'a,b\n"x\ny",z\n',
        'a,b\r\n"x\ry",z\r\n',
        "a,b\nx\x00y,z\n",
        "a,b\nx\ty,z\n",
        "a,b\nx\x85y,z\n",
    ):
        table = parse_csv(text, ProblemList("x.csv"))
        assert table is not None and not table.clean, text
    for text in ("a,b\nx,y\n", "a,b\r\nx,y\r\n\r\nz,w", 'a,b\n"x,y",z\n'):
        table = parse_csv(text, ProblemList("x.csv"))
        assert table is not None and table.clean, text


def _import_outcome(importer, store: Store, path: Path) -> tuple[str, ...]:
    try:
        return (str(importer(store, path)),)
    except ImportFailed as failure:
        return tuple(str(p) for p in failure.problems)


@pytest.mark.parametrize(
    ("people", "contacts"),
    [
        (
            "id,name,email,manager_id\r\np1,Ada,ada@x.com,\r\np2,Dana,dana@x.com,p1\r\n",
            "a,b,kind\r\np1,p2,helped\r\nada@x.com,dana@x.com,\r\n",
        ),
        (
            'id,name,title\np1,Ada,"Chief\nOfficer"\np2,Da\x00na,\np3,Sam,\tSRE\n',
            "a,b\np1,p2\np\x001,p2\np1,p3\t\n",
        ),
    ],
)
def test_imports_come_out_the_same_with_or_without_the_clean_csv_shortcut(
    tmp_path, monkeypatch, people, contacts
):
    (tmp_path / "people.csv").write_text(people, encoding="utf-8", newline="")
    (tmp_path / "contacts.csv").write_text(contacts, encoding="utf-8", newline="")

    def run() -> list[tuple[str, ...]]:
        store = Store(":memory:")
        return [
            _import_outcome(import_directory, store, tmp_path / "people.csv"),
            _import_outcome(import_contacts, store, tmp_path / "contacts.csv"),
        ]

    quick = run()
    monkeypatch.setattr(readers, "_no_control_in_csv", lambda text: False)  # never clean
    assert run() == quick


# ------------------------------------------------------------------------ values


def test_text_values_of_every_type():
    problems = ProblemList("x.json")
    record = Record(4, {"s": " a ", "t": Text(" b "), "n": 3, "f": 1.5, "e": " ", "y": True})

    got = [text_value(record, problems, name) for name in ("s", "t", "n", "f", "e", "y")]

    assert got == ["a", "b", "3", "1.5", None, None]
    assert [str(p) for p in problems.problems] == ["x.json:4: y: expected text, got true/false"]
    assert text_value(record, problems, "e", "missing", "s") == "a"


def test_lists_split_the_same_on_one_separator_or_several():
    assert split_list(" a ; b;;A ;c", ";") == ["a", "b", "c"]
    assert split_list("a;b,c", ",;") == ["a", "b", "c"]
    assert split_list("a;b", "") == ["a;b"]
    assert split_list([Text(" x "), 2, "X"], ";") == ["x", "2"]
    with pytest.raises(ValueError, match="expected a list of text, found true/false"):
        split_list(["a", True])


# ------------------------------------------------------------------------ cycles


def test_the_cycle_check_finds_the_cycles_networkx_finds():
    rng = random.Random(5)
    for _ in range(300):
        n = rng.randint(1, 12)
        ids = [f"p{i}" for i in range(n)]
        managers = {
            pid: rng.choice([None, "", "ghost", *ids]) for pid in ids
        }  # self-management and unknown managers included
        involved = set(rng.sample(ids, rng.randint(0, n)))
        graph = nx.DiGraph()
        graph.add_edges_from((p, m) for p, m in managers.items() if m and m != p and m in managers)
        expected = [c for c in nx.simple_cycles(graph) if involved.intersection(c)]

        assert _has_cycle(managers, involved) == bool(expected)
        assert _management_cycles(managers, involved) == expected


# --------------------------------------------------------------- bulk contact load

N_PEOPLE = 160  # enough pairs for a load big enough to drop and rebuild the indexes


def _org() -> tuple[Store, list[Contact]]:
    store = Store(":memory:")
    store.upsert_people([Person(id=f"p{i:03d}", name=f"P {i}") for i in range(N_PEOPLE)])
    pairs = list(itertools.combinations(range(N_PEOPLE), 2))
    random.Random(3).shuffle(pairs)
    contacts = [
        Contact(a=f"p{b:03d}", b=f"p{a:03d}", weight=1 + n % 3) for n, (a, b) in enumerate(pairs)
    ][:12_000]
    return store, contacts


def _contact_indexes(store: Store) -> list[tuple[str, str | None]]:
    return store.db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'contacts' "
        "ORDER BY name"
    ).fetchall()


def test_a_bulk_contact_load_keeps_the_indexes_and_numbers_every_row():
    store, contacts = _org()
    indexes = _contact_indexes(store)
    seq = store.current_seq()

    counts = store.upsert_contacts(contacts)

    assert (counts.inserted, counts.updated, counts.unchanged) == (len(contacts), 0, 0)
    assert _contact_indexes(store) == indexes and len(indexes) >= 3
    assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored = store.db.execute("SELECT a, b, weight, seq FROM contacts ORDER BY seq").fetchall()
    expected = sorted((min(c.a, c.b), max(c.a, c.b), c.weight) for c in contacts)
    assert [row[:3] for row in stored] == expected  # key order, as given otherwise
    assert [row[3] for row in stored] == list(range(seq + 1, seq + len(contacts) + 1))
    plan = store.db.execute("EXPLAIN QUERY PLAN SELECT a FROM contacts WHERE b = 'p001'").fetchall()
    assert any("contacts_b" in str(step) for step in plan)
    assert store.upsert_contacts(contacts).unchanged == len(contacts)


def test_a_failed_bulk_contact_load_writes_nothing_and_keeps_the_indexes():
    store, contacts = _org()
    indexes = _contact_indexes(store)
    seq = store.current_seq()

    with pytest.raises(sqlite3.IntegrityError):
        store.upsert_contacts([*contacts, Contact(a="p001", b="p001")])

    assert store.count("contacts") == 0 and store.current_seq() == seq
    assert _contact_indexes(store) == indexes
    assert store.upsert_contacts(contacts).inserted == len(contacts)


def test_indexes_are_back_even_if_the_caller_goes_on_after_a_failed_bulk_load():
    store, contacts = _org()
    indexes = _contact_indexes(store)

    with store.transaction():
        with pytest.raises(sqlite3.IntegrityError):
            store.upsert_contacts([*contacts, Contact(a="p001", b="p001")])
        store.set_meta("after", "yes")  # the transaction commits

    assert _contact_indexes(store) == indexes
    assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
