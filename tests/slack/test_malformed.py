"""What Slack would never send gets a 4xx and one log line, never a 500 or a traceback:
the signature is checked on the raw bytes first (401 whatever the body), then the body's
shape (400)."""

from __future__ import annotations

import logging

import pytest

from tests.slack.harness import SlackWorld, sign

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"

BAD_BODIES = [
    (b'{"type": "event_callback", "event": ', JSON),  # malformed JSON
    (b'[{"type": "event_callback"}]', JSON),  # a JSON array
    (b'"event_callback"', JSON),  # a JSON string
    (b"null", JSON),
    (b'{"type": "event_callback", "text": "\xff\xfe"}', JSON),  # invalid UTF-8
    (b"payload=", FORM),  # empty payload
    (b"payload=%7B%22type%22%3A%22block_actions%22", FORM),  # truncated payload
    (b"payload=%5B1%2C2%5D", FORM),  # a payload that is a JSON array
    (b"payload=%FF%FE", FORM),  # a payload that is not UTF-8
    (b"a=1&&&=", FORM),  # a form of nothing Slack sends
    (b"\xff\xfe\x00", FORM),
]


def _no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize(("body", "content_type"), BAD_BODIES)
def test_an_unsigned_or_badly_signed_request_is_401_whatever_its_body(
    world: SlackWorld, caplog: pytest.LogCaptureFixture, body: bytes, content_type: str
) -> None:
    with caplog.at_level(logging.WARNING):
        unsigned = world.request("POST", "/slack/events", body, {"Content-Type": content_type})
        wrong = world.post_signed(body, content_type, secret="not-the-secret")
        stale = world.post_signed(body, content_type, timestamp=1_500_000_000)
        text_stamp = world.request(
            "POST",
            "/slack/events",
            body,
            {
                "Content-Type": content_type,
                "X-Slack-Request-Timestamp": "soon",
                "X-Slack-Signature": "v0=abc",
            },
        )
    assert [r.status for r in (unsigned, wrong, stale, text_stamp)] == [401] * 4
    warnings = [r for r in caplog.records if r.name == "bot.slack.server"]
    assert len(warnings) == 4 and all(r.levelno == logging.WARNING for r in warnings)
    _no_traceback(caplog)


@pytest.mark.parametrize(("body", "content_type"), BAD_BODIES)
def test_a_signed_but_malformed_body_is_400_and_writes_nothing(
    world: SlackWorld, caplog: pytest.LogCaptureFixture, body: bytes, content_type: str
) -> None:
    with caplog.at_level(logging.WARNING):
        reply = world.post_signed(body, content_type)
    assert reply.status == 400
    [line] = [r for r in caplog.records if r.name == "bot.slack.server"]
    assert "(400)" in line.getMessage()
    _no_traceback(caplog)
    assert world.runtime.intake.counts() == {}


def test_a_signed_timestamp_that_is_not_a_number_is_401(
    world: SlackWorld, caplog: pytest.LogCaptureFixture
) -> None:
    body = b'{"type": "event_callback"}'
    with caplog.at_level(logging.WARNING):
        headers = {"Content-Type": JSON, **sign(body)}
        headers["X-Slack-Request-Timestamp"] = headers["X-Slack-Request-Timestamp"] + "x"
        reply = world.request("POST", "/slack/events", body, headers)
    assert reply.status == 401
    _no_traceback(caplog)


def test_oversized_and_unknown_bodies_are_refused_before_parsing(world: SlackWorld) -> None:
    big = b'{"x": "' + b"a" * (1 << 21) + b'"}'
    assert world.post_signed(big, JSON).status == 413
    assert world.post_signed(b"<xml/>", "text/xml").status == 415
    # No body after the lying header: the server answers from the headers alone, and
    # unread bytes left in its socket at close would turn its 400 into a TCP reset.
    lying = world.request(
        "POST", "/slack/events", b"", {"Content-Type": JSON, "Content-Length": "huge"}
    )
    assert lying.status in (400, 413)


def test_a_signed_object_no_listener_wants_is_a_4xx_not_a_500(world: SlackWorld) -> None:
    for body in (b"{}", b'{"type": "event_callback"}', b'{"type": "block_actions"}'):
        reply = world.post_signed(body, JSON)
        assert 200 <= reply.status < 500, (body, reply.status)
    assert world.post_signed(b"command=%2Fask&text=", FORM).status < 500
