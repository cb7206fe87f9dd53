"""The pure parts: card builders (data in, JSON out), the app manifest, its icons and the
package zip."""

from __future__ import annotations

import json
import struct
import zipfile
import zlib

import pytest

from bot.lifecycle.intents import AnswerPosted, AskExpert, StatusUpdate
from bot.teams import cards, package
from bot.teams.handlers.common import plain
from bot.teams.handlers.extension import COMMAND_ID

ASK = AskExpert(
    question_id=7,
    ask_id=12,
    expert_id="diego.alvarez",
    expert_name="Diego Alvarez",
    asker_id="sofia.lindqvist",
    asker_name="Sofia Lindqvist",
    question="How do I roll back fleet-api?",
    reason="wrote 'Helm rollback runbook'",
    connection="via Mei Chen",
)


def all_actions(card: dict) -> list[dict]:
    found = []
    for action in card.get("actions") or []:
        found.append(action)
        if action["type"] == "Action.ShowCard":
            found += all_actions(action["card"])
    return found


def test_an_ask_card_has_answer_refer_not_me_and_snooze():
    card = cards.ask_card(ASK)
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.5"
    titles = [a["title"] for a in card["actions"]]
    assert titles == ["Answer", "Refer", "Not me", "Snooze"]
    executes = {a["verb"]: a for a in all_actions(card) if a["type"] == "Action.Execute"}
    assert set(executes) == {"answer", "refer", "pass", "snooze"}
    assert all(a["data"]["ask_id"] == 12 for a in executes.values())
    assert executes["pass"]["associatedInputs"] == "none"
    refer_form = card["actions"][1]["card"]["body"]
    picker = next(i for i in refer_form if i["type"] == "Input.ChoiceSet")
    assert picker["choices.data"] == {"type": "Data.Query", "dataset": "graph.microsoft.com/users"}
    text = json.dumps(card, ensure_ascii=False)
    assert "Sofia Lindqvist" in text and "Helm rollback runbook" in text and "via Mei Chen" in text


def test_a_referred_ask_card_names_the_referrer_and_their_note():
    referred = AskExpert(
        **{
            **ASK.payload(),
            "via_id": "mei.chen",
            "via_name": "Mei Chen",
            "note": "Diego did the last rollback",
            "hop": 2,
        }
    )
    text = json.dumps(cards.ask_card(referred), ensure_ascii=False)
    assert "**Mei Chen** thinks you might know" in text
    assert "Diego did the last rollback" in text
    assert "Why you" not in text


def test_a_closed_card_has_no_buttons():
    card = cards.closed_card(12, "How?", "Sofia Lindqvist", "answered", "Thanks!")
    assert "actions" not in card
    assert "You answered · request #12" in json.dumps(card, ensure_ascii=False)


def test_an_answer_card_offers_confirm_only_where_others_see_it():
    answer = AnswerPosted(
        7, 3, "sofia.lindqvist", "diego.alvarez", "Diego Alvarez", "helm rollback", ["Mei Chen"]
    )
    private = [a.get("verb") for a in all_actions(cards.answer_card(answer, shared=False))]
    shared = [a.get("verb") for a in all_actions(cards.answer_card(answer, shared=True))]
    assert "confirm" not in private and "confirm" in shared


def test_texts_and_invoke_answers():
    assert cards.message_text(StatusUpdate(7, "sofia.lindqvist", "I've asked Dana.")) == (
        "**Question #7:** I've asked Dana."
    )
    assert cards.message_response("Done")["type"] == "application/vnd.microsoft.activity.message"
    assert cards.card_response({"x": 1}) == {
        "statusCode": 200,
        "type": "application/vnd.microsoft.card.adaptive",
        "value": {"x": 1},
    }


def test_teams_markup_becomes_plain_text():
    assert plain("<p>Hi <at>Dana Ng</at>, pods &amp; <b>OOM</b></p><p>again</p>") == (
        "Hi Dana Ng, pods & OOM\nagain"
    )


# --------------------------------------------------------------------- manifest


def read_png(data: bytes) -> tuple[int, int, list[tuple[int, int, int, int]]]:
    """(width, height, RGBA pixels) of an 8-bit RGBA PNG whose rows use filter 0."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert (depth, color) == (8, 6)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * 4 + 1
    pixels = []
    for y in range(height):
        row = raw[y * stride : (y + 1) * stride]
        assert row[0] == 0
        pixels += [tuple(row[1 + 4 * x : 5 + 4 * x]) for x in range(width)]
    return width, height, pixels


def test_the_manifest_declares_the_bot_commands_and_the_extension():
    data = json.loads((package.PACKAGE / "manifest.json").read_text(encoding="utf-8"))
    assert data["manifestVersion"] == "1.17"
    [bot] = data["bots"]
    assert bot["botId"] == package.PLACEHOLDER
    assert set(bot["scopes"]) == {"personal", "team", "groupChat"}
    commands = {c["title"] for lst in bot["commandLists"] for c in lst["commands"]}
    assert {"ask", "help"} <= commands
    [extension] = data["composeExtensions"]
    [command] = extension["commands"]
    assert command["id"] == COMMAND_ID and command["title"] == cards.FIND_TITLE
    assert set(command["context"]) == {"compose", "commandBox", "message"}
    assert len(data["description"]["short"]) <= 80 and len(data["name"]["short"]) <= 30


def test_the_manifest_asks_to_read_every_channel_message():
    """Resource-specific consent (manifest 1.12 and later: `authorization`), so channel
    messages reach the bot without an @mention; `webApplicationInfo` names the bot's Entra
    app (its `resource` is unused by RSC but must be set)."""
    data = json.loads((package.PACKAGE / "manifest.json").read_text(encoding="utf-8"))
    major, minor = (int(part) for part in data["manifestVersion"].split("."))
    assert (major, minor) >= (1, 12)
    assert data["authorization"]["permissions"]["resourceSpecific"] == [
        {"name": "ChannelMessage.Read.Group", "type": "Application"}
    ]
    info = data["webApplicationInfo"]
    assert info["id"] == package.PLACEHOLDER and info["resource"]
    # Private and shared channels are not asked for: the bot is only in standard ones,
    # which is what lets it treat a channel of unstated type as standard.
    assert "supportsChannelFeatures" not in data


def test_the_icons_have_the_sizes_teams_requires():
    width, height, _ = read_png((package.PACKAGE / "color.png").read_bytes())
    assert (width, height) == (192, 192)
    width, height, pixels = read_png((package.PACKAGE / "outline.png").read_bytes())
    assert (width, height) == (32, 32)
    visible = [p for p in pixels if p[3] > 0]
    assert visible and all(p[:3] == (255, 255, 255) for p in visible)  # white only
    assert any(p[3] == 0 for p in pixels)  # on transparent


def test_the_package_zip_has_the_app_id_filled_in(tmp_path):
    app_id = "12345678-90ab-4cde-8f01-234567890abc"
    out = package.build(app_id, tmp_path / "app.zip")
    with zipfile.ZipFile(out) as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        filled = json.loads(archive.read("manifest.json"))
    assert filled["id"] == app_id and filled["bots"][0]["botId"] == app_id
    assert filled["composeExtensions"][0]["botId"] == app_id
    assert filled["webApplicationInfo"]["id"] == app_id
    with pytest.raises(ValueError, match="GUID"):
        package.build("not-a-guid", tmp_path / "bad.zip")
