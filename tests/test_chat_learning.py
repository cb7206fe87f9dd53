"""The chat learner (bot.learning.chat): whatever order and way messages arrive (an export,
live events, a history backfill, one by one or in batches), the knowledge and ties are
those the export importer makes of the same messages; edits, deletions, opt-outs and
channel switches change exactly what they should."""

from __future__ import annotations

import json
import random
from pathlib import Path

from bot.learning.audience import Audience
from bot.learning.chat import ChatLearner, Said
from data.chat_items import day_of, slack_links
from data.chat_store import ChatStore
from data.importers.slack_export import import_slack_export
from data.models import Person
from data.store import Store

CHANNEL, OTHER = "C0PLATFORM", "C0RANDOM"
PEOPLE = {"U1": "Ana Costa", "U2": "Ben Ode", "U3": "Chloe Martin", "U4": "Dev Rao"}
DAY = 1_767_225_600.0  # 2026-01-01 00:00 UTC


def _m(dt: float, user: str, text: str, root: float | None = None, channel: str = CHANNEL):
    """A message `dt` seconds after 01:00 on the first day (`root`: its thread's root)."""
    at = DAY + 3600 + dt
    thread = None if root is None else f"{DAY + 3600 + root:.6f}"
    return Said(channel, f"{at:.6f}", at, user, text, thread)


def _said() -> list[Said]:
    """Two channels over two days: threads (one spanning midnight, one whose root nobody
    answered), lone messages, a mention and a reply from someone outside the directory."""
    return [
        _m(0, "U1", "How do we rotate the Vault root token?", 0),
        _m(60, "U2", "Use the unseal keys, see <@U3>'s doc", 0),
        _m(90, "U3", "Yes, the runbook is in the wiki", 0),
        _m(95, "U2", "and re-key after", 0),
        _m(86400, "U1", "Worked, thanks!", 0),
        _m(200, "U4", "Deploy freeze starts Friday"),
        _m(300, "U4", "and ends Monday"),
        _m(400, "U3", "Anyone seen the flaky e2e suite?"),
        _m(500, "U2", "Lunch?", channel=OTHER),
        _m(510, "U9", "sure", 500, channel=OTHER),  # not in the directory
    ]


def _store() -> Store:
    store = Store(":memory:")
    store.upsert_people(
        [
            Person(id=name.split()[0].lower(), name=name, slack_id=sid)
            for sid, name in PEOPLE.items()
        ]
    )
    return store


def _learner(store: Store) -> ChatLearner:
    learner = ChatLearner(store, "slack", slack_links("https://acme.slack.com", None))
    learner.see_channel(CHANNEL, "platform", private=False)
    learner.see_channel(OTHER, "random", private=False)
    return learner


def _state(store: Store) -> tuple[dict, dict]:
    items = {
        i.id: (i.person_id, i.kind, i.title, i.text, i.url, i.created_at) for i in store.knowledge()
    }
    ties = {(c.a, c.b, c.kind): c.weight for c in store.contacts()}
    return items, ties


def _export(tmp_path: Path, said: list[Said]) -> Path:
    """The same messages as a Slack admin export folder."""
    root = tmp_path / "export"
    root.mkdir()
    users = [{"id": sid, "name": n.lower(), "real_name": n} for sid, n in PEOPLE.items()]
    users.append({"id": "U9", "name": "gone", "deleted": True})  # not a person: as live
    (root / "users.json").write_text(json.dumps(users))
    channels = [{"id": CHANNEL, "name": "platform"}, {"id": OTHER, "name": "random"}]
    (root / "channels.json").write_text(json.dumps(channels))
    days: dict[tuple[str, str], list[dict]] = {}
    replied = {s.thread for s in said if s.thread and s.thread != s.ts}
    for s in said:
        name = "platform" if s.channel == CHANNEL else "random"
        message = {"type": "message", "user": s.author, "text": s.text, "ts": s.ts}
        if (s.thread and s.thread != s.ts) or s.ts in replied:  # as Slack exports roots
            message["thread_ts"] = s.thread or s.ts
        days.setdefault((name, day_of(s.at)), []).append(message)
    for (name, day), messages in days.items():
        (root / name).mkdir(exist_ok=True)
        (root / name / f"{day}.json").write_text(json.dumps(messages))
    return root


def test_messages_in_any_order_and_batches_make_what_the_export_importer_makes(tmp_path):
    said = _said()
    exported = _store()
    import_slack_export(exported, _export(tmp_path, said), workspace="acme")
    expected = _state(exported)
    assert len(expected[0]) == 7 and any(k[2] == "helped" for k in expected[1])

    for seed in range(6):
        rng = random.Random(seed)
        shuffled = rng.sample(said, len(said))
        store = _store()
        learner = _learner(store)
        while shuffled:  # batches of 1 to 4, in a random order
            n = rng.randint(1, 4)
            learner.learn(shuffled[:n])
            shuffled = shuffled[n:]
        assert _state(store) == expected, seed


def test_learning_the_same_messages_again_changes_nothing():
    store = _store()
    learner = _learner(store)
    learner.learn(_said())
    before, seq = _state(store), store.current_seq()
    again = learner.learn(_said())
    assert again.items.inserted == again.items.updated == again.ties == 0
    assert _state(store) == before and store.current_seq() == seq


def test_a_live_reply_to_an_exported_root_rebuilds_with_everything_said_there(tmp_path):
    said = _said()
    lone_root = said[7]  # "Anyone seen the flaky e2e suite?": nobody answered in the export
    store = _store()
    import_slack_export(store, _export(tmp_path, said), workspace="acme")
    day_item = f"slack:{CHANNEL}:day:2026-01-01:U3"
    assert "flaky e2e" in store.knowledge_items([day_item])[day_item].text

    reply = Said(
        CHANNEL, f"{lone_root.at + 30:.6f}", lone_root.at + 30, "U4", "It's the DNS", lone_root.ts
    )
    _learner(store).learn([reply])  # fmt: skip

    items = {i.id: i for i in store.knowledge()}
    assert day_item not in items  # the root was U3's only lone message that day
    thread = f"slack:{CHANNEL}:{lone_root.ts}:"
    assert items[f"{thread}U3:2026-01-01"].kind == "post"
    assert items[f"{thread}U4:2026-01-01"].text == "It's the DNS"
    helped = {(c.a, c.b) for c in store.contacts() if c.kind == "helped"}
    assert ("dev", "chloe") in helped


def test_deleting_the_only_reply_makes_the_root_a_lone_message_again():
    store = _store()
    learner = _learner(store)
    t = DAY + 7200
    root = Said(CHANNEL, f"{t:.6f}", t, "U1", "Where is the VPN config?")
    reply = Said(CHANNEL, f"{t + 5:.6f}", t + 5, "U2", "In the infra repo", root.ts)
    learner.learn([root, reply])
    assert {i.id for i in store.knowledge()} == {
        f"slack:{CHANNEL}:{root.ts}:U1:2026-01-01",
        f"slack:{CHANNEL}:{root.ts}:U2:2026-01-01",
    }
    done = learner.forget(CHANNEL, reply.ts)
    assert done.removed == 1 and done.items_deleted == 2
    [item] = store.knowledge()
    assert item.id == f"slack:{CHANNEL}:day:2026-01-01:U1" and item.text == root.text
    assert sorted(store.deleted_items()) == [  # logged, so every router drops their vectors
        f"slack:{CHANNEL}:{root.ts}:U1:2026-01-01",
        f"slack:{CHANNEL}:{root.ts}:U2:2026-01-01",
    ]
    assert learner.forget(CHANNEL, reply.ts).removed == 0  # gone already


def test_an_edit_rebuilds_the_item_and_an_unknown_author_counts_once_known():
    store = _store()
    learner = _learner(store)
    said = _said()
    learner.learn(said)
    edited = Said(
        said[1].channel, said[1].ts, said[1].at, "U2", "Use the recovery keys", said[1].thread
    )
    learner.learn([edited])  # fmt: skip
    item = f"slack:{CHANNEL}:{said[0].ts}:U2:2026-01-01"
    assert store.knowledge_items([item])[item].text == "Use the recovery keys\nand re-key after"

    lunch = f"slack:{OTHER}:{said[8].ts}:U9:2026-01-01"
    assert lunch not in {i.id for i in store.knowledge()}
    store.upsert_people([Person(id="zoe", name="Zoe Li", slack_id="U9")])
    learner.learn([said[9]])  # a later message of the thread (or the same again) rebuilds it
    assert store.knowledge_items([lunch])[lunch].person_id == "zoe"


def test_opted_out_people_are_not_learned_and_their_words_are_not_kept():
    store = _store()
    store.upsert_people([Person(id="ben", name="Ben Ode", slack_id="U2", opted_out=True)])
    learner = _learner(store)
    learner.learn(_said())
    assert all(i.person_id != "ben" for i in store.knowledge())
    chat = ChatStore(store)
    assert {m.text for m in chat.thread("slack", CHANNEL, _said()[0].ts) if m.author == "U2"} == {
        ""
    }
    assert not any(k[0] == "ben" or k[1] == "ben" for k in _state(store)[1])


def test_private_channels_are_learned_only_once_switched_on_and_only_for_members():
    store = _store()
    learner = _learner(store)
    learner.see_channel("G0SECRET", "secret", private=True)
    secret = _m(100, "U1", "the staging root password rotates on Mondays", channel="G0SECRET")
    done = learner.learn([secret])
    assert done.skipped == 1 and store.count("knowledge") == 0
    assert not learner.learning("G0SECRET") and not learner.learning("C0NEVERSEEN")

    learner.switch("G0SECRET", True)
    assert learner.learn([secret]).messages == 1
    [item] = store.knowledge()
    audience = Audience(store)
    audience.refresh()
    assert len(audience) == 1 and not audience.may_see("ben", item.id)
    assert audience.hidden_for("ben")([item.id, "slack:C0PLATFORM:x"]).tolist() == [True, False]
    ChatStore(store).set_members("slack", "G0SECRET", ["ana", "ben"], "2026-01-01T00:00:00")
    assert audience.may_see("ben", item.id) and audience.hidden_for("ben")([item.id]).tolist() == [
        False
    ]
    ChatStore(store).join("slack", "G0SECRET", "ben", joined=False)
    assert not audience.may_see("ben", item.id) and audience.may_see("ana", item.id)


def test_switching_a_channel_off_forgets_it_and_on_again_learns_anew():
    store = _store()
    learner = _learner(store)
    learner.learn(_said())
    done = learner.switch(CHANNEL, False)
    assert done.removed == 8 and all(f":{CHANNEL}:" not in i.id for i in store.knowledge())
    assert learner.learn(_said()[:2]).skipped == 2
    learner.switch(CHANNEL, None)  # back to the default: a public channel is learned
    assert learner.learn(_said()[:2]).messages == 2
    assert any(f":{CHANNEL}:" in i.id for i in store.knowledge())
