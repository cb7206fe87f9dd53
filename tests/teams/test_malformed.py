"""What the app answers to requests it cannot use: 401 for anyone without a valid Bot
Connector token whatever they send (the token is checked before the body is read), 400 for
a signed body that is not an activity the handlers can use; never a 500, and one warning
line per rejection, without a traceback. A failure inside a turn is ours: logged once (with
the traceback), and answered with a status the Bot Framework accepts."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from bot.demo import CHAIN_QUESTION
from bot.teams.app import SORRY
from tests.teams import activities as teams
from tests.teams.double import Answer
from tests.teams.world import TeamsWorld

SOFIA = "sofia.lindqvist"


def message(world: TeamsWorld) -> dict[str, Any]:
    return teams.personal_message(
        world.service_url, teams.user(world.person(SOFIA)), CHAIN_QUESTION
    )


def without(body: dict[str, Any], *path: str) -> dict[str, Any]:
    body = json.loads(json.dumps(body))
    parent = body
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    return body


def replaced(body: dict[str, Any], value: Any, *path: str) -> dict[str, Any]:
    body = json.loads(json.dumps(body))
    parent = body
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return body


def malformed(world: TeamsWorld) -> list[tuple[str, bytes]]:
    """(what, body) of requests that are not usable activities."""
    good = message(world)
    card = teams.card_action(world.service_url, teams.user(world.person(SOFIA)), "answer", {})
    update = teams.install(world.service_url, teams.user(world.person(SOFIA)))
    bodies: list[tuple[str, Any]] = [
        ("no type", without(good, "type")),
        ("empty type", replaced(good, "", "type")),
        ("type not a string", replaced(good, 5, "type")),
        ("no serviceUrl", without(good, "serviceUrl")),
        ("serviceUrl not a string", replaced(good, ["x"], "serviceUrl")),
        ("no channelId", without(good, "channelId")),
        ("channelId not a string", replaced(good, {"id": "msteams"}, "channelId")),
        ("no conversation", without(good, "conversation")),
        ("conversation not an object", replaced(good, "a:1", "conversation")),
        ("no conversation.id", without(good, "conversation", "id")),
        ("conversation.id not a string", replaced(good, 7, "conversation", "id")),
        ("message without from", without(good, "from")),
        ("from not an object", replaced(good, "29:1", "from")),
        ("from without id", without(good, "from", "id")),
        ("invoke without from", without(card, "from")),
        ("conversationUpdate without from", without(update, "from")),
        ("channelData not an object", replaced(good, "tenant", "channelData")),
        ("channelData.tenant not an object", replaced(good, "t", "channelData", "tenant")),
        ("channelData.team.id not a string", replaced(good, {"id": 3}, "channelData", "team")),
        ("timestamp not a date", replaced(good, "yesterday", "timestamp")),
        ("text not a string", replaced(good, {"x": 1}, "text")),
        ("entities not a list", replaced(good, "mention", "entities")),
        ("attachments of numbers", replaced(good, [1, 2], "attachments")),
        ("recipient not an object", replaced(good, 5, "recipient")),
        ("membersAdded not a list", replaced(update, "28:bot", "membersAdded")),
    ]
    raw: list[tuple[str, bytes]] = [
        ("empty body", b""),
        ("not JSON", b"hello"),
        ("truncated JSON", json.dumps(good).encode()[:-5]),
        ("invalid UTF-8", b'{"type": "message", "text": "\xff\xfe"}'),
        ("UTF-16", json.dumps(good).encode("utf-16")),
        ("a JSON array", b"[1, 2]"),
        ("a JSON string", b'"message"'),
        ("JSON null", b"null"),
        ("nested too deep", b"[" * 100_000 + b"]" * 100_000),
    ]
    return raw + [(what, json.dumps(body).encode()) for what, body in bodies]


def rejections(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "rejected a request" in r.getMessage()]


def assert_no_traceback(caplog) -> None:
    for record in caplog.records:
        assert record.exc_info is None and not record.stack_info, record.getMessage()
        assert record.levelno < logging.ERROR, record.getMessage()


def test_without_a_valid_token_anything_is_401(secure, caplog):
    caplog.set_level(logging.INFO)
    cases = [*malformed(secure), ("a good activity", json.dumps(message(secure)).encode())]
    for token in (None, "", "not.a.jwt", secure.token(aud="another-bot")):
        for what, body in cases:
            caplog.clear()
            status, answer = secure.post_raw(body, token=token)
            assert status == 401, (what, token, status, answer)
            assert len(rejections(caplog)) == 1, what
            assert_no_traceback(caplog)
    assert secure.flow.lc.questions() == []
    assert secure.double.posts() == []


def test_a_signed_body_that_is_not_a_usable_activity_is_400(secure, caplog):
    caplog.set_level(logging.INFO)
    token = secure.token()
    for what, body in malformed(secure):
        caplog.clear()
        status, answer = secure.post_raw(body, token=token)
        assert status == 400, (what, status, answer)
        assert json.loads(answer) == {"error": "bad request"}
        [warning] = rejections(caplog)
        assert warning.levelno == logging.WARNING, what
        assert_no_traceback(caplog)
    assert secure.flow.lc.questions() == []
    assert secure.double.posts() == []


def test_with_authentication_off_the_body_is_still_checked(world, caplog):
    caplog.set_level(logging.INFO)
    for what, body in malformed(world):
        caplog.clear()
        status, _ = world.post_raw(body)
        assert status == 400, what
        assert len(rejections(caplog)) == 1, what
        assert_no_traceback(caplog)
    assert world.double.posts() == []


def test_odd_but_valid_activities_are_answered_without_a_traceback(world, caplog):
    """Members that Teams fills with objects, filled with something else: the handlers
    read what they can and answer politely."""
    caplog.set_level(logging.INFO)
    sofia = teams.user(world.person(SOFIA))
    card = teams.card_action(world.service_url, sofia, "answer", {})
    extension = teams.extension_submit(world.service_url, sofia, "How do I rotate keys?")
    channel = teams.channel_mention(world.service_url, sofia, CHAIN_QUESTION)
    odd = [
        ("an unknown type", replaced(message(world), "somethingNew", "type"), 202),
        ("a card action with a string value", replaced(card, "x", "value"), 200),
        ("a card action with a string action", replaced(card, {"action": "x"}, "value"), 200),
        ("a card action with string data", replaced(card, "x", "value", "action", "data"), 200),
        (
            "a card action with a huge ask id",
            replaced(card, {"verb": "answer", "ask_id": 10**30}, "value", "action", "data"),
            200,
        ),
        ("an extension with string data", replaced(extension, "x", "value", "data"), 200),
        ("an extension with a string payload", replaced(extension, "x", "value"), 200),
        (
            "a mention of a string",
            replaced(channel, [{"type": "mention", "mentioned": "x"}], "entities"),
            202,
        ),
        ("a message without channelData", without(message(world), "channelData"), 202),
    ]
    for what, body, expected in odd:
        caplog.clear()
        status, _ = world.post(body)
        assert status == expected, (what, status)
        assert_no_traceback(caplog)


def test_a_failing_turn_is_logged_once_and_answered(world, caplog, monkeypatch):
    caplog.set_level(logging.INFO)

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the core")

    monkeypatch.setattr(world.flow, "ask", broken)
    monkeypatch.setattr(world.flow, "answer", broken)
    sofia = teams.user(world.person(SOFIA))
    personal = teams.personal_conversation(sofia)["id"]

    status, _ = world.post(message(world))
    assert status == 202
    [failure] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert failure.exc_info is not None and "Teams turn failed" in failure.getMessage()
    [sorry] = world.double.posts(personal)
    assert sorry.body["text"] == SORRY

    caplog.clear()
    click = teams.card_action(world.service_url, sofia, "answer", {"ask_id": 1, "answer": "x"})
    status, body = world.post(click)
    assert status == 200 and body["value"] == SORRY
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1

    caplog.clear()
    status, body = world.post(teams.extension_submit(world.service_url, sofia, "How?"))
    assert status == 200 and body == {"task": {"type": "message", "value": SORRY}}
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1


@pytest.mark.parametrize("kind", ["message", "invoke"])
def test_a_turn_that_fails_before_its_handler_is_answered_too(secure, caplog, kind):
    """The bot's own token cannot be had (Entra is down): the SDK fails before any handler
    runs; the caller still gets an answer the Bot Framework accepts, not a 500."""
    caplog.set_level(logging.INFO)
    secure.double.script("token", *[Answer(500)] * 3)
    sofia = teams.user(secure.person(SOFIA))
    if kind == "message":
        status, body = secure.post(message(secure), token=secure.token())
        assert status == 202 and body is None
    else:
        click = teams.card_action(secure.service_url, sofia, "answer", {"ask_id": 1})
        status, body = secure.post(click, token=secure.token())
        assert status == 200 and body["value"] == SORRY
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None
