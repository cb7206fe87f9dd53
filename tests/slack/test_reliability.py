"""Slack failing in the ways it does: 429 with Retry-After, `ok: false` on a DM, a crash
between posting and recording, a channel the bot was removed from."""

from __future__ import annotations

import logging

from bot.lifecycle.intents import intent_from
from bot.lifecycle.scheduler import outbox_key
from bot.slack import ids
from tests.slack.double import BOT_USER
from tests.slack.harness import CHANNEL, SlackWorld, text_of

OOM = "Our pods keep getting OOM killed in Kubernetes after the deploy. Who can help?"


def _mention(world: SlackWorld, text: str = OOM) -> dict:
    asker = world.slack_id("sofia.lindqvist")
    message = world.double.post_as_user(CHANNEL, asker, f"<@{BOT_USER}> {text}")
    event = {
        "type": "app_mention",
        "user": asker,
        "text": f"<@{BOT_USER}> {text}",
        "ts": message["ts"],
        "channel": CHANNEL,
        "event_ts": message["ts"],
    }
    world.send_event(event)
    assert world.bot.jobs.join(30)
    return message


def test_a_429_is_retried_after_its_retry_after(world: SlackWorld) -> None:
    world.double.rate_limit("chat.postMessage", retry_after=1, times=1)
    _mention(world)
    world.settle()
    calls = world.double.calls_to("chat.postMessage")
    assert len(calls) == 4  # the 429, then both DMs and the status, once each
    assert calls[1].at - calls[0].at >= 1.0  # waited for Retry-After
    [question] = world.runtime.flow.lc.questions()
    assert all(r.sent_at for r in world.runtime.flow.lc.outbox(question.id))
    assert len(world.double.posts()) == 3


def test_a_failed_dm_is_logged_retried_later_and_never_loses_the_question(
    world: SlackWorld, caplog
) -> None:
    world.double.fail("chat.postMessage", "fatal_error", times=2)
    with caplog.at_level(logging.WARNING, logger="bot.lifecycle.scheduler"):
        _mention(world)
        world.settle()
    [question] = world.runtime.flow.lc.questions()
    failed = [r for r in world.runtime.flow.lc.outbox(question.id) if r.sent_at is None]
    assert len(failed) == 2  # the two DMs that failed are still in the outbox
    assert "fatal_error" in caplog.text and "retry in 30s" in caplog.text
    # Nothing more happens until the retry time; then everything goes out, once.
    world.settle()
    assert len([r for r in world.runtime.flow.lc.outbox(question.id) if not r.sent_at]) == 2
    world.advance(seconds=31)
    outbox = world.runtime.flow.lc.outbox(question.id)
    assert all(r.sent_at for r in outbox)
    assert len(world.double.posts()) == len(outbox) == 3
    asks = world.runtime.flow.lc.asks_of_question(question.id)
    assert all(a.message_ref for a in asks)  # the requests can still be updated in place


def test_a_dm_that_went_out_before_a_crash_is_not_sent_again(world: SlackWorld) -> None:
    world.send_command(world.slack_id("sofia.lindqvist"), OOM)
    assert world.bot.jobs.join(30)
    lc = world.runtime.flow.lc
    [question] = lc.questions()
    rows = lc.outbox_due(world.clock.now())
    # The scheduler claims a row and posts it; the process dies before recording it.
    row = rows[0]
    with world.store.transaction():
        lc.claim(row.id, world.clock.now())
    world.bot.deliverer.deliver(intent_from(row.kind, row.payload), outbox_key(row.id), None)
    before = len(world.double.calls_to("chat.postMessage"))
    # After the restart the in-doubt row is looked up by its key in the DM's history.
    world.settle()
    after = world.double.calls_to("chat.postMessage")
    assert len(after) == before + len(rows) - 1
    searches = world.double.calls_to("conversations.history")
    assert searches and str(searches[0].args["include_all_metadata"]).lower() in ("1", "true")
    assert lc.outbox_row(row.id).sent_at is not None
    keys = [m["metadata"]["event_payload"]["key"] for m in world.double.posts()]
    assert len(keys) == len(set(keys)) == len(lc.outbox(question.id))


def test_a_thread_post_in_doubt_is_found_in_the_thread(world: SlackWorld) -> None:
    message = _mention(world)
    lc = world.runtime.flow.lc
    status = next(r for r in lc.outbox_due(world.clock.now()) if r.kind == "status")
    with world.store.transaction():
        lc.claim(status.id, world.clock.now())
    world.bot.deliverer.deliver(
        intent_from(status.kind, status.payload), outbox_key(status.id), None
    )
    world.settle()
    assert len(world.thread(message["ts"])) == 1
    assert world.double.calls_to("conversations.replies")


def test_answers_go_to_the_askers_dm_when_the_bot_left_the_channel(world: SlackWorld) -> None:
    message = _mention(world)
    world.double.channels[CHANNEL].members.remove(BOT_USER)
    world.settle()
    assert world.thread(message["ts"]) == []
    dm = world.double.im_channel(world.slack_id("sofia.lindqvist"))
    assert any("I've asked" in text_of(m) for m in world.double.posts(dm))
    [question] = world.runtime.flow.lc.questions()
    assert all(r.sent_at for r in world.runtime.flow.lc.outbox(question.id))


def test_a_request_closed_before_it_could_be_delivered_is_not_shown(world: SlackWorld) -> None:
    world.double.fail("conversations.open", "fatal_error", times=10)
    asker = world.slack_id("sofia.lindqvist")
    world.send_command(asker, OOM)
    world.settle()
    [question] = world.runtime.flow.lc.questions()
    world.runtime.flow.resolve(question.id, "sofia.lindqvist")
    world.double.faults.clear()
    world.advance(minutes=5)
    requests = [m for m in world.double.posts() if ids.ANSWER in str(m.get("blocks"))]
    assert requests == []
    assert all(r.sent_at for r in world.runtime.flow.lc.outbox(question.id))


def test_a_rate_limited_modal_never_holds_up_the_ack(world: SlackWorld) -> None:
    world.send_command(world.slack_id("sofia.lindqvist"), OOM)
    world.settle()
    [question] = world.runtime.flow.lc.questions()
    ask = world.runtime.flow.lc.asks_of_question(question.id)[0]
    request = next(m for m in world.dms_to(ask.person_id) if ids.ANSWER in str(m["blocks"]))
    world.double.rate_limit("views.open", retry_after=30)
    reply = world.click(world.slack_id(ask.person_id), ids.ANSWER, str(ask.id), request)
    assert reply.status == 200 and reply.seconds < 3
    assert world.bot.jobs.join(30)
    assert any("didn't open the form" in r["text"] for r in world.double.responses)
    assert world.runtime.flow.lc.ask(ask.id).state == "pending"
