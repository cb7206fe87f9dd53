"""The Bot Connector says "not now" (429 with Retry-After, 412, 5xx): the bot's calls (posts,
updates, new 1:1 chats, member lookups) wait and try again, a bounded number of times, and
the message is delivered once; a final 4xx is not tried again."""

from __future__ import annotations

import email.utils
import itertools
import logging
import time
from datetime import UTC, datetime, timedelta

import pytest

from bot.demo import CHAIN_QUESTION
from bot.teams.retry import retry_after
from tests.teams import activities as teams
from tests.teams.double import Answer, Call
from tests.teams.world import FAST_RETRIES, TeamsWorld

SOFIA = "sofia.lindqvist"


def user(world: TeamsWorld, person_id: str) -> dict:
    return teams.user(world.person(person_id))


def personal_id(world: TeamsWorld, person_id: str) -> str:
    return teams.personal_conversation(user(world, person_id))["id"]


def install_everyone(world: TeamsWorld) -> None:
    for person in world.store.people():
        assert world.post(teams.install(world.service_url, user(world, person.id)))[0] == 202
    world.double.clear()


def ask(world: TeamsWorld) -> int:
    world.post(teams.personal_message(world.service_url, user(world, SOFIA), CHAIN_QUESTION))
    world.double.clear()
    return world.flow.questions_of(SOFIA)[0].id


def key_of(call: Call) -> str:
    return (call.body.get("channelData") or {}).get("whoknows", {}).get("outboxKey", "")


def tries_of_first(world: TeamsWorld) -> list[Call]:
    """Every attempt at the first message posted (same outbox key)."""
    posts = world.double.posts()
    return [c for c in posts if key_of(c) == key_of(posts[0])]


@pytest.mark.parametrize("seconds", ["0.3", "1"])
def test_a_429_is_retried_after_its_retry_after_and_delivered_once(world, seconds):
    install_everyone(world)
    ask(world)
    world.double.script("post", Answer(429, seconds), Answer(429, seconds))
    report = world.run()
    assert report.delivered == 3 and report.failed == 0  # two cards and the status
    tries = tries_of_first(world)
    assert [c.status for c in tries] == [429, 429, 201]
    for earlier, later in itertools.pairwise(tries):
        assert later.at - earlier.at >= float(seconds) - 0.02
    delivered = world.double.delivered()
    assert len(delivered) == 3 and len({key_of(c) for c in delivered}) == 3


def test_a_retry_after_date_is_honoured(world):
    install_everyone(world)
    ask(world)
    when = email.utils.formatdate(time.time() + 2, usegmt=True)  # whole seconds: 1-2 s away
    world.double.script("post", Answer(429, when))
    assert world.run().delivered == 3
    first, second = tries_of_first(world)
    assert (first.status, second.status) == (429, 201)
    assert second.at - first.at >= 0.9


@pytest.mark.parametrize("status", [412, 500, 502, 503, 504])
def test_transient_failures_are_retried_with_backoff(world, status):
    install_everyone(world)
    ask(world)
    world.double.script("post", status, status, status)
    report = world.run()
    assert report.delivered == 3 and report.failed == 0
    assert [c.status for c in tries_of_first(world)] == [status] * 3 + [201]
    assert len(world.double.delivered()) == 3


def test_the_tries_are_bounded_and_the_scheduler_retries_later(world, caplog):
    caplog.set_level(logging.WARNING)
    install_everyone(world)
    ask(world)
    world.double.script("post", *[Answer(503)] * FAST_RETRIES.tries)
    report = world.run()
    assert report.delivered == 2 and report.failed == 1
    assert [c.status for c in tries_of_first(world)] == [503] * FAST_RETRIES.tries
    retries = [r for r in caplog.records if "retrying in" in r.getMessage()]
    assert len(retries) == FAST_RETRIES.tries - 1
    world.double.clear()
    assert world.advance(minutes=1).delivered == 1
    assert len(world.double.delivered()) == 1


def test_a_retry_after_longer_than_the_longest_wait_is_not_waited_out(world, caplog):
    caplog.set_level(logging.WARNING)
    install_everyone(world)
    ask(world)
    world.double.script("post", Answer(429, "120"))
    started = time.monotonic()
    report = world.run()
    assert time.monotonic() - started < 10
    assert report.failed == 1 and report.delivered == 2
    assert [c.status for c in tries_of_first(world)] == [429]
    assert any("not retrying" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_a_final_4xx_is_not_retried(world, status):
    install_everyone(world)
    ask(world)
    world.double.script("post", status)
    report = world.run()
    assert report.failed == 1 and report.delivered == 2
    assert [c.status for c in tries_of_first(world)] == [status]


def test_a_card_update_is_retried(world):
    install_everyone(world)
    qid = ask(world)
    world.run()
    expert = world.asks(qid)[0].person_id
    [card] = [c for c in world.double.delivered(personal_id(world, expert)) if key_of(c)]
    data = {"verb": "pass", "ask_id": world.asks(qid)[0].id}
    click = teams.card_action(
        world.service_url, user(world, expert), "pass", data, reply_to_id=card.result_id
    )
    assert world.post(click)[0] == 200
    world.double.clear()
    world.double.script("put", Answer(503), Answer(429, "0.1"))
    world.run()
    assert [c.status for c in world.double.updates()] == [503, 429, 200]
    assert {c.activity_id for c in world.double.updates()} == {card.result_id}


def test_opening_a_1on1_chat_is_retried(world):
    world.post(teams.install(world.service_url, user(world, SOFIA)))
    qid = ask(world)
    world.run()  # the experts have no address: not delivered
    expert = world.asks(qid)[0].person_id
    # The expert @mentions the bot in a channel: their chat can be opened now.
    world.post(teams.channel_mention(world.service_url, user(world, expert), "hello"))
    world.double.clear()
    world.double.script("create", Answer(429, "0.1"), 500)
    world.advance(minutes=1)
    assert [c.status for c in world.double.of("POST", "create")] == [429, 500, 201]
    account = user(world, expert)
    assert len(world.double.delivered(f"a:1on1-{account['id']}")) == 1


def test_a_member_lookup_in_a_turn_is_retried(world):
    sofia = teams.user(world.person(SOFIA), aad="0f0f0f0f-not-in-the-directory")
    world.double.members[sofia["id"]] = {
        "id": sofia["id"],
        "email": "sofia.lindqvist@northwind.example",
    }
    world.double.script("member", Answer(429, "0.1"), 502)
    world.post(teams.personal_message(world.service_url, sofia, CHAIN_QUESTION))
    assert [c.status for c in world.double.of("GET", "member")] == [429, 502, 200]
    assert len(world.flow.questions_of(SOFIA)) == 1


def test_retry_after_is_read_as_seconds_or_an_http_date():
    now = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    assert retry_after("7", now) == 7
    assert retry_after(" 0.5 ", now) == 0.5
    later = email.utils.format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert retry_after(later, now) == 30
    earlier = email.utils.format_datetime(now - timedelta(seconds=30), usegmt=True)
    assert retry_after(earlier, now) == 0
    for unreadable in (None, "", "soon", "-3", "nan", "inf"):
        assert retry_after(unreadable, now) is None
