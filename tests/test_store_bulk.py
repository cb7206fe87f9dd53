"""The store at scale: batched writes keep one change number per row, readers stream in
chunks, and full-text search can leave out a question's commonest words."""

from __future__ import annotations

import numpy as np

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
