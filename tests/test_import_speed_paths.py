"""The quick paths of big imports do what the general ones do: plain contact rows, CSV
parsing, text values, the management cycle check, and the bulk contact load that builds the
contacts indexes after the rows."""

from __future__ import annotations

import itertools
import random
import sqlite3

import networkx as nx
import pytest

from data.importers.contacts import _checked_pair, _plain_pair
from data.importers.directory import _has_cycle, _management_cycles
from data.importers.errors import ProblemList
from data.importers.readers import Record, parse_csv, split_list, text_value
from data.models import Contact, Person
from data.store import Store


class Text(str):
    """A str subclass: not plain text for the quick paths, still text for the general ones."""


# ------------------------------------------------------------------- contact rows

REFS = [None, "", "  ", "p1", " p2 ", 7, True, Text("p3")]
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
