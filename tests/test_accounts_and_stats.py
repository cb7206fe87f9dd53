"""People's own settings, their profile, platform addresses, channel settings, org stats."""

from __future__ import annotations

import pytest

from bot.lifecycle.accounts import Accounts
from bot.lifecycle.stats import org_stats
from data.lifecycle_store import Preferences
from tests.lifecycle_org import OOM_QUESTION, make_world


@pytest.fixture
def world(encoder):
    return make_world(encoder)


@pytest.fixture
def accounts(world):
    return Accounts(world.store, world.flow.lc, world.clock)


def test_a_profile_shows_skills_topics_and_load(world, accounts):
    world.flow.ask("ann", OOM_QUESTION)
    profile = accounts.profile("dan")
    assert profile.person.name == "Dan Ek" and profile.asks_last_day == 1
    assert profile.preferences == Preferences("dan")


def test_editing_skills_updates_the_searchable_skills_item(world, accounts):
    accounts.set_skills("hal", ["Salesforce", " CPQ ", "Salesforce", ""])
    assert world.store.get_person("hal").skills == ["Salesforce", "CPQ"]
    item = world.store.knowledge_items(["skill:hal"])["skill:hal"]
    assert "Salesforce, CPQ" in item.text and item.kind == "skill"
    accounts.set_skills("hal", [])
    assert world.store.knowledge_items(["skill:hal"]) == {}


def test_opting_out_and_limits_are_saved(world, accounts):
    accounts.set_opted_out("dan", True)
    assert world.store.get_person("dan").opted_out
    accounts.set_preferences(Preferences("dan", max_asks_per_day=2, quiet_start=18, quiet_end=9))
    assert world.flow.lc.preferences("dan") == Preferences("dan", 2, 18, 9)
    with pytest.raises(ValueError, match="whole hours"):
        accounts.set_preferences(Preferences("dan", quiet_start=25))
    with pytest.raises(KeyError):
        accounts.set_opted_out("nobody", True)


def test_addresses_and_channel_settings_are_remembered(accounts):
    assert accounts.address("ann", "slack") is None
    accounts.save_address("ann", "slack", {"channel": "D123"})
    accounts.save_address("ann", "slack", {"channel": "D456"})
    assert accounts.address("ann", "slack") == {"channel": "D456"}
    assert accounts.channel_settings("slack", "C1") == (True, None)
    accounts.set_channel_settings("slack", "C1", enabled=False, wait_minutes=3)
    assert accounts.channel_settings("slack", "C1") == (False, 3)


def test_org_stats_count_answers_hops_and_requests(world):
    first = world.flow.ask("ann", OOM_QUESTION).question_id
    fay = next(a for a in world.pending(first) if a.person_id == "fay")
    world.flow.refer(fay.id, "fay", "eve")
    world.clock.advance(minutes=30)
    eve = next(a for a in world.pending(first) if a.person_id == "eve")
    world.flow.answer(eve.id, "eve", "Raise the limit")
    world.flow.ask("bo", "Who approves expense reimbursements?")
    world.flow.ask("cy", "Quarterly numbers?", origin="channel")
    stats = org_stats(world.flow.lc)
    assert (stats.questions, stats.routed, stats.answered, stats.open) == (3, 2, 1, 2)
    assert stats.answer_rate == 0.5
    assert stats.median_minutes_to_first_answer == 30
    assert stats.mean_hops_of_answers == 2
    assert stats.requests_per_question == 2.5  # 3 asks for the first, 2 for the second
    assert stats.lines()[1].startswith("Answer rate: 50%")


def test_the_running_bot_retrains_once_enough_questions_are_answered(encoder):
    from bot.runtime import Runtime
    from bot.training import META_KEY

    world = make_world(encoder)
    runtime = Runtime(world.flow.settings, clock=world.clock, encoder=encoder, store=world.store)
    for n in range(10):
        qid = runtime.flow.ask("ann", f"{OOM_QUESTION} ({n})").question_id
        ask = next(a for a in runtime.flow.lc.asks_of_question(qid) if a.state == "pending")
        runtime.flow.answer(ask.id, ask.person_id, "helm rollback")
        world.clock.advance(hours=3)
    assert world.store.get_meta(META_KEY) is None
    runtime.maintain()
    assert world.store.get_meta(META_KEY) is not None  # weights learned and saved
    saved = world.store.get_meta(META_KEY)
    runtime.maintain()  # checked again only after TRAINING_CHECK
    assert world.store.get_meta(META_KEY) == saved
