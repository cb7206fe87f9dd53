"""Answers that already exist in chat: a public thread whose question is close to a new
one is offered, with its link, before anyone is asked (bot.lifecycle.chat_answers)."""

from __future__ import annotations

import pytest

from bot.learning.chat import ChatLearner, Said
from data.chat_items import slack_links
from tests.lifecycle_org import make_world

LAG = "How do I fix Postgres replica lag that grows during vacuum?"
FIX = "Look at pg_stat_replication for long-running queries, then raise vacuum_cost_delay."


@pytest.fixture
def world(encoder):
    world = make_world(encoder)
    store = world.store
    people = {p.id: p for p in store.people()}
    store.upsert_people(
        [people[p].model_copy(update={"slack_id": f"U{p.upper()}"}) for p in ("cy", "eve")]
    )
    learner = ChatLearner(store, "slack", slack_links("https://acme.slack.com", None))
    learner.see_channel("C0DATA", "data", private=False)
    root = Said("C0DATA", "1767000000.000100", 1767000000.0001, "UCY", LAG)
    reply = Said("C0DATA", "1767000060.000200", 1767000060.0002, "UEVE", FIX, root.ts)
    learner.learn([root, reply])
    world.run()  # the scheduler's upkeep embeds the new items
    return world


def test_an_answered_chat_thread_is_offered_with_its_link_before_anyone_is_asked(world):
    qid = world.flow.ask("bo", "Postgres replica lag keeps growing while vacuum runs, how to fix?")
    world.run()
    assert world.flow.question(qid.question_id).state == "checking"
    [match] = world.sent.of_kind("similar_found", "bo")[0].matches
    assert match["question"] == LAG and match["answer"] == FIX
    assert match["answerer"] == "Eve Park" and match["source"] == "slack"
    assert match["url"] == (
        "https://acme.slack.com/archives/C0DATA/p1767000060000200"
        "?thread_ts=1767000000.000100&cid=C0DATA"
    )


def test_a_thread_is_not_offered_to_its_own_asker_nor_for_another_topic(world):
    for asker, question in (("cy", LAG), ("bo", "Who approves expense reports over 500 EUR?")):
        qid = world.flow.ask(asker, question).question_id
        world.run()
        assert world.sent.of_kind("similar_found", asker) == []
        assert world.flow.question(qid).state != "checking"
