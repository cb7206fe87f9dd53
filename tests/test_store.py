"""The SQLite store: counts, change numbers, lookups, constraints, vectors and full text."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from data.models import Contact, KnowledgeItem, Person
from data.store import Store, WriteCounts

MODEL = "test-model"

# --------------------------------------------------------------------------- helpers


def person(pid: str, **fields) -> Person:
    """A person whose name is their capitalised id, plus any other fields."""
    return Person(id=pid, name=pid.capitalize(), **fields)


def item(iid: str, author: str, text: str, **fields) -> KnowledgeItem:
    return KnowledgeItem(id=iid, person_id=author, text=text, **fields)


def snapshot(store: Store) -> tuple[int, int, int, int, int]:
    """Row counts and the change counter: equal snapshots mean nothing was written."""
    return (
        store.count("people"), store.count("contacts"), store.count("knowledge"),
        store.count("vectors"), store.current_seq(),
    )  # fmt: skip


def vector(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float32)


def embed_pending(store: Store) -> list[str]:
    """Save a vector for every item that needs one; return their ids."""
    pending = store.items_needing_vectors(MODEL)
    store.save_vectors(MODEL, [(iid, chash, vector(1, 0, 0)) for iid, chash, _ in pending])
    return [iid for iid, _, _ in pending]


@pytest.fixture
def team(store: Store) -> Store:
    """A store holding ann, bob and cat, with distinct email, Slack and Teams ids."""
    store.upsert_people(
        person(pid, email=f"{pid}@example.com", slack_id=f"U-{pid}", teams_id=f"T-{pid}")
        for pid in ("ann", "bob", "cat")
    )
    return store


# ----------------------------------------------------------------------- people


def test_upsert_people_counts_new_updated_and_unchanged_people(store):
    assert store.upsert_people([person("ann"), person("bob")]) == WriteCounts(inserted=2)

    counts = store.upsert_people([person("ann"), person("bob", title="SRE"), person("cat")])

    assert counts == WriteCounts(inserted=1, updated=1, unchanged=1)
    assert str(counts) == "1 new, 1 updated, 1 unchanged"
    assert store.get_person("bob").title == "SRE"


def test_unchanged_people_do_not_advance_the_change_counter(store):
    people = [person("ann", skills=["helm", "go"]), person("bob", manager_id="ann")]
    store.upsert_people(people)
    seq = store.current_seq()

    assert store.upsert_people(people) == WriteCounts(unchanged=2)
    assert store.current_seq() == seq
    assert store.people(since_seq=seq) == []


def test_people_since_seq_returns_only_people_changed_after_it(team):
    seq = team.current_seq()

    team.upsert_people([person("bob", email="bob@example.com", title="Lawyer"), person("dan")])
    team.set_opted_out("cat", True)

    assert [p.id for p in team.people(since_seq=seq)] == ["bob", "cat", "dan"]
    assert [p.id for p in team.people()] == ["ann", "bob", "cat", "dan"]


def test_contacts_since_seq_returns_only_changed_ties(team):
    team.upsert_contacts([Contact(a="ann", b="bob"), Contact(a="bob", b="cat", kind="helped")])
    seq = team.current_seq()

    counts = team.upsert_contacts(
        [Contact(a="ann", b="bob"), Contact(a="bob", b="cat", kind="helped", weight=3.0)]
    )
    team.strengthen_contact("cat", "ann", "interacted")

    assert counts == WriteCounts(updated=1, unchanged=1)
    changed = {(c.a, c.b, c.kind, c.weight) for c in team.contacts(since_seq=seq)}
    assert changed == {("bob", "cat", "helped", 3.0), ("ann", "cat", "interacted", 1.0)}
    assert len(team.contacts()) == 3


def test_knowledge_since_seq_returns_only_changed_items(team):
    team.upsert_knowledge(
        [item("k1", "ann", "Helm rollbacks"), item("k2", "bob", "Contract review")]
    )
    seq = team.current_seq()

    counts = team.upsert_knowledge(
        [
            item("k1", "ann", "Helm rollbacks"),
            item("k2", "bob", "Contract review", tags=["legal"]),
            item("k3", "cat", "Parental leave"),
        ]
    )

    assert counts == WriteCounts(inserted=1, updated=1, unchanged=1)
    assert [i.id for i in team.knowledge(since_seq=seq)] == ["k2", "k3"]
    assert team.knowledge(since_seq=team.current_seq()) == []


@pytest.mark.parametrize(
    "ref", ["bob", "bob@example.com", "Bob@Example.COM", "  bob@example.com ", "U-bob", "T-bob"]
)
def test_find_person_by_id_email_slack_id_or_teams_id(team, ref):
    found = team.find_person(ref)

    assert found is not None and found.id == "bob"


@pytest.mark.parametrize("ref", ["dan", "dan@example.com", "U-dan", ""])
def test_find_person_returns_none_for_someone_not_in_the_directory(team, ref):
    assert team.find_person(ref) is None


# ---------------------------------------------------------------- constraints


def test_a_knowledge_item_by_someone_not_in_the_directory_is_refused_and_nothing_is_written(team):
    before = snapshot(team)

    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        team.upsert_knowledge([item("k1", "ann", "Helm rollbacks"), item("k2", "ghost", "Boo")])

    assert snapshot(team) == before
    assert team.knowledge() == []
    assert team.upsert_knowledge([item("k1", "ann", "Helm")]) == WriteCounts(inserted=1)


def test_a_manager_or_tie_to_someone_not_in_the_directory_is_refused(team):
    before = snapshot(team)

    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        team.upsert_people([person("dan", manager_id="ghost")])
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        team.strengthen_contact("ann", "ghost", "contact")

    assert snapshot(team) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [("email", "ANN@example.com"), ("slack_id", "U-ann"), ("teams_id", "T-ann")],
)
def test_email_slack_id_and_teams_id_each_identify_one_person(team, field, value):
    before = snapshot(team)

    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        team.upsert_people([person("dan"), person("eve", **{field: value})])

    assert snapshot(team) == before
    assert team.get_person("dan") is None


def test_people_without_email_slack_or_teams_ids_do_not_collide(store):
    assert store.upsert_people([person("ann"), person("bob")]) == WriteCounts(inserted=2)


# --------------------------------------------------------------- transactions


def test_a_failing_write_inside_a_transaction_rolls_back_everything_written_in_it(team):
    before = snapshot(team)

    with pytest.raises(sqlite3.IntegrityError), team.transaction():
        team.upsert_people([person("dan"), person("ann", title="CEO", email="ann@example.com")])
        team.upsert_knowledge([item("k1", "dan", "Expenses")])
        team.strengthen_contact("ann", "dan", "helped")
        team.upsert_people([person("eve", email="bob@example.com")])  # bob's email

    assert snapshot(team) == before
    assert team.get_person("dan") is None
    assert team.get_person("ann").title is None


def test_any_exception_inside_a_transaction_rolls_it_back(team):
    before = snapshot(team)

    with pytest.raises(RuntimeError), team.transaction():
        team.upsert_knowledge([item("k1", "ann", "Expenses")])
        raise RuntimeError("changed my mind")

    assert snapshot(team) == before


# ------------------------------------------------------------------------ ties


def test_strengthening_a_tie_accumulates_its_weight(team):
    team.strengthen_contact("ann", "bob", "helped")
    team.strengthen_contact("ann", "bob", "helped", by=2.5)

    assert [(c.a, c.b, c.kind, c.weight) for c in team.contacts()] == [
        ("ann", "bob", "helped", 3.5)
    ]


@pytest.mark.parametrize("kind", ["contact", "interacted"])
def test_a_symmetric_tie_is_one_row_whichever_way_round_it_is_written(team, kind):
    team.strengthen_contact("bob", "ann", kind)
    team.strengthen_contact("ann", "bob", kind, by=2.0)
    team.upsert_contacts([Contact(a="cat", b="bob", kind=kind)])

    ties = {(c.a, c.b, c.kind): c.weight for c in team.contacts()}
    assert ties == {("ann", "bob", kind): 3.0, ("bob", "cat", kind): 1.0}


def test_helped_keeps_its_direction(team):
    team.strengthen_contact("bob", "ann", "helped")
    team.strengthen_contact("ann", "bob", "helped", by=2.0)

    ties = {(c.a, c.b, c.kind): c.weight for c in team.contacts()}
    assert ties == {("bob", "ann", "helped"): 1.0, ("ann", "bob", "helped"): 2.0}


# --------------------------------------------------------------------- vectors


def test_items_needing_vectors_lists_new_and_changed_items_only(team):
    team.upsert_knowledge(
        [item("k1", "ann", "Helm rollbacks"), item("k2", "bob", "Contract review")]
    )
    assert embed_pending(team) == ["k1", "k2"]
    assert team.items_needing_vectors(MODEL) == []

    changed = item("k2", "bob", "Contract review", title="NDAs", tags=["legal"])
    team.upsert_knowledge([item("k1", "ann", "Helm rollbacks"), changed, item("k3", "cat", "SSO")])

    pending = team.items_needing_vectors(MODEL)
    assert [(iid, chash) for iid, chash, _ in pending] == [
        ("k2", changed.content_hash()),
        ("k3", item("k3", "cat", "SSO").content_hash()),
    ]
    assert pending[0][2] == changed.embedding_text() == "NDAs\nlegal\nContract review"
    assert [iid for iid, _, _ in team.items_needing_vectors("another-model")] == [
        "k1",
        "k2",
        "k3",
    ]


def test_vectors_only_returns_vectors_matching_the_current_item_text(team):
    k1, k2 = item("k1", "ann", "Helm rollbacks"), item("k2", "bob", "Contract review")
    team.upsert_knowledge([k1, k2])
    team.save_vectors(
        MODEL, [("k1", k1.content_hash(), vector(1, 0)), ("k2", k2.content_hash(), vector(0, 1))]
    )

    ids, authors, matrix = team.vectors(MODEL)
    assert (ids, authors) == (["k1", "k2"], ["ann", "bob"])
    assert matrix.dtype == np.float32
    np.testing.assert_array_equal(matrix, [[1, 0], [0, 1]])

    team.upsert_knowledge([item("k2", "bob", "Contract review and NDAs")])

    ids, authors, matrix = team.vectors(MODEL)
    assert (ids, authors, matrix.shape) == (["k1"], ["ann"], (1, 2))
    assert team.vectors("another-model")[0] == []


def test_vectors_since_seq_returns_only_vectors_saved_after_it(team):
    k1, k2 = item("k1", "ann", "Helm rollbacks"), item("k2", "bob", "Contract review")
    team.upsert_knowledge([k1, k2])
    team.save_vectors(MODEL, [("k1", k1.content_hash(), vector(1, 0))])
    seq = team.current_seq()

    team.save_vectors(MODEL, [("k2", k2.content_hash(), vector(0, 1))])

    assert team.vectors(MODEL, since_seq=seq)[0] == ["k2"]


# --------------------------------------------------------------------- lexical


def test_lexical_search_ranks_the_item_sharing_rare_words_first(team):
    team.upsert_knowledge(
        [
            item("deploys", "ann", "How we deploy the website every week."),
            item("helm", "bob", "Rolling back a Helm release after a bad deploy.", title="Helm"),
            item("expenses", "cat", "Travel expenses are paid back within a week."),
        ]
    )

    hits = team.lexical_search("How do I roll back a helm release?")

    assert (hits[0].item_id, hits[0].person_id) == ("helm", "bob")
    assert "deploys" not in {h.item_id for h in hits}
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("question", ["", "   ", "?!?", "how do I do it?", "who knows? anyone?"])
def test_lexical_search_of_only_stopwords_or_punctuation_finds_nothing(team, question):
    team.upsert_knowledge([item("k1", "ann", "How do I do it? Who knows, anyone?")])

    assert team.lexical_search(question) == []


def test_lexical_search_treats_query_syntax_as_plain_words(team):
    team.upsert_knowledge([item("k1", "ann", "Near the helm, NOT the deck.")])

    hits = team.lexical_search('helm* AND NOT "deck" OR (near')

    assert [h.item_id for h in hits] == ["k1"]


def test_lexical_search_follows_edits_to_an_item(team):
    team.upsert_knowledge([item("k1", "ann", "Kubernetes pod restarts")])
    team.upsert_knowledge([item("k1", "ann", "Parental leave policy")])

    assert team.lexical_search("kubernetes") == []
    assert [h.item_id for h in team.lexical_search("parental leave")] == ["k1"]


# ------------------------------------------------------------------ durability


def test_a_file_backed_store_keeps_everything_across_close_and_reopen(tmp_path: Path):
    path = tmp_path / "nested" / "whoknows.db"
    store = Store(path)
    store.upsert_people([person("ann", email="ann@example.com", skills=["helm"]), person("bob")])
    store.strengthen_contact("bob", "ann", "contact", by=2.0)
    k1 = item("k1", "ann", "Helm rollbacks", tags=["k8s"])
    store.upsert_knowledge([k1])
    store.save_vectors(MODEL, [("k1", k1.content_hash(), vector(0.5, 0.5))])
    store.set_meta("weights", "learned")
    before = snapshot(store)
    store.close()

    reopened = Store(path)

    assert snapshot(reopened) == before
    assert reopened.find_person("ANN@example.com").skills == ["helm"]
    assert [(c.a, c.b, c.weight) for c in reopened.contacts()] == [("ann", "bob", 2.0)]
    assert reopened.knowledge() == [k1]
    np.testing.assert_array_equal(reopened.vectors(MODEL)[2], [[0.5, 0.5]])
    assert reopened.items_needing_vectors(MODEL) == []
    assert [h.item_id for h in reopened.lexical_search("helm")] == ["k1"]
    assert reopened.get_meta("weights") == "learned"
    assert reopened.upsert_people([person("bob")]) == WriteCounts(unchanged=1)
    reopened.close()


def test_handled_intake_rows_are_forgotten_after_a_while_and_failed_ones_kept(tmp_path):
    from datetime import UTC, datetime, timedelta

    from data.intake_store import IntakeStore

    store = Store(tmp_path / "whoknows.db")
    intake = IntakeStore(store)
    then = datetime(2026, 3, 1, tzinfo=UTC)
    old_done = intake.accept("slack", "event:1", "{}", {}, then)
    old_failed = intake.accept("slack", "event:2", "{}", {}, then)
    new_done = intake.accept("slack", "event:3", "{}", {}, then + timedelta(days=10))
    intake.finish(old_done, then)
    intake.fail(old_failed, "boom", then)
    intake.finish(new_done, then + timedelta(days=10))
    assert intake.prune(then + timedelta(days=7)) == 1
    assert intake.counts() == {"done": 1, "failed": 1}
    # A redelivery of the forgotten one is new again; of a kept one, not.
    assert intake.accept("slack", "event:3", "{}", {}, then) is None
    intake.close()
    store.close()
