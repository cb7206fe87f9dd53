"""Uninstalling: the conversation references the app gave are forgotten, so that deliveries
to those people fail at once with a clear log line ("no Teams conversation reference")
instead of against a chat the bot can no longer post in; installing again restores them."""

from __future__ import annotations

import logging

import pytest

from bot.demo import CHAIN_QUESTION
from bot.lifecycle.intents import Notice
from tests.teams import activities as teams
from tests.teams.world import TeamsWorld

SOFIA = "sofia.lindqvist"


def user(world: TeamsWorld, person_id: str) -> dict:
    return teams.user(world.person(person_id))


def address(world: TeamsWorld, person_id: str) -> dict | None:
    return world.runtime.accounts.address(person_id, "teams")


def install_everyone(world: TeamsWorld) -> None:
    for person in world.store.people():
        assert world.post(teams.install(world.service_url, user(world, person.id)))[0] == 202


def ask(world: TeamsWorld) -> int:
    world.post(teams.personal_message(world.service_url, user(world, SOFIA), CHAIN_QUESTION))
    return world.flow.questions_of(SOFIA)[0].id


@pytest.mark.parametrize("action", ["remove", "remove-upgrade"])
def test_a_personal_uninstall_forgets_the_reference_and_deliveries_fail_fast(world, caplog, action):
    install_everyone(world)
    qid = ask(world)
    world.run()
    expert = world.asks(qid)[0].person_id
    assert address(world, expert)["conversation_id"]
    status, _ = world.post(
        teams.installation_update(world.service_url, user(world, expert), action)
    )
    assert status == 202
    assert address(world, expert) is None
    assert address(world, SOFIA) is not None  # nobody else's
    # A follow-up for the expert cannot be delivered: no call, a clear line, a later retry.
    caplog.set_level(logging.WARNING)
    world.double.clear()
    with pytest.raises(ConnectionError, match="no Teams conversation reference"):
        world.deliverer.deliver(
            Notice(question_id=qid, person_id=expert, text="hello"), "whoknows-test-1", None
        )
    assert world.double.calls == []
    assert any("no Teams conversation reference" in r.getMessage() for r in caplog.records)


def test_a_request_to_an_uninstalled_expert_is_not_sent(world):
    install_everyone(world)
    qid = ask(world)
    world.run()
    expert = world.asks(qid)[0].person_id
    world.post(teams.installation_update(world.service_url, user(world, expert), "remove"))
    world.double.clear()
    # Sofia resolves the question: the experts' cards are redrawn; the uninstalled one's
    # update fails at once, without a call to the Bot Connector.
    outcome = world.flow.resolve(qid, SOFIA)
    assert outcome.ok
    report = world.run()
    assert report.failed >= 1
    expert_chat = teams.personal_conversation(user(world, expert))["id"]
    assert [c for c in world.double.calls if c.conversation_id == expert_chat] == []


def test_installing_again_restores_the_reference(world):
    sofia = user(world, SOFIA)
    world.post(teams.install(world.service_url, sofia))
    world.post(teams.installation_update(world.service_url, sofia, "remove"))
    assert address(world, SOFIA) is None
    world.double.clear()
    world.post(teams.install(world.service_url, sofia))
    assert address(world, SOFIA)["conversation_id"] == teams.personal_conversation(sofia)["id"]
    [hello] = world.double.posts()
    assert hello.body["text"].startswith("Hi Sofia!")  # greeted again, as a new install


def team_member(world: TeamsWorld, person_id: str) -> None:
    """`person_id` @mentions the bot in a channel of the team (their only Teams contact)."""
    post = teams.channel_mention(world.service_url, user(world, person_id), "hello")
    assert world.post(post)[0] == 202


@pytest.mark.parametrize("how", ["installationUpdate", "conversationUpdate"])
def test_removing_the_app_from_a_team_forgets_what_was_learned_there(world, how):
    people = [p.id for p in world.store.people()]
    personal, learned = people[0], people[1:3]
    world.post(teams.install(world.service_url, user(world, personal)))
    team_member(world, personal)  # has a 1:1 chat of their own: kept
    for person_id in learned:
        team_member(world, person_id)
        assert address(world, person_id)["learned_in"] == teams.TEAM_ID
    remover = user(world, personal)
    if how == "installationUpdate":
        removal = teams.installation_update(
            world.service_url,
            remover,
            "remove",
            conversation=teams.channel_conversation(),
        )
    else:
        removal = teams.bot_removed(world.service_url, remover)
    assert world.post(removal)[0] == 202
    for person_id in learned:
        assert address(world, person_id) is None
    assert address(world, personal)["conversation_id"]


def test_a_chat_opened_through_a_team_is_forgotten_with_the_team(world):
    world.post(teams.install(world.service_url, user(world, SOFIA)))
    qid = ask(world)
    world.run()
    expert = world.asks(qid)[0].person_id
    team_member(world, expert)
    world.advance(minutes=1)  # the bot opens a 1:1 chat with the expert to ask them
    assert address(world, expert)["conversation_id"].startswith("a:1on1-")
    removal = teams.installation_update(
        world.service_url, user(world, SOFIA), "remove", conversation=teams.channel_conversation()
    )
    world.post(removal)
    assert address(world, expert) is None
    assert address(world, SOFIA) is not None


def test_removing_the_app_from_a_group_chat_forgets_what_was_learned_there(world):
    person_id = next(p.id for p in world.store.people() if p.id != SOFIA)
    world.post(teams.group_mention(world.service_url, user(world, person_id), "hello"))
    assert address(world, person_id)["learned_in"] == teams.GROUP_CHAT_ID
    removal = teams.installation_update(
        world.service_url,
        user(world, SOFIA),
        "remove",
        conversation=teams.group_conversation(),
    )
    assert world.post(removal)[0] == 202
    assert address(world, person_id) is None
