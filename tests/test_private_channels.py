"""Knowledge from a private channel counts only for askers who are its members: it lifts a
candidate, and shows in their "why you", only for them (bot.learning.audience), and an
answered private thread is offered only to them. The real model, a real store."""

from __future__ import annotations

import numpy as np
import pytest

from bot.learning.chat import ChatLearner, Said
from bot.lifecycle.chat_answers import chat_thread_matches
from bot.router import Router
from bot.settings import Settings
from data.chat_items import slack_links
from data.chat_store import ChatStore
from data.models import KnowledgeItem, Person
from data.store import Store
from embeddings.indexer import index_pending

SECRET, PUBLIC = "G0FINANCE", "C0GENERAL"
LEDGER = (
    "The Quasar payments ledger reconciles nightly against the Zuora export; mismatches "
    "land in the finance-recon queue and the on-call accountant clears them by 9:00."
)
QUESTION = "Why does the Quasar payments ledger not match the Zuora export this morning?"


@pytest.fixture
def world(encoder):
    store = Store(":memory:")
    store.upsert_people(
        [
            Person(id="ann", name="Ann Lee", slack_id="UANN"),  # in the private channel
            Person(id="bo", name="Bo Chan", slack_id="UBO"),  # not in it
            Person(id="kim", name="Kim Roe", slack_id="UKIM"),  # wrote there
            Person(id="lee", name="Lee Wu", slack_id="ULEE"),
            Person(id="max", name="Max Ito", slack_id="UMAX"),
        ]
    )
    store.upsert_knowledge(
        [
            KnowledgeItem(id="k1", person_id="lee", text="Office plants are watered on Tuesdays."),
            KnowledgeItem(id="k2", person_id="max", text="Payroll runs on the 25th of each month."),
        ]
    )
    learner = ChatLearner(store, "slack", slack_links("https://acme.slack.com", None))
    learner.see_channel(SECRET, "finance", private=True)
    learner.switch(SECRET, True)
    ChatStore(store).set_members("slack", SECRET, ["ann", "kim"], "2026-01-01T00:00:00")
    root = Said(SECRET, "1767000000.000100", 1767000000.0001, "UANN", "How does recon work?")
    reply = Said(SECRET, "1767000050.000200", 1767000050.0002, "UKIM", LEDGER, root.ts)
    learner.learn([root, reply])
    index_pending(store, encoder)
    return store, Router(store, encoder, Settings(_env_file=None))


def _evidence_items(router: Router, asker: str) -> dict[str, set[str]]:
    return {c.person.id: {e.item_id for e in c.evidence} for c in router.rank(QUESTION, asker)}


def test_a_member_is_sent_to_the_private_channels_expert_with_its_message_as_reason(world):
    _, router = world
    ranked = router.rank(QUESTION, "ann", limit=3)
    assert ranked[0].person.id == "kim"
    assert any(e.item_id.startswith(f"slack:{SECRET}:") for e in ranked[0].evidence)


def test_a_non_member_never_sees_the_private_message_in_any_reason(world):
    _, router = world
    for person, items in _evidence_items(router, "bo").items():
        assert not any(f":{SECRET}:" in i for i in items), person
    kim = next(c for c in router.rank(QUESTION, "bo", limit=5) if c.person.id == "kim")
    assert kim.features["sem_max"] == 0 and kim.features["lex_max"] == 0
    assert all(SECRET not in reason and "Quasar" not in reason for reason in kim.reasons)


def test_joining_the_channel_shows_it_and_leaving_hides_it_again(world):
    store, router = world
    chat = ChatStore(store)
    chat.join("slack", SECRET, "bo")
    router.sync()
    assert router.rank(QUESTION, "bo", limit=1)[0].person.id == "kim"
    chat.join("slack", SECRET, "bo", joined=False)
    assert "kim" not in {p for p, items in _evidence_items(router, "bo").items() if items}


def test_switching_the_channel_off_forgets_it_for_everyone(world):
    store, router = world
    ChatLearner(store, "slack", slack_links(None, None)).switch(SECRET, False)
    router.sync()
    assert not any(
        f":{SECRET}:" in i for items in _evidence_items(router, "ann").values() for i in items
    )
    assert store.knowledge_ids_under(f"slack:{SECRET}:") == set()


def test_an_answered_private_thread_is_offered_only_to_members(world, encoder):
    _, router = world
    question = encoder.encode_one("How does recon work?")
    rows, sims = router.vectors.top(np.asarray(question), 20)
    hits = [(router.vectors.item_ids[int(r)], float(s)) for r, s in zip(rows, sims, strict=True)]

    def offered(asker: str) -> list[str]:
        found = chat_thread_matches(router, question, asker, 0.8, hits, lambda p: p)
        return [m["answer"] for m in found]

    assert offered("max") == [] and offered("bo") == []  # not members
    ChatStore(router.store).join("slack", SECRET, "max")
    assert offered("max") == [LEDGER]
