"""App Home: everyone's questions, requests, skills and limits; the admin section and
admin actions only for configured admins."""

from __future__ import annotations

from bot.slack import ids
from tests.slack.harness import ADMIN, SlackWorld, button_values, text_of

PAYROLL = "When is payroll processed this month, and who can fix a wrong tax deduction?"


def _open_home(world: SlackWorld, user: str) -> dict:
    n = len(world.double.calls_to("views.publish"))
    world.send_event(
        {
            "type": "app_home_opened",
            "user": user,
            "channel": "D0HOME",
            "tab": "home",
            "event_ts": "1767000000.000100",
        }
    )
    world.double.wait_for("views.publish", n + 1)
    assert world.bot.jobs.join(30)
    return world.double.homes[user]


def _all_text(view: dict) -> str:
    return text_of({"blocks": view["blocks"]})


def test_everyone_sees_their_questions_requests_and_expertise(world: SlackWorld) -> None:
    asker = world.slack_id("sofia.lindqvist")
    world.send_command(asker, PAYROLL)
    world.settle()
    home = _all_text(_open_home(world, asker))
    assert "My open questions" in home and "payroll processed" in home
    assert "What whoknows thinks you know" in home and "Admin" not in home

    [question] = world.runtime.flow.lc.questions()
    expert = world.runtime.flow.lc.asks_of_question(question.id)[0].person_id
    view = _open_home(world, world.slack_id(expert))
    assert "Sofia Lindqvist* asks" in _all_text(view)
    buttons = {b for block in view["blocks"] for b in button_values({"blocks": [block]})}
    assert {ids.ANSWER, ids.REFER, ids.PASS, ids.SNOOZE} <= buttons


def test_only_admins_see_the_numbers(world: SlackWorld) -> None:
    assert world.slack_id("maya.okafor") == ADMIN
    world.send_command(world.slack_id("sofia.lindqvist"), PAYROLL)
    world.settle()
    admin_home = _all_text(_open_home(world, ADMIN))
    assert "Admin: how whoknows is doing" in admin_home
    assert "Answer rate" in admin_home and "Median time to first answer" in admin_home
    assert "Hops per answer" in admin_home and "Requests per question" in admin_home
    other = _all_text(_open_home(world, world.slack_id("dana.ng")))
    assert "Admin" not in other and "Answer rate" not in other


def test_admin_actions_are_refused_to_everyone_else(world: SlackWorld) -> None:
    someone = world.slack_id("dana.ng")
    opened = len(world.double.calls_to("views.open"))
    world.click(someone, ids.ADMIN_CHANNEL, "channel", home=True)
    assert world.bot.jobs.join(30)
    assert len(world.double.calls_to("views.open")) == opened
    assert any(
        "Only whoknows admins" in c.args.get("text", "")
        for c in world.double.calls_to("chat.postMessage")
    )

    # A forged submission of the admin modal is refused too.
    world.click(ADMIN, ids.ADMIN_CHANNEL, "channel", home=True)
    view = world.opened_view()
    assert view["callback_id"] == ids.VIEW_CHANNEL
    values = {
        ids.CHANNEL_INPUT: {"type": "conversations_select", "selected_conversation": "C0RANDOM"},
        ids.ENABLED_INPUT: {"type": "radio_buttons", "selected_option": {"value": "off"}},
        ids.WAIT_INPUT: {"type": "number_input", "value": "5"},
    }
    reply = world.submit(someone, view, values)
    assert reply.json()["response_action"] == "errors"
    assert world.runtime.accounts.channel_settings("slack", "C0RANDOM") == (True, None)

    # The admin's own submission is saved.
    assert world.submit(ADMIN, view, values).status == 200
    world.settle()
    assert world.runtime.accounts.channel_settings("slack", "C0RANDOM") == (False, 5.0)


def test_opting_out_and_editing_skills_and_limits(world: SlackWorld) -> None:
    me = world.slack_id("dana.ng")
    world.click(me, ids.HOME_OPT_OUT, "out", home=True)
    world.settle()
    assert world.store.get_person("dana.ng").opted_out
    assert "Opt back in" in str(world.double.homes[me]["blocks"])

    home = _open_home(world, me)
    skills_value = next(
        b["accessory"]["value"]
        for b in home["blocks"]
        if b.get("accessory", {}).get("action_id") == ids.HOME_SKILLS
    )
    world.click(me, ids.HOME_SKILLS, skills_value, home=True)
    view = world.opened_view()
    assert "gRPC" in view["blocks"][0]["element"]["initial_value"]
    text = {"type": "plain_text_input", "value": "Go, Kafka\nincident review"}
    world.submit(me, view, {ids.SKILLS_INPUT: text})
    world.settle()
    assert world.store.get_person("dana.ng").skills == ["Go", "Kafka", "incident review"]

    world.click(me, ids.HOME_LIMITS, '{"max": null, "start": null, "end": null}', home=True)
    view = world.opened_view()
    assert view["callback_id"] == ids.VIEW_LIMITS
    half = {
        ids.MAX_ASKS_INPUT: {"type": "number_input", "value": "2"},
        ids.QUIET_START_INPUT: {"type": "static_select", "selected_option": {"value": "19"}},
        ids.QUIET_END_INPUT: {"type": "static_select", "selected_option": {"value": "default"}},
    }
    assert world.submit(me, view, half).json()["response_action"] == "errors"
    full = {
        **half,
        ids.QUIET_END_INPUT: {"type": "static_select", "selected_option": {"value": "7"}},
    }
    world.submit(me, view, full)
    world.settle()
    prefs = world.runtime.accounts.profile("dana.ng").preferences
    assert (prefs.max_asks_per_day, prefs.quiet_start, prefs.quiet_end) == (2, 19, 7)
    assert "19:00–07:00" in _all_text(world.double.homes[me])


def test_a_request_can_be_answered_from_app_home(world: SlackWorld) -> None:
    world.send_command(world.slack_id("sofia.lindqvist"), PAYROLL)
    world.settle()
    [question] = world.runtime.flow.lc.questions()
    ask = world.runtime.flow.lc.asks_of_question(question.id)[0]
    expert = world.slack_id(ask.person_id)
    world.click(expert, ids.ANSWER, str(ask.id), home=True)
    view = world.opened_view()
    assert "payroll processed" in view["blocks"][0]["text"]["text"]
    world.submit(
        expert, view, {ids.TEXT_INPUT: {"type": "plain_text_input", "value": "On the 25th."}}
    )
    world.settle()
    assert world.runtime.flow.question(question.id).state == "answered"
    assert "Nothing waiting for you" in _all_text(world.double.homes[expert])


def test_someone_unknown_gets_a_short_home(world: SlackWorld) -> None:
    world.double.add_user("U0STRANGER", "Stranger")
    home = _all_text(_open_home(world, "U0STRANGER"))
    assert "isn't in the whoknows directory" in home
