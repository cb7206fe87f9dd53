"""The manifest asks for exactly what the app uses; Block Kit stays within Slack's limits
whatever people type; Slack text is turned into plain words and back safely."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.lifecycle.intents import AnswerPosted, AskClosed, AskExpert, SimilarFound
from bot.question_text import looks_like_question
from bot.slack import blocks, ids
from bot.slack.text import escape, plain, without_mention
from tests.slack.double import _check_blocks, _check_view

SLACK = Path(__file__).resolve().parents[2] / "bot" / "slack"
MANIFEST = json.loads((SLACK / "manifest.json").read_text())

# Web API method -> the bot scopes it needs for the conversations whoknows uses.
METHOD_SCOPES = {
    "auth.test": set(),
    "chat.postMessage": {"chat:write"},
    "chat.postEphemeral": {"chat:write"},
    "chat.update": {"chat:write"},
    "conversations.open": {"im:write"},
    # In-doubt deliveries are looked up by their metadata in DMs and channel threads.
    "conversations.history": {"im:history", "metadata.message:read"},
    "conversations.replies": {"channels:history", "groups:history", "im:history"},
    "conversations.info": {"channels:read", "groups:read"},  # a learned channel's name
    "conversations.members": {"channels:read", "groups:read"},
    "users.conversations": {"channels:read", "groups:read"},
    "users.list": {"users:read", "users:read.email"},  # emails match people to the directory
    "team.profile.get": {"users.profile:read"},
    "views.open": set(),
    "views.publish": set(),
}
EVENT_SCOPES = {
    "app_home_opened": set(),
    "app_mention": {"app_mentions:read"},
    "app_uninstalled": set(),
    "tokens_revoked": set(),
    # A private channel's members: who may see what it taught.
    "member_joined_channel": {"channels:read", "groups:read"},
    "member_left_channel": {"channels:read", "groups:read"},
    "message.channels": {"channels:history"},
    "message.groups": {"groups:history"},
    "message.im": {"im:history"},
}


NOT_METHODS = {"retry_handlers", "base_url"}  # WebClient attributes, not Web API calls


def _methods_called() -> set[str]:
    found = set()
    for path in SLACK.rglob("*.py"):
        for name in re.findall(r"client\.([a-z]+_[A-Za-z_]+)\b", path.read_text()):
            if name not in NOT_METHODS:
                found.add(name.replace("_", "."))  # slack_sdk: team_profile_get -> team.profile.get
    return found


def test_the_manifest_asks_for_exactly_the_scopes_the_app_uses() -> None:
    methods = _methods_called()
    assert methods <= set(METHOD_SCOPES), methods - set(METHOD_SCOPES)
    events = MANIFEST["settings"]["event_subscriptions"]["bot_events"]
    assert set(events) == set(EVENT_SCOPES)
    needed = set().union(*(METHOD_SCOPES[m] for m in methods), *EVENT_SCOPES.values())
    needed.add("commands")  # the /ask slash command
    assert set(MANIFEST["oauth_config"]["scopes"]["bot"]) == needed


def test_the_manifest_names_the_command_shortcut_and_one_request_url() -> None:
    features = MANIFEST["features"]
    assert [c["command"] for c in features["slash_commands"]] == [ids.COMMAND]
    [shortcut] = features["shortcuts"]
    assert (shortcut["type"], shortcut["callback_id"]) == ("message", ids.SHORTCUT)
    assert shortcut["name"] == "Find someone who knows"
    assert features["app_home"]["home_tab_enabled"] and features["app_home"]["messages_tab_enabled"]
    urls = {
        MANIFEST["settings"]["event_subscriptions"]["request_url"],
        MANIFEST["settings"]["interactivity"]["request_url"],
        features["slash_commands"][0]["url"],
    }
    assert len(urls) == 1 and urls.pop().endswith("/slack/events")
    assert MANIFEST["settings"]["interactivity"]["is_enabled"]


HOSTILE = "<!channel> ping <@U0TR618U4S> & see <https://evil.example|your bank> " + "x" * 6000


def test_messages_escape_and_fit_whatever_is_typed() -> None:
    ask = AskExpert(
        1,
        2,
        "dana.ng",
        "Dana Ng",
        "sofia",
        "Sofia <script>",
        HOSTILE,
        "wrote " + HOSTILE,
        HOSTILE,
        "mei",
        "Mei " + HOSTILE,
        HOSTILE,
        2,
    )
    _, body = blocks.ask_expert(ask)
    _check_blocks(body, 50)
    shown = json.dumps(body)
    assert "<!channel>" not in shown and "&lt;!channel&gt;" in shown
    assert "<@U0TR618U4S>" not in shown
    _check_blocks(blocks.ask_closed(ask, AskClosed(1, 2, "dana.ng", "snoozed", HOSTILE))[1], 50)
    answer = AnswerPosted(1, 3, "sofia", "dana.ng", "Dana", HOSTILE, ["Mei", "Bo"], {}, False)
    _check_blocks(blocks.answer_posted(answer, "U1")[1], 50)
    matches = [{"question": HOSTILE, "answer": HOSTILE, "answerer": HOSTILE}] * 5
    _check_blocks(blocks.similar_found(SimilarFound(1, "sofia", matches))[1], 50)


def test_modals_and_home_fit_slacks_limits() -> None:
    meta = {"ask": 1, "channel": "D1", "response_url": "https://hooks.slack.com/" + "x" * 4000}
    for view in (
        blocks.answer_modal(HOSTILE, meta),
        blocks.refer_modal(HOSTILE, meta),
        blocks.ask_modal(HOSTILE, meta, True),
        blocks.follow_up_modal(meta),
        blocks.reply_modal(meta),
        blocks.skills_modal(["Go"] * 500),
        blocks.limits_modal(3, 20, 7, "defaults"),
        blocks.channel_modal(10),
    ):
        _check_view(view, "modal")
    many = [blocks.HomeRequest(n, "Sofia", HOSTILE) for n in range(40)]
    data = blocks.HomeData(
        person_id="dana",
        name="Dana",
        opted_out=False,
        skills=["Go"] * 300,
        topics=["k8s"],
        answers_given=3,
        asks_last_day=1,
        max_asks_per_day=None,
        quiet_start=None,
        quiet_end=None,
        defaults="defaults",
        questions=[blocks.HomeQuestion(n, HOSTILE, "routing") for n in range(40)],
        requests=many,
        admin_lines=["Questions: 3"],
    )
    _check_view(blocks.home_view(data), "home")


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("<@U1> can you help with <#C1|eng-help>?", "@Dana can you help with #eng-help?"),
        (
            "see <https://x.example/a|the runbook> &amp; <https://y.example>",
            "see the runbook & https://y.example",
        ),
        ("<!here> anyone   know &lt;this&gt;?", "@here anyone know <this>?"),
    ],
)
def test_slack_text_becomes_plain_words(raw: str, words: str) -> None:
    assert plain(raw, lambda uid: "Dana" if uid == "U1" else None) == words


def test_mentions_questions_and_escaping() -> None:
    assert without_mention("<@UBOT> who knows helm?", "UBOT") == "who knows helm?"
    assert escape("a < b & c > d") == "a &lt; b &amp; c &gt; d"
    assert looks_like_question("Does anyone know how to rotate the VPN certs")
    assert looks_like_question("the build is red again, any idea why?")
    assert not looks_like_question("thanks all!")
    assert not looks_like_question("lunch?")
    assert not looks_like_question("Deployed v2.3 to production this morning.")
