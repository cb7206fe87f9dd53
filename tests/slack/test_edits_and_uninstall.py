"""Issue 13 over HTTP: the asker deleting or editing the message that asked a question, and
Slack taking the app away (`app_uninstalled`, `tokens_revoked`, a refused token)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot.slack import deliverer, ids
from tests.slack.double import BOT_ID, BOT_TOKEN, BOT_USER
from tests.slack.harness import CHANNEL, SlackWorld, button_values, deleted_event, text_of

OOM = "Our pods keep getting OOM killed in Kubernetes after the deploy. Who can help?"
PAYROLL = "When is payroll processed this month, and who can fix a wrong tax deduction?"


def _asker(world: SlackWorld) -> str:
    return world.slack_id("sofia.lindqvist")


def _requests(world: SlackWorld) -> list[dict[str, Any]]:
    """Every expert request the bot DM'd (they carry the four buttons)."""
    return [
        m
        for m in world.double.posts()
        if world.double.is_im(m["channel"]) and ids.ANSWER in button_values(m)
    ]


def _tombstoned(message: dict[str, Any]) -> dict[str, Any]:
    """A message with thread replies deleted: Slack sends `message_changed` to a tombstone."""
    return {
        "type": "message",
        "subtype": "message_changed",
        "hidden": True,
        "channel": CHANNEL,
        "ts": "1767999999.000002",
        "event_ts": "1767999999.000002",
        "message": {
            "type": "message",
            "subtype": "tombstone",
            "text": "This message was deleted.",
            "user": "USLACKBOT",
            "hidden": True,
            "ts": message["ts"],
            "thread_ts": message["ts"],
        },
        "previous_message": {k: v for k, v in message.items() if k != "channel"},
        "channel_type": "channel",
    }


def _edited(message: dict[str, Any], text: str, channel: str = CHANNEL) -> dict[str, Any]:
    """`message_changed` for an edit by the author."""
    before = {k: v for k, v in message.items() if k != "channel"}
    return {
        "type": "message",
        "subtype": "message_changed",
        "hidden": True,
        "channel": channel,
        "ts": "1767999999.000003",
        "event_ts": "1767999999.000003",
        "message": {
            **before,
            "text": text,
            "edited": {"user": message["user"], "ts": "1767999999.000003"},
        },
        "previous_message": before,
        "channel_type": "channel",
    }


def _question(world: SlackWorld):
    [question] = world.runtime.flow.lc.questions()
    return question


# --------------------------------------------------------------------- deleted


def test_a_question_deleted_during_the_wait_is_never_sent_to_anyone(world) -> None:
    message, _ = world.post_in_channel(_asker(world), OOM)
    world.settle()
    reply, _ = world.send_event(deleted_event(message))
    assert reply.status == 200
    world.advance(minutes=30)
    question = _question(world)
    assert question.state == "withdrawn"
    assert world.runtime.flow.lc.asks_of_question(question.id) == []
    assert _requests(world) == [] and world.double.calls_to("chat.postMessage") == []


def test_only_the_askers_own_deletion_counts(world) -> None:
    message, _ = world.post_in_channel(_asker(world), OOM)
    someone_else = {**message, "user": world.slack_id("dana.ng")}
    world.send_event(deleted_event(someone_else))  # not the message the asker wrote
    world.send_event({**deleted_event(message), "previous_message": {"ts": message["ts"]}})
    world.advance(minutes=11)
    assert _question(world).state == "routing" and _requests(world)


def test_a_question_deleted_after_routing_is_withdrawn_and_its_requests_updated(world) -> None:
    message, _ = world.post_in_channel(_asker(world), OOM)
    world.advance(minutes=11)  # routed: the experts have their DMs, the thread a status
    question = _question(world)
    requests = _requests(world)
    assert question.state == "routing" and requests
    asks_before = len(world.runtime.flow.lc.asks_of_question(question.id))
    world.send_event(_tombstoned(message))  # the thread has the bot's status: a tombstone
    world.settle()
    assert _question(world).state == "withdrawn"
    updates = world.double.calls_to("chat.update")
    assert {(c.args["channel"], c.args["ts"]) for c in updates} == {
        (r["channel"], r["ts"]) for r in requests
    }
    for request in requests:
        shown = world.double.message(request["channel"], request["ts"])
        assert "Sofia Lindqvist withdrew this question" in text_of(shown)
        assert ids.ANSWER not in button_values(shown)  # no buttons left
    posts = len(world.double.posts())
    world.advance(hours=5)  # well past every request's timeout
    assert len(world.runtime.flow.lc.asks_of_question(question.id)) == asks_before
    assert len(world.double.posts()) == posts  # nobody else asked, nothing said


def test_a_retried_delete_event_changes_nothing(world) -> None:
    message, _ = world.post_in_channel(_asker(world), OOM)
    world.advance(minutes=11)
    _, event_id = world.send_event(_tombstoned(message))
    world.settle()
    calls = len(world.double.calls)
    outbox = len(world.runtime.flow.lc.outbox())
    reply, _ = world.send_event(_tombstoned(message), event_id=event_id, retry=1)
    assert reply.status == 200
    world.bot.services.recent = type(world.bot.services.recent)()  # as after a restart
    world.send_event(_tombstoned(message), event_id=event_id, retry=2)
    tombstone = {**_tombstoned(message)["message"], "channel": CHANNEL}
    world.send_event(deleted_event(tombstone))  # the tombstone goes when its replies do: no news
    world.settle()
    assert len(world.runtime.flow.lc.outbox()) == outbox
    assert len(world.double.calls) == calls
    assert _question(world).state == "withdrawn"


def test_a_deleted_dm_question_is_withdrawn(world) -> None:
    asker = _asker(world)
    dm = world.double.im_channel(asker)
    message = world.double.post_as_user("im", asker, PAYROLL)
    event = {
        "type": "message",
        "channel": dm,
        "user": asker,
        "text": PAYROLL,
        "ts": message["ts"],
        "channel_type": "im",
    }
    world.send_event(event)
    world.settle()
    assert _question(world).state == "routing"
    world.send_event({**deleted_event(message, channel=dm), "channel_type": "im"})
    world.settle()
    assert _question(world).state == "withdrawn"


def test_deleting_the_reply_that_cancelled_a_question_does_not_bring_it_back(world) -> None:
    message, _ = world.post_in_channel(_asker(world), OOM)
    colleague = world.slack_id("dana.ng")
    reply, _ = world.post_in_channel(colleague, "Raise the memory limit", thread_ts=message["ts"])
    world.settle()
    deleted = deleted_event(reply)
    assert deleted["previous_message"]["thread_ts"] == message["ts"]
    assert world.send_event(deleted)[0].status == 200
    world.advance(minutes=30)
    assert _question(world).state == "cancelled" and _requests(world) == []


# ---------------------------------------------------------------------- edited


def test_a_question_edited_during_the_wait_is_sent_with_its_new_text(world) -> None:
    first = "Who can help with Kubernetes pods getting OOM killed?"
    message, _ = world.post_in_channel(_asker(world), first)
    world.settle()
    world.send_event(_edited(message, OOM))
    world.advance(minutes=11)
    question = _question(world)
    assert question.state == "routing" and question.text == OOM
    requests = _requests(world)
    assert requests
    for request in requests:
        assert "after the deploy" in text_of(request) and first not in text_of(request)


def test_an_edit_after_routing_keeps_the_requests_and_tells_the_experts(world) -> None:
    message, _ = world.post_in_channel(_asker(world), OOM)
    world.advance(minutes=11)
    question = _question(world)
    requests = _requests(world)
    asks = world.runtime.flow.lc.asks_of_question(question.id)
    new = OOM + " It is the fleet-api release."
    world.send_event(_edited(message, new))
    world.settle()
    assert _question(world).text == new
    assert world.runtime.flow.lc.asks_of_question(question.id) == asks  # same requests
    for request in requests:
        later = world.double.posts(request["channel"])[-1]
        assert "Sofia Lindqvist edited the question" in text_of(later)
        assert "fleet-api release" in text_of(later)
    # The request, answered later, is redrawn with the question as it reads now.
    ask = next(a for a in asks if a.state == "pending")
    world.runtime.flow.answer(ask.id, ask.person_id, "Roll back fleet-api with helm.")
    world.settle()
    closed = next(r for r in requests if r["ts"] == ask.message_ref.partition(":")[2])
    assert "fleet-api release" in text_of(world.double.message(closed["channel"], closed["ts"]))


def test_edits_that_are_not_question_edits_change_nothing(world) -> None:
    message, _ = world.post_in_channel(_asker(world), OOM)
    world.settle()
    world.send_event(_edited(message, "never mind, sorted"))  # no longer a question
    world.send_event(_edited(message, OOM))  # same words: an unfurl, a reply count...
    chatter, _ = world.post_in_channel(_asker(world), "thanks all!")
    world.send_event(_edited(chatter, PAYROLL))  # never a question: an edit doesn't make one
    bot_post = {"type": "message", "user": BOT_USER, "bot_id": BOT_ID, "text": "x", "ts": "9.1"}
    world.send_event(_edited({**bot_post, "channel": CHANNEL}, "y"))
    world.advance(minutes=11)
    question = _question(world)
    assert question.text == OOM and question.state == "routing"
    assert all("after the deploy" in text_of(r) for r in _requests(world))


# ------------------------------------------------------------------- uninstalled


def _uninstall_event(kind: str = "app_uninstalled") -> dict[str, Any]:
    if kind == "tokens_revoked":
        return {"type": "tokens_revoked", "tokens": {"oauth": [], "bot": [BOT_USER]}}
    return {"type": "app_uninstalled"}


@pytest.mark.parametrize("kind", ["app_uninstalled", "tokens_revoked"])
def test_after_an_uninstall_nothing_is_sent_nothing_is_lost_and_health_says_so(
    world, kind, caplog, monkeypatch
) -> None:
    world.post_in_channel(_asker(world), OOM)
    world.settle()
    world.double.tokens.discard(BOT_TOKEN)  # Slack revokes the token on uninstall
    assert world.send_event(_uninstall_event(kind))[0].status == 200
    world.settle()
    health = world.request("GET", "/healthz").json()
    why = "app uninstalled" if kind == "app_uninstalled" else "bot token revoked"
    assert health["ok"] is True and health["sending"] is False
    assert health["why"].startswith(f"{why} at 2026-03-02T15:00")
    posts, checks = len(world.double.posts()), len(world.double.calls_to("auth.test"))
    with caplog.at_level(logging.WARNING, logger="bot.slack.deliverer"):
        world.advance(minutes=11)  # the question is routed: its messages wait in the outbox
        world.advance(minutes=5)  # retried: still refused
    assert len(world.double.posts()) == posts
    assert world.double.calls_to("chat.postMessage") == []
    unsent = [r for r in world.runtime.flow.lc.outbox() if r.sent_at is None]
    assert unsent and all(r.dead_at is None for r in unsent)
    assert all("NotInstalled" in (r.last_error or "") for r in unsent)
    warnings = [r for r in caplog.records if r.name == "bot.slack.deliverer"]
    assert len(warnings) == 1 and why in warnings[0].getMessage()
    assert len(world.double.calls_to("auth.test")) == checks + 1  # once, not per message
    assert _question(world).state == "routing"  # the data is all there

    # Reinstalled (the token works again): the next check clears the mark and sends.
    world.double.tokens.add(BOT_TOKEN)
    monkeypatch.setattr(deliverer, "RECHECK_SECONDS", 0)
    world.advance(hours=1)
    assert world.request("GET", "/healthz").json()["sending"] is True
    assert _requests(world)
    assert all(r.sent_at for r in world.runtime.flow.lc.outbox())


def test_user_tokens_revoked_leave_the_bot_sending(world) -> None:
    event = {"type": "tokens_revoked", "tokens": {"oauth": ["U0SOMEONE"], "bot": []}}
    world.send_event(event)
    world.settle()
    assert world.request("GET", "/healthz").json()["sending"] is True


def test_a_refused_token_without_any_event_also_stops_sending(world) -> None:
    world.post_in_channel(_asker(world), OOM)
    world.settle()
    world.double.tokens.discard(BOT_TOKEN)  # the uninstall event never reached us
    world.advance(minutes=11)
    health = world.request("GET", "/healthz").json()
    assert health["sending"] is False and "bot token refused (invalid_auth)" in health["why"]
    assert all(r.sent_at is None for r in world.runtime.flow.lc.outbox())
    calls = len(world.double.calls_to("chat.postMessage"))
    world.advance(minutes=5)
    assert len(world.double.calls_to("chat.postMessage")) == calls  # refused before calling
