"""Personal settings and the admins' numbers in Teams: the `settings` card shows my questions,
requests, skills and limits; its Save changes skills, opt-out and limits (for the sender
only), refuses bad hours without saving anything; `stats` answers admins only, on the
command and on the card's Refresh."""

from __future__ import annotations

import json
from typing import Any

from bot.demo import CHAIN_QUESTION
from bot.teams import cards, package
from data.lifecycle_store import Preferences
from tests.teams import activities as teams
from tests.teams.world import TeamsWorld, action_data, card_of, message_text, verbs

SOFIA = "sofia.lindqvist"


def user(world: TeamsWorld, person_id: str) -> dict:
    return teams.user(world.person(person_id))


def personal_id(world: TeamsWorld, person_id: str) -> str:
    return teams.personal_conversation(user(world, person_id))["id"]


def say(world: TeamsWorld, person_id: str, text: str):
    """`person_id` types `text` in their 1:1 chat; returns the bot's reply there."""
    world.double.clear()
    status, _ = world.post(teams.personal_message(world.service_url, user(world, person_id), text))
    assert status == 202
    [reply] = world.double.posts(personal_id(world, person_id))
    return reply


def settings_card(world: TeamsWorld, person_id: str) -> dict[str, Any]:
    return card_of(say(world, person_id, "settings").body)


def inputs(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The card's inputs by id."""
    return {item["id"]: item for item in card["body"] if item["type"].startswith("Input.")}


def click(
    world: TeamsWorld, person_id: str, card: dict[str, Any], verb: str, /, **typed: Any
) -> dict[str, Any]:
    """`person_id` clicks `verb` on `card`; the data is the button's data and the inputs'
    values (as shown, unless `typed` says otherwise), as Teams sends it."""
    values = {key: item.get("value", "") for key, item in inputs(card).items()}
    data = {**values, **action_data(card, verb), **typed}
    status, response = world.post(
        teams.card_action(world.service_url, user(world, person_id), verb, data)
    )
    assert status == 200, response
    return response


def other_than(world: TeamsWorld, person_id: str) -> str:
    return next(p.id for p in world.store.people() if p.id != person_id)


# ---------------------------------------------------------------------- settings


def test_the_settings_card_shows_my_questions_requests_skills_and_limits(world):
    sofia = world.person(SOFIA)
    world.runtime.accounts.set_preferences(Preferences(SOFIA, 3, 22, 7))
    world.post(teams.personal_message(world.service_url, user(world, SOFIA), CHAIN_QUESTION))
    [question] = world.flow.questions_of(SOFIA)
    world.run()
    expert = world.asks(question.id)[0].person_id

    card = settings_card(world, SOFIA)
    words = message_text({"attachments": [cards.attachment(card)]})
    assert "Your open questions (1)" in words and f"#{question.id}" in words
    assert "Requests waiting for you (0)" in words
    fields = inputs(card)
    assert fields[cards.SKILLS_INPUT]["value"] == ", ".join(sofia.skills)
    assert fields[cards.OPTED_OUT_INPUT]["value"] == "false"
    assert fields[cards.MAX_ASKS_INPUT]["value"] == 3
    assert (fields[cards.QUIET_START_INPUT]["value"], fields[cards.QUIET_END_INPUT]["value"]) == (
        22,
        7,
    )
    assert (
        fields[cards.QUIET_START_INPUT]["min"] == 0 and fields[cards.QUIET_END_INPUT]["max"] == 23
    )
    assert verbs(card) == [cards.SAVE_SETTINGS]
    assert action_data(card, cards.SAVE_SETTINGS)["person_id"] == SOFIA

    # The expert sees the request waiting for them, and the org defaults for empty limits.
    expert_card = settings_card(world, expert)
    expert_words = message_text({"attachments": [cards.attachment(expert_card)]})
    assert "Requests waiting for you (1)" in expert_words
    assert sofia.name in expert_words and "Org defaults" in expert_words
    assert "value" not in inputs(expert_card)[cards.MAX_ASKS_INPUT]  # empty: the org default


def test_help_and_the_manifest_mention_settings(world):
    assert "`settings`" in say(world, SOFIA, "help").body["text"]
    manifest = json.loads((package.PACKAGE / "manifest.json").read_text(encoding="utf-8"))
    [bot] = manifest["bots"]
    personal = next(lst for lst in bot["commandLists"] if lst["scopes"] == ["personal"])
    assert {"settings", "stats"} <= {c["title"] for c in personal["commands"]}


def test_saving_changes_skills_opt_out_and_limits_in_the_store(world):
    card = settings_card(world, SOFIA)
    response = click(
        world,
        SOFIA,
        card,
        cards.SAVE_SETTINGS,
        skills="Kafka, payroll ; Spanish, kafka , ",
        opted_out="true",
        max_asks="2",
        quiet_start="21",
        quiet_end="6",
    )
    assert response["type"] == cards.CARD_TYPE  # the card redrawn in place
    updated = response["value"]
    assert "Saved" in str(updated["body"][1]["text"])
    assert inputs(updated)[cards.OPTED_OUT_INPUT]["value"] == "true"

    sofia = world.person(SOFIA)
    assert sofia.skills == ["Kafka", "payroll", "Spanish", "kafka"]
    assert sofia.opted_out
    assert world.flow.lc.preferences(SOFIA) == Preferences(SOFIA, 2, 21, 6)
    skill_item = [k for k in world.store.knowledge_of(SOFIA) if k.kind == "skill"]
    assert skill_item and "payroll" in skill_item[0].text

    # Back to the defaults: empty fields, opted in, no skills.
    click(
        world,
        SOFIA,
        updated,
        cards.SAVE_SETTINGS,
        skills="",
        opted_out="false",
        max_asks="",
        quiet_start="",
        quiet_end="",
    )
    sofia = world.person(SOFIA)
    assert sofia.skills == [] and not sofia.opted_out
    assert world.flow.lc.preferences(SOFIA) == Preferences(SOFIA, None, None, None)


def test_bad_hours_are_refused_on_the_card_and_nothing_is_saved(world):
    before = world.person(SOFIA)
    card = settings_card(world, SOFIA)
    for start, end, words in [
        ("25", "6", "whole hours from 0 to 23"),
        ("-1", "6", "whole hours from 0 to 23"),
        ("7.5", "6", "whole hours from 0 to 23"),
        ("late", "6", "whole hours from 0 to 23"),
        ("21", "", "both ends of quiet hours"),
    ]:
        response = click(
            world,
            SOFIA,
            card,
            cards.SAVE_SETTINGS,
            skills="Totally new skill",
            opted_out="true",
            max_asks="1",
            quiet_start=start,
            quiet_end=end,
        )
        redrawn = response["value"]
        warning = redrawn["body"][1]
        assert warning["color"] == "Attention", (start, end)
        assert words in warning["text"] and "Nothing was saved" in warning["text"]
        # What they typed is kept on the card, to fix and save again.
        assert inputs(redrawn)[cards.SKILLS_INPUT]["value"] == "Totally new skill"
        after = world.person(SOFIA)
        assert after.skills == before.skills and after.opted_out == before.opted_out
        assert world.flow.lc.preferences(SOFIA) == Preferences(SOFIA)

    response = click(world, SOFIA, card, cards.SAVE_SETTINGS, max_asks="1000")
    assert "Requests per day" in response["value"]["body"][1]["text"]
    assert world.flow.lc.preferences(SOFIA) == Preferences(SOFIA)


def test_a_save_applies_to_the_sender_only(world):
    victim = other_than(world, SOFIA)
    victim_before = world.person(victim)
    sofia_before = world.person(SOFIA)

    # Sofia forges a save naming someone else's card: refused, nobody changes.
    card = settings_card(world, SOFIA)
    response = click(
        world,
        SOFIA,
        card,
        cards.SAVE_SETTINGS,
        person_id=victim,
        skills="nothing",
        opted_out="true",
        max_asks="0",
    )
    assert response["type"] == cards.MESSAGE_RESPONSE and "someone else" in response["value"]
    for person_id, before in ((victim, victim_before), (SOFIA, sofia_before)):
        after = world.person(person_id)
        assert (after.skills, after.opted_out) == (before.skills, before.opted_out)
        assert world.flow.lc.preferences(person_id) == Preferences(person_id)

    # Whoever clicks, the save can only ever change the clicker's own settings.
    victim_card = settings_card(world, victim)
    click(world, SOFIA, victim_card, cards.SAVE_SETTINGS, opted_out="true")
    assert not world.person(victim).opted_out and not world.person(SOFIA).opted_out

    # Without an owner on the card, it is the sender's.
    click(world, SOFIA, card, cards.SAVE_SETTINGS, person_id="", opted_out="true", max_asks="4")
    assert world.person(SOFIA).opted_out and not world.person(victim).opted_out
    assert world.flow.lc.preferences(SOFIA).max_asks_per_day == 4
    assert world.flow.lc.preferences(victim) == Preferences(victim)


def test_an_opted_out_expert_is_not_asked(world):
    card = settings_card(world, SOFIA)
    click(world, SOFIA, card, cards.SAVE_SETTINGS, opted_out="true")
    asker = other_than(world, SOFIA)
    world.post(teams.personal_message(world.service_url, user(world, asker), CHAIN_QUESTION))
    question = world.flow.questions_of(asker)[0]
    world.run()
    assert SOFIA not in {a.person_id for a in world.asks(question.id)}


# ------------------------------------------------------------------------- stats


def test_stats_for_an_admin_and_a_refusal_for_anyone_else(world):
    admin = other_than(world, SOFIA)
    world.settings.teams.admin_ids = [admin]
    world.post(teams.personal_message(world.service_url, user(world, SOFIA), CHAIN_QUESTION))

    card = card_of(say(world, admin, "stats").body)
    lines = [item["text"] for item in card["body"]]
    assert lines[0] == "How whoknows is doing"
    assert lines[1:] == world.runtime.stats().lines()
    assert lines[1].startswith("Questions: 1 ")
    refreshed = click(world, admin, card, cards.STATS)
    assert refreshed["type"] == cards.CARD_TYPE and "Questions: 1 " in str(refreshed["value"])

    refusal = say(world, SOFIA, "stats")
    assert refusal.body["text"] == cards.ADMINS_ONLY and not refusal.body.get("attachments")
    # The admin check is made again on the card's button: a forged Refresh gets nothing.
    forged = click(world, SOFIA, card, cards.STATS)
    assert forged == {
        "statusCode": 200,
        "type": cards.MESSAGE_RESPONSE,
        "value": cards.ADMINS_ONLY,
    }


def test_stats_and_settings_followed_by_words_are_questions(world):
    world.double.clear()
    world.post(
        teams.personal_message(
            world.service_url, user(world, SOFIA), "settings for the VPN client on macOS?"
        )
    )
    [question] = world.flow.questions_of(SOFIA)
    assert question.text == "settings for the VPN client on macOS?"
