"""Chat learning over HTTP: what people write in the channels the bot is in becomes their
knowledge (new, edited, deleted messages; thread replies as "helped" ties), and the
router finds them by it at once, without a restart."""

from __future__ import annotations

from typing import Any

from data.chat_store import ChatStore
from tests.slack.double import BOT_USER
from tests.slack.harness import CHANNEL, SlackWorld, deleted_event

PRIVATE = "C0SECRETS"
TOPIC = (
    "How do I flash the Zephyr bootloader onto the nRF52 boards over SWD with a J-Link "
    "when west flash says the probe is locked?"
)
ANSWER = (
    "Run nrfjprog --recover first: the APPROTECT bit locks the SWD port. Then west flash "
    "--runner jlink works, and keep the J-Link firmware current."
)


def _items(world: SlackWorld, person_id: str) -> dict[str, Any]:
    """The person's knowledge learned from Slack (the sample org has files' too)."""
    return {
        i.id: i
        for i in world.store.knowledge()
        if i.person_id == person_id and i.id.startswith("slack:C")
    }


def _ids(world: SlackWorld, *people: str) -> list[str]:
    return [world.slack_id(p) for p in people]


def _ties(world: SlackWorld, kind: str) -> dict[tuple[str, str], float]:
    return {(c.a, c.b): c.weight for c in world.store.contacts() if c.kind == kind}


def test_a_thread_in_a_channel_becomes_its_authors_knowledge_and_a_helped_tie(world):
    asker, expert = _ids(world, "sofia.lindqvist", "ethan.park")
    root, _ = world.post_in_channel(asker, TOPIC)
    world.post_in_channel(expert, ANSWER, thread_ts=root["ts"])
    world.settle()

    [answer] = _items(world, "ethan.park").values()
    assert answer.id == f"slack:{CHANNEL}:{root['ts']}:{expert}:2025-12-29"
    assert answer.kind == "answer" and answer.text == ANSWER and answer.source == "slack"
    assert answer.title == TOPIC[:119] + "…"
    assert answer.url.startswith(f"https://northwind.slack.com/archives/{CHANNEL}/p")
    assert [i.kind for i in _items(world, "sofia.lindqvist").values()] == ["post"]
    assert _ties(world, "helped")[("ethan.park", "sofia.lindqvist")] == 1.0
    assert ChatStore(world.store).channel("slack", CHANNEL).name == "eng-help"


def test_the_router_finds_the_author_of_a_new_answer_without_a_restart(world):
    asker, expert = _ids(world, "sofia.lindqvist", "chloe.martin")
    question = "Who knows why west flash says the J-Link probe is locked on the nRF52?"
    router = world.runtime.router
    before = [c.person.id for c in router.rank(question, "dana.ng", limit=40)]

    root, _ = world.post_in_channel(asker, "Anyone flashed the nRF52 boards lately?")
    world.post_in_channel(expert, ANSWER, thread_ts=root["ts"])
    world.settle()
    world.runtime.maintain()  # the scheduler's upkeep: embeds what is new
    router.sync()

    after = router.rank(question, "dana.ng", limit=3)
    assert after[0].person.id == "chloe.martin", [c.person.id for c in after]
    assert before.index("chloe.martin") > 0
    learned = f"slack:{CHANNEL}:{root['ts']}:{expert}:"
    assert any(e.item_id.startswith(learned) for e in after[0].evidence)


def test_an_edit_changes_the_knowledge_and_a_deletion_removes_it_everywhere(world):
    expert = world.slack_id("ethan.park")
    message, _ = world.post_in_channel(expert, "Our staging cluster runs on k3s now.")
    world.settle()
    [item_id] = _items(world, "ethan.park")
    world.runtime.maintain()
    world.runtime.router.sync()
    assert item_id in world.runtime.router.vectors

    edited = {**message, "text": "Our staging cluster runs on Talos Linux now."}
    world.send_event(_changed(message, edited))
    world.settle()
    assert _items(world, "ethan.park")[item_id].text == edited["text"]

    world.send_event(deleted_event(message))
    world.settle()
    assert _items(world, "ethan.park") == {}
    world.runtime.router.sync()
    assert item_id not in world.runtime.router.vectors
    assert world.store.lexical_search("Talos") == []


def test_a_redelivered_event_teaches_nothing_twice(world):
    asker, expert = _ids(world, "sofia.lindqvist", "ethan.park")
    root, _ = world.post_in_channel(asker, TOPIC)
    reply, event_id = world.post_in_channel(expert, ANSWER, thread_ts=root["ts"])
    world.settle()
    event = {
        "type": "message",
        "channel": CHANNEL,
        "channel_type": "channel",
        **{k: reply[k] for k in ("user", "text", "ts", "thread_ts")},
    }
    world.send_event(event, event_id=event_id, retry=1)  # Slack's retry
    world.send_event(event)  # and the same message under a new event id
    world.settle()
    assert _ties(world, "helped")[("ethan.park", "sofia.lindqvist")] == 1.0
    assert len(_items(world, "ethan.park")) == 1


def test_bots_system_messages_dms_and_private_channels_are_not_learned(world):
    person = world.slack_id("ethan.park")
    before = world.store.count("knowledge")
    world.double.add_channel(PRIVATE, "secrets", [person])
    base = {"type": "message", "channel": CHANNEL, "channel_type": "channel"}
    for extra in (
        {"user": person, "subtype": "channel_join", "text": f"<@{person}> has joined"},
        {"bot_id": "B0CI", "subtype": "bot_message", "text": "build #1 passed"},
        {"user": person, "bot_id": "B0X", "text": "posted through an app"},
        {"user": "USLACKBOT", "text": "Reminder: stand-up"},
        {"user": person, "text": "in private", "channel": PRIVATE, "channel_type": "group"},
        {"user": person, "text": "a DM", "channel": "D0DM", "channel_type": "im"},
    ):
        world.send_event({**base, "ts": "1767000500.000001", **extra})
    world.settle()
    assert world.store.count("knowledge") == before
    assert ChatStore(world.store).count("slack") == 0
    assert ChatStore(world.store).channel("slack", PRIVATE).private


def test_a_channel_an_admin_switched_off_is_not_learned_and_forgets_what_it_taught(world):
    person = world.slack_id("ethan.park")
    world.post_in_channel(person, "The VPN config lives in the infra repo.")
    world.settle()
    assert _items(world, "ethan.park")

    done = world.bot.services.learner.switch(CHANNEL, False)
    assert done.removed == 1 and _items(world, "ethan.park") == {}
    world.post_in_channel(person, "Also the DNS zones.")
    world.settle()
    assert _items(world, "ethan.park") == {}


def _changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "message",
        "subtype": "message_changed",
        "hidden": True,
        "channel": CHANNEL,
        "channel_type": "channel",
        "ts": "1767999999.000003",
        "event_ts": "1767999999.000003",
        "message": {k: v for k, v in after.items() if k != "channel"},
        "previous_message": {k: v for k, v in before.items() if k != "channel"},
    }


def test_a_private_channel_switched_on_is_learned_for_its_members_only(world):
    ethan, sofia, dana = _ids(world, "ethan.park", "sofia.lindqvist", "dana.ng")
    world.double.add_channel(PRIVATE, "secrets", [BOT_USER, ethan, sofia], private=True)
    world.bot.services.learner.switch(PRIVATE, True)  # `whoknows chat learn C0SECRETS on`
    event = {
        "type": "message",
        "channel": PRIVATE,
        "channel_type": "group",
        "user": ethan,
        "text": "The HSM backup keys are in the Zurich vault.",
        "ts": "1767000600.000001",
    }
    world.send_event(event)
    world.settle()
    chat = ChatStore(world.store)
    assert chat.members("slack", PRIVATE) == {"ethan.park", "sofia.lindqvist"}
    assert [i.id for i in _items(world, "ethan.park").values()] == [
        f"slack:{PRIVATE}:day:2025-12-29:{ethan}"
    ]

    def member_event(kind: str, user: str) -> dict[str, Any]:
        return {"type": kind, "user": user, "channel": PRIVATE, "channel_type": "G"}

    world.send_event(member_event("member_joined_channel", dana))
    world.send_event(member_event("member_left_channel", sofia))
    world.settle()
    assert chat.members("slack", PRIVATE) == {"ethan.park", "dana.ng"}
    audience = world.runtime.router.audience
    world.runtime.router.sync()
    [item] = _items(world, "ethan.park")
    assert audience.may_see("dana.ng", item) and not audience.may_see("sofia.lindqvist", item)
