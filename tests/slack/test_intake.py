"""The HTTP endpoint: request verification, the health check, and every way a question
comes in (channel message, thread reply, mention, DM, /ask, the message shortcut), with
Slack's retries and the privacy rule."""

from __future__ import annotations

import json
import time

import pytest

from bot.slack import ids
from tests.slack.double import BOT_USER
from tests.slack.harness import CHANNEL, SlackWorld, button_values, event_callback, text_of

OOM = "Our pods keep getting OOM killed in Kubernetes after the deploy. Who can help?"
PAYROLL = "When is payroll processed this month, and who can fix a wrong tax deduction?"


def _asker(world: SlackWorld) -> str:
    return world.slack_id("sofia.lindqvist")


# -------------------------------------------------------------------- security


def test_url_verification_is_answered_with_the_challenge(world: SlackWorld) -> None:
    body = json.dumps(
        {"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV", "type": "url_verification"}
    )
    reply = world.post_signed(body.encode(), "application/json")
    assert reply.status == 200 and reply.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV"}


@pytest.mark.parametrize(
    "tamper",
    ["no signature", "wrong secret", "stale timestamp", "changed body"],
)
def test_unsigned_or_forged_or_stale_requests_are_rejected(world: SlackWorld, tamper: str) -> None:
    message = world.double.post_as_user(CHANNEL, _asker(world), OOM)
    event = {
        "type": "message",
        "channel": CHANNEL,
        "user": _asker(world),
        "text": OOM,
        "ts": message["ts"],
        "channel_type": "channel",
    }
    body = json.dumps(event_callback(event, "EvFORGED1")).encode()
    if tamper == "no signature":
        reply = world.request("POST", "/slack/events", body, {"Content-Type": "application/json"})
    elif tamper == "wrong secret":
        reply = world.post_signed(body, "application/json", secret="not-the-secret")
    elif tamper == "stale timestamp":
        reply = world.post_signed(body, "application/json", timestamp=int(time.time()) - 600)
    else:
        from tests.slack.harness import sign

        headers = {"Content-Type": "application/json", **sign(body)}
        forged = body.replace(b"Who can help", b"Who can hack")
        reply = world.request("POST", "/slack/events", forged, headers)
    assert reply.status == 401
    world.settle()
    assert world.runtime.flow.lc.questions() == []


def test_health_endpoint(world: SlackWorld) -> None:
    reply = world.request("GET", "/healthz")
    assert reply.status == 200 and reply.json()["ok"] is True


# ---------------------------------------------------------------------- intake


def test_a_channel_question_waits_and_a_reply_in_its_thread_cancels_routing(world) -> None:
    message, _ = world.post_in_channel(_asker(world), OOM)
    colleague = world.slack_id("dana.ng")
    world.post_in_channel(colleague, "Try raising the memory limit", thread_ts=message["ts"])
    world.advance(minutes=30)
    [question] = world.runtime.flow.lc.questions()
    assert question.state == "cancelled"
    assert world.runtime.flow.lc.asks_of_question(question.id) == []
    assert world.double.calls_to("chat.postMessage") == []


def test_chatter_edits_bots_and_the_askers_own_reply_are_not_questions(world) -> None:
    world.post_in_channel(_asker(world), "thanks all!")
    edited = world.double.post_as_user(CHANNEL, _asker(world), OOM)
    world.send_event(
        {
            "type": "message",
            "subtype": "message_changed",
            "channel": CHANNEL,
            "hidden": True,
            "ts": edited["ts"],
            "message": {"text": OOM, "user": _asker(world)},
            "channel_type": "channel",
        }
    )
    world.send_event(
        {
            "type": "message",
            "subtype": "bot_message",
            "bot_id": "B0OTHER",
            "channel": CHANNEL,
            "text": OOM,
            "ts": edited["ts"],
            "channel_type": "channel",
        }
    )
    world.settle()
    assert world.runtime.flow.lc.questions() == []
    message, _ = world.post_in_channel(_asker(world), OOM)
    world.post_in_channel(_asker(world), "anyone?", thread_ts=message["ts"])
    world.advance(minutes=11)
    assert world.runtime.flow.lc.questions()[0].state == "routing"


def test_a_channel_can_be_switched_off_or_given_its_own_wait(world: SlackWorld) -> None:
    world.runtime.accounts.set_channel_settings("slack", CHANNEL, enabled=True, wait_minutes=2)
    world.post_in_channel(_asker(world), OOM)
    world.advance(minutes=3)
    assert world.runtime.flow.lc.questions()[0].state == "routing"
    world.runtime.accounts.set_channel_settings("slack", CHANNEL, enabled=False)
    world.post_in_channel(_asker(world), PAYROLL)
    world.settle()
    assert len(world.runtime.flow.lc.questions()) == 1


def test_a_slack_retry_never_asks_or_posts_twice(world: SlackWorld) -> None:
    asker = _asker(world)
    message = world.double.post_as_user(CHANNEL, asker, f"<@{BOT_USER}> {OOM}")
    event = {
        "type": "app_mention",
        "user": asker,
        "text": f"<@{BOT_USER}> {OOM}",
        "ts": message["ts"],
        "channel": CHANNEL,
        "event_ts": message["ts"],
    }
    _, event_id = world.send_event(event)
    world.settle()
    posts = len(world.double.posts())
    # Slack didn't see the ack in time and sends it again, twice.
    for attempt in (1, 2):
        reply, _ = world.send_event(event, event_id=event_id, retry=attempt)
        assert reply.status == 200
    world.settle()
    assert len(world.runtime.flow.lc.questions()) == 1
    assert len(world.double.posts()) == posts
    # Even a process that forgot its recent events (a restart) asks only once: the core
    # keeps the event ids.
    world.bot.services.recent = type(world.bot.services.recent)()
    world.send_event(event, event_id=event_id, retry=3)
    world.settle()
    assert len(world.runtime.flow.lc.questions()) == 1
    assert len(world.double.posts()) == posts


def test_a_mention_is_routed_at_once_and_answered_in_its_thread(world: SlackWorld) -> None:
    asker = _asker(world)
    message = world.double.post_as_user(CHANNEL, asker, f"<@{BOT_USER}> {OOM}")
    event = {
        "type": "app_mention",
        "user": asker,
        "text": f"<@{BOT_USER}> {OOM}",
        "ts": message["ts"],
        "channel": CHANNEL,
        "event_ts": message["ts"],
    }
    world.send_event(event)
    # The same message also arrives as a message event: it must not be a second question.
    world.send_event({**event, "type": "message", "channel_type": "channel"})
    world.settle()
    [question] = world.runtime.flow.lc.questions()
    assert question.origin == "mention" and question.state == "routing"
    assert question.text == OOM
    [status] = world.thread(message["ts"])
    assert "I've asked" in status["text"]


def test_a_dm_question_stays_private(world: SlackWorld) -> None:
    asker = _asker(world)
    dm = world.double.im_channel(asker)
    message = world.double.post_as_user("im", asker, PAYROLL)
    world.send_event(
        {
            "type": "message",
            "channel": dm,
            "user": asker,
            "text": PAYROLL,
            "ts": message["ts"],
            "event_ts": message["ts"],
            "channel_type": "im",
        }
    )
    world.settle()
    [question] = world.runtime.flow.lc.questions()
    assert question.private and question.origin == "dm"
    _answer_first_request(world, question.id, "Payroll runs on the 25th; HR fixes deductions.")
    world.settle()
    _assert_never_in_a_channel(world, question.id)
    replies = [m for m in world.double.posts(dm) if m.get("thread_ts") == message["ts"]]
    assert any("answered your question" in text_of(m) for m in replies)
    assert all(f"<@{asker}>" not in text_of(m) for m in replies)


def test_slash_command_acks_at_once_and_answers_only_by_dm(world: SlackWorld) -> None:
    asker = _asker(world)
    reply = world.send_command(asker, PAYROLL)
    assert reply.status == 200 and reply.seconds < 3
    assert "looking for someone" in reply.json()["text"]
    world.settle()
    [question] = world.runtime.flow.lc.questions()
    assert question.private and question.origin == "ask"
    _answer_first_request(world, question.id, "Payroll runs on the 25th.")
    world.settle()
    _assert_never_in_a_channel(world, question.id)
    dm = world.double.im_channel(asker)
    assert any("answered your question" in text_of(m) for m in world.double.posts(dm))


def test_slash_command_without_text_opens_the_ask_modal(world: SlackWorld) -> None:
    reply = world.send_command(_asker(world), "")
    assert reply.status == 200
    view = world.opened_view()
    assert view["callback_id"] == ids.VIEW_ASK
    world.submit(
        _asker(world), view, {ids.TEXT_INPUT: {"type": "plain_text_input", "value": PAYROLL}}
    )
    world.settle()
    [question] = world.runtime.flow.lc.questions()
    assert question.private and question.text == PAYROLL


def test_the_message_shortcut_asks_in_the_messages_thread(world: SlackWorld) -> None:
    poster, asker = world.slack_id("dana.ng"), _asker(world)
    message = world.double.post_as_user(CHANNEL, poster, OOM)
    payload = {
        "type": "message_action",
        "callback_id": ids.SHORTCUT,
        "trigger_id": "13345224609.8534564800.6f8ab1f53e13d0cd15f96106292d5536",
        "response_url": world.double.response_url(),
        "team": {"id": "TNORTHWIND", "domain": "northwind"},
        "channel": {"id": CHANNEL, "name": "eng-help"},
        "user": {"id": asker, "name": "sofia"},
        "message": {"type": "message", "user": poster, "ts": message["ts"], "text": OOM},
        "message_ts": message["ts"],
        "action_ts": "1767000999.000001",
        "token": "Nj2rfC2hU8mAfgaJLemZgO7H",
    }
    assert world.send_interaction(payload).status == 200
    view = world.opened_view()
    assert view["callback_id"] == ids.VIEW_ASK
    where = {"type": "radio_buttons", "selected_option": {"value": "thread"}}
    text = {"type": "plain_text_input", "value": OOM}
    world.submit(asker, view, {ids.TEXT_INPUT: text, ids.WHERE_INPUT: where})
    world.settle()
    [question] = world.runtime.flow.lc.questions()
    assert question.origin == "shortcut" and not question.private
    assert question.place["thread_ts"] == message["ts"]
    assert any("I've asked" in m["text"] for m in world.thread(message["ts"]))


def test_an_empty_modal_answer_is_refused_in_the_modal(world: SlackWorld) -> None:
    world.send_command(_asker(world), "")
    view = world.opened_view()
    reply = world.submit(
        _asker(world), view, {ids.TEXT_INPUT: {"type": "plain_text_input", "value": None}}
    )
    assert reply.json() == {
        "response_action": "errors",
        "errors": {"text": "Type your question first."},
    }


def test_someone_outside_the_directory_is_told_politely(world: SlackWorld) -> None:
    world.double.add_user("U0STRANGER", "Stranger Danger")
    reply = world.send_command("U0STRANGER", PAYROLL)
    assert reply.status == 200
    world.settle()
    assert world.runtime.flow.lc.questions() == []
    [response] = world.double.responses
    assert "isn't in the whoknows directory" in response["text"]
    assert response["response_type"] == "ephemeral"


def test_a_referral_the_core_refuses_is_told_to_the_referrer(world: SlackWorld) -> None:
    world.send_command(_asker(world), PAYROLL)
    world.settle()
    [question] = world.runtime.flow.lc.questions()
    ask = world.runtime.flow.lc.asks_of_question(question.id)[0]
    expert = world.slack_id(ask.person_id)
    request = next(m for m in world.dms_to(ask.person_id) if ids.REFER in button_values(m))
    world.click(expert, ids.REFER, str(ask.id), request)
    view = world.opened_view()
    # Refer it back to the asker: the core refuses, the referrer hears why, nothing moves.
    world.submit(
        expert, view, {ids.USER_INPUT: {"type": "users_select", "selected_user": _asker(world)}}
    )
    world.settle()
    assert world.runtime.flow.lc.ask(ask.id).state == "pending"
    assert any("is the one asking" in r["text"] for r in world.double.responses)


# --------------------------------------------------------------------- helpers


def _answer_first_request(world: SlackWorld, question_id: int, text: str) -> None:
    ask = world.runtime.flow.lc.asks_of_question(question_id)[0]
    expert = world.slack_id(ask.person_id)
    request = next(m for m in world.dms_to(ask.person_id) if ids.ANSWER in button_values(m))
    world.click(expert, ids.ANSWER, str(ask.id), request)
    view = world.opened_view()
    world.submit(expert, view, {ids.TEXT_INPUT: {"type": "plain_text_input", "value": text}})


def _assert_never_in_a_channel(world: SlackWorld, question_id: int) -> None:
    """Nothing about the question was posted anywhere but DMs (experts' and the asker's)."""
    question = world.runtime.flow.question(question_id)
    for post in world.double.posts():
        if question.text[:40] in text_of(post) or "answered your question" in text_of(post):
            assert world.double.is_im(post["channel"]), post
    for call in world.double.calls_to("chat.postMessage"):
        channel = str(call.args.get("channel"))
        assert world.double.is_im(channel) or channel.startswith("U"), call.args
