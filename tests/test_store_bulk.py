"""The store at scale: batched writes keep one change number per row, readers stream in
chunks, and full-text search can leave out a question's commonest words."""

from __future__ import annotations

import random
import sqlite3

import numpy as np
import pytest

import data.store as store_module
from data.models import Contact, KnowledgeItem, Person
from data.store import Store


def people(n: int) -> list[Person]:
    return [Person(id=f"p{i}", name=f"P {i}") for i in range(n)]


def test_batched_writes_give_every_changed_row_its_own_change_number(store: Store):
    store.upsert_people(people(3))
    store.upsert_contacts([Contact(a="p0", b="p1"), Contact(a="p2", b="p1", kind="helped")])
    seqs = [
        r[0] for r in store.db.execute("SELECT seq FROM people UNION ALL SELECT seq FROM contacts")
    ]

    assert sorted(seqs) == list(range(1, 6)) and store.current_seq() == 5


def test_a_contact_written_twice_in_one_call_counts_as_inserted_then_updated(store: Store):
    store.upsert_people(people(2))

    counts = store.upsert_contacts(
        [
            Contact(a="p1", b="p0", weight=1.0),  # stored as (p0, p1)
            Contact(a="p0", b="p1", weight=2.0),
            Contact(a="p0", b="p1", weight=2.0),
        ]
    )

    assert (counts.inserted, counts.updated, counts.unchanged) == (1, 1, 1)
    assert [(c.a, c.b, c.weight) for c in store.contacts()] == [("p0", "p1", 2.0)]


def test_re_importing_unchanged_contacts_writes_nothing(store: Store):
    store.upsert_people(people(3))
    ties = [Contact(a="p0", b="p1"), Contact(a="p1", b="p2", created_at="2024-01-01")]
    store.upsert_contacts(ties)
    seq = store.current_seq()

    counts = store.upsert_contacts([Contact(a="p0", b="p1"), Contact(a="p1", b="p2")])

    assert counts.unchanged == 2 and store.current_seq() == seq


def test_chunked_readers_return_what_the_list_readers_do(store: Store):
    store.upsert_people(people(5))
    store.upsert_contacts([Contact(a=f"p{i}", b=f"p{i + 1}") for i in range(4)])
    items = [KnowledgeItem(id=f"k{i}", person_id=f"p{i % 5}", text=f"note {i}") for i in range(7)]
    store.upsert_knowledge(items)
    rng = np.random.default_rng(0)
    store.save_vectors("m", [(i.id, i.content_hash(), rng.random(4)) for i in items])

    assert [c for chunk in store.contact_chunks(size=3) for c in chunk] == store.contacts()
    assert [k for chunk in store.knowledge_chunks(size=2) for k in chunk] == store.knowledge()
    chunks = list(store.vector_chunks("m", size=3))
    ids, authors, matrix = store.vectors("m")
    assert [len(c[0]) for c in chunks] == [3, 3, 1]
    assert [i for c in chunks for i in c[0]] == ids
    assert [a for c in chunks for a in c[1]] == authors
    assert np.array_equal(np.vstack([c[2] for c in chunks]), matrix)
    assert list(store.vector_chunks("m", since_seq=store.current_seq())) == []


def test_full_text_search_leaves_out_common_words_past_the_match_budget(store: Store):
    store.upsert_people(people(1))
    texts = [f"deploy note {i}" for i in range(30)] + ["deploy helm rollback", "helm chart"]
    store.upsert_knowledge(
        [KnowledgeItem(id=f"k{i}", person_id="p0", text=t) for i, t in enumerate(texts)]
    )

    everything = store.lexical_search("deploy helm", limit=100)
    pruned = store.lexical_search("deploy helm", limit=100, max_matches=5)

    assert len(everything) == 32
    assert sorted(h.item_id for h in pruned) == ["k30", "k31"]  # "deploy" matches 31 items
    assert store.lexical_search("deploy", limit=100, max_matches=5)  # the rarest word stays
    store.upsert_knowledge([KnowledgeItem(id="k99", person_id="p0", text="helm " * 3)])
    assert len(store.lexical_search("deploy helm", limit=100, max_matches=5)) == 3


# ------------------------------------------------------------- bulk full-text path

WORDS = "helm chart deploy rollback pod postgres vacuum replica payroll tax leave sso okta".split()


def _items(rng: random.Random, ids: range, version: int) -> list[KnowledgeItem]:
    return [
        KnowledgeItem(
            id=f"k{i}",
            person_id=f"p{i % 3}",
            title=" ".join(rng.choices(WORDS, k=3)) if i % 4 else None,
            text=" ".join(rng.choices(WORDS, k=rng.randint(1, 12))) + f" v{version}",
            tags=rng.choices(WORDS, k=i % 3),
        )
        for i in ids
    ]


def _write_history(store: Store) -> None:
    """Inserts, an id given twice in one call (in one chunk and across chunks), updates,
    unchanged rows, deletes and a small write after the bulk ones."""
    rng = random.Random(5)
    store.upsert_people(people(3))
    first = _items(rng, range(0, 60), 1)
    store.upsert_knowledge(first + _items(rng, range(50, 55), 2) + first[:3])
    again = _items(rng, range(40, 90), 3)  # 40-59 updated, 60-89 new
    store.upsert_knowledge(again + first[:10] + _items(rng, range(45, 48), 4))
    store.delete_knowledge(["k1", "k41", "k70"])
    store.upsert_knowledge(_items(rng, range(88, 92), 5))


def _state(store: Store) -> tuple:
    conn = store.db.conn
    conn.execute("INSERT INTO knowledge_fts(knowledge_fts, rank) VALUES ('integrity-check', 1)")
    searches = [
        [(h.item_id, h.person_id, round(h.score, 9)) for h in store.lexical_search(q, limit=500)]
        for q in [*WORDS, "helm rollback", "v1", "v3 postgres", "tax v5", "okta sso leave"]
    ]
    rows = conn.execute("SELECT rowid, * FROM knowledge ORDER BY rowid").fetchall()
    config = conn.execute("SELECT k, v FROM knowledge_fts_config ORDER BY k").fetchall()
    triggers = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name"
    ).fetchall()
    return searches, rows, config, triggers, store.current_seq()


def test_the_bulk_full_text_path_indexes_exactly_what_the_triggers_do(monkeypatch, tmp_path):
    monkeypatch.setattr(store_module, "ITEM_CHUNK", 7)  # ids repeated across chunks too
    monkeypatch.setattr(store_module, "BULK_FTS_ITEMS", 10**9)
    by_triggers = Store(tmp_path / "triggers.db")
    _write_history(by_triggers)
    monkeypatch.setattr(store_module, "BULK_FTS_ITEMS", 20)  # the last, small write: triggers
    bulk = Store(tmp_path / "bulk.db")
    _write_history(bulk)

    expected = _state(by_triggers)
    assert _state(bulk) == expected
    assert any(expected[0]) and expected[2] == [("version", 4)]


def test_a_bulk_write_counts_what_it_changed(monkeypatch, store: Store):
    monkeypatch.setattr(store_module, "ITEM_CHUNK", 4)
    monkeypatch.setattr(store_module, "BULK_FTS_ITEMS", 1)
    store.upsert_people(people(3))
    items = [KnowledgeItem(id=f"k{i}", person_id="p0", text=f"note {i}") for i in range(10)]

    first = store.upsert_knowledge(items + items[:5])
    edited = [i.model_copy(update={"text": "edited"}) for i in items[:2]]
    second = store.upsert_knowledge(edited + items[2:] + edited)

    assert (first.inserted, first.updated, first.unchanged) == (10, 0, 5)
    assert (second.inserted, second.updated, second.unchanged) == (0, 2, 10)
    assert sorted(h.item_id for h in store.lexical_search("edited")) == ["k0", "k1"]
    assert store.lexical_search("note 0") and store.current_seq() == 3 + 10 + 2


def test_a_failed_bulk_write_leaves_the_table_and_its_triggers_as_they_were(
    monkeypatch, store: Store
):
    monkeypatch.setattr(store_module, "BULK_FTS_ITEMS", 1)
    store.upsert_people(people(1))
    store.upsert_knowledge([KnowledgeItem(id="k0", person_id="p0", text="helm chart")])

    with pytest.raises(sqlite3.IntegrityError):  # an unknown author, found at commit
        store.upsert_knowledge(
            [KnowledgeItem(id=f"k{i}", person_id="nobody", text="helm") for i in range(1, 9)]
        )

    assert [h.item_id for h in store.lexical_search("helm")] == ["k0"]
    monkeypatch.setattr(store_module, "BULK_FTS_ITEMS", 10**9)
    store.upsert_knowledge([KnowledgeItem(id="k9", person_id="p0", text="helm rollback")])
    assert [h.item_id for h in store.lexical_search("rollback")] == ["k9"]
