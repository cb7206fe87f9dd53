"""The router on the sample org, with the real model: who it picks and what it says why."""

from __future__ import annotations

import pytest

from bot.demo import demo_questions, load_sample_org
from bot.router import EmptyQuestion, Router
from bot.settings import Settings
from data.models import KnowledgeItem, Person
from data.store import Store
from embeddings.indexer import index_pending


@pytest.fixture(scope="module")
def sample_store(encoder) -> Store:
    store = Store(":memory:")
    load_sample_org(store)
    index_pending(store, encoder)
    return store


@pytest.fixture
def router(sample_store, encoder) -> Router:
    return Router(sample_store, encoder, Settings(_env_file=None))


@pytest.mark.parametrize("case", demo_questions(), ids=lambda q: q.asker)
def test_a_real_expert_is_among_the_first_three(router, case):
    top = [c.person.id for c in router.rank(case.question, case.asker, limit=3)]
    assert set(top) & set(case.experts), f"{case.question!r}: got {top}"


def test_the_asker_is_never_a_candidate(router):
    question = "How do I roll back a Helm release after pods get OOM killed?"
    ranked = router.rank(question, "oleksandr.petrenko", limit=40)
    assert "oleksandr.petrenko" not in [c.person.id for c in ranked]
    assert len(ranked) == 39  # everyone else in the directory can be asked


def test_opted_out_people_are_never_candidates(sample_store, encoder):
    question = "How do I roll back a Helm release after pods get OOM killed?"
    sample_store.set_opted_out("oleksandr.petrenko", True)
    try:
        router = Router(sample_store, encoder, Settings(_env_file=None))
        ranked = router.rank(question, "sofia.lindqvist", limit=40)
        assert "oleksandr.petrenko" not in [c.person.id for c in ranked]
    finally:
        sample_store.set_opted_out("oleksandr.petrenko", False)


def test_excluded_people_are_skipped(router):
    question = "How do I roll back a Helm release after pods get OOM killed?"
    first = router.rank(question, "sofia.lindqvist", limit=1)[0].person.id
    second = router.rank(question, "sofia.lindqvist", limit=1, exclude=[first])[0].person.id
    assert second != first


def test_reasons_name_the_matching_items_and_the_connection(router, sample_store):
    ranked = router.rank(
        "Our fleet-api pods keep getting OOM killed since the deploy; how do I roll back?",
        "sofia.lindqvist",
        limit=3,
    )
    expert = next(c for c in ranked if c.person.id == "oleksandr.petrenko")
    titles = {e.title for e in expert.evidence}
    items = sample_store.knowledge_items(e.item_id for e in expert.evidence)
    assert all(items[e.item_id].person_id == "oleksandr.petrenko" for e in expert.evidence)
    assert any("OOM" in t or "Helm" in t for t in titles)
    assert expert.reasons[0].startswith("wrote “")
    assert expert.hops == 2 and expert.path[0] == "sofia.lindqvist"
    via = sample_store.get_person(expert.path[1])
    assert expert.connection.startswith(f"via {via.name} (")
    assert expert.connection in expert.reasons


def test_a_direct_tie_is_described_from_the_askers_side(router, sample_store):
    asker = sample_store.get_person("sofia.lindqvist")
    ranked = router.rank("platform roadmap", asker.id, limit=40)
    manager = next(c for c in ranked if c.person.id == asker.manager_id)
    assert manager.hops == 1
    assert "your manager" in manager.connection


def test_an_empty_question_is_refused(router):
    with pytest.raises(EmptyQuestion, match="empty"):
        router.rank("   \n\t", "sofia.lindqvist")


def test_an_asker_outside_the_directory_still_gets_experts_but_no_connections(router):
    ranked = router.rank("iOS push notification certificate expired", "someone.new", limit=3)
    assert ranked[0].person.id == "ethan.park"
    assert all(c.hops == 0 and c.connection == "not connected to you yet" for c in ranked)


def test_new_knowledge_is_picked_up_after_sync(encoder):
    store = Store(":memory:")
    store.upsert_people(
        [
            Person(id="ann", name="Ann Lee"),
            Person(id="bo", name="Bo Chan"),
            Person(id="cy", name="Cy Diaz"),
        ]
    )
    store.upsert_knowledge(
        [KnowledgeItem(id="k1", person_id="bo", text="Quarterly board deck and OKR review")]
    )
    index_pending(store, encoder)
    router = Router(store, encoder, Settings(_env_file=None))
    question = "How do I calibrate the lidar on the warehouse robot?"
    assert router.rank(question, "ann", limit=1)[0].person.id == "bo"  # nobody better known

    store.upsert_knowledge(
        [
            KnowledgeItem(
                id="k2",
                person_id="cy",
                title="Lidar calibration",
                text="Calibrate the warehouse robot lidar with the "
                "checkerboard target and the calib tool.",
            )
        ]
    )
    index_pending(store, encoder)
    router.sync()
    assert router.rank(question, "ann", limit=1)[0].person.id == "cy"
