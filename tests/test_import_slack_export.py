"""`whoknows import slack-export`: people, knowledge and ties from a Slack admin export."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.cli import app
from data.importers.errors import ImportFailed
from data.importers.slack_export import import_slack_export, workspace_base
from data.models import Person
from data.store import Store
from tests.conftest import SHARED_DATA

RACKET = SHARED_DATA / "slack-racket"
TEAM = "T0TEAM"
GENERAL = "C0GENERAL"


def user(sid: str, name: str, **extra: Any) -> dict[str, Any]:
    profile = {"real_name": name, "title": extra.pop("title", ""), **extra.pop("profile", {})}
    return {"id": sid, "team_id": TEAM, "name": name.lower(), "tz": "Europe/Paris",
            "profile": profile, **extra}  # fmt: skip


USERS = [
    user("UANN", "Ann Lee", title="SRE", profile={"email": "Ann@Example.com"}),
    user("UBOB", "Bob Stone"),
    user("UCAT", "Cat Ng"),
    user("UBOT", "Deploy Bot", is_bot=True),
    user("UOLD", "Gone Person", deleted=True),
    user("USLACKBOT", "Slackbot"),
]
CHANNELS = [
    {"id": GENERAL, "name": "general", "members": ["UANN", "UBOB"]},
    {"id": "C0OPS", "name": "ops"},
]


def msg(user_id: str | None, ts: str, text: str, **extra: Any) -> dict[str, Any]:
    m: dict[str, Any] = {"type": "message", "ts": ts, "text": text, **extra}
    if user_id is not None:
        m["user"] = user_id
    return m


# Day 1 (2024-03-04, ts 1709546400 = 10:00 UTC): Ann asks in a thread, Bob and Cat reply;
# the root's snapshot fields lie (they name nobody who replied, and count 99 replies).
DAY1 = [
    msg(None, "1709546000.000100", "<@UBOB> has joined the channel", subtype="channel_join",
        user="UBOB"),
    msg("UANN", "1709546400.000100", "How do I roll back the <https://x.io/api|api> deploy?"
        " &amp; keep logs &lt;3", thread_ts="1709546400.000100", reply_count=99,
        replies=[{"user": "UOLD", "ts": "1.0"}], reply_users=["UOLD"], latest_reply="9.0"),
    msg("UBOB", "1709546460.000200", "<@UANN> use `helm rollback api 3`",
        thread_ts="1709546400.000100", parent_user_id="UANN"),
    msg("UCAT", "1709546520.000300", "and check <#C0OPS|ops>", thread_ts="1709546400.000100",
        parent_user_id="UANN", subtype="thread_broadcast"),
    msg("UBOB", "1709546580.000400", "then restart the pods", thread_ts="1709546400.000100",
        parent_user_id="UANN"),
    msg("UANN", "1709546640.000500", "thanks!", thread_ts="1709546400.000100",
        parent_user_id="UANN"),
    msg("UBOB", "1709550000.000600", "lunch anyone?"),
    msg("UBOB", "1709551000.000700", "I am at the usual place"),
    msg("UBOT", "1709552000.000800", "deployed api v3", bot_id="B1"),
    msg(None, "1709552100.000900", "build passed", subtype="bot_message", bot_id="B2"),
    msg("UOLD", "1709552200.001000", "old account talking"),
    msg("UANN", "1709552300.001100", "new topic", subtype="channel_topic"),
]  # fmt: skip
# Day 2: Cat asks a lone question, Ann answers in Cat's thread.
DAY2 = [
    msg("UCAT", "1709632800.000100", "Where is the VPN config kept?",
        thread_ts="1709632800.000100"),
    msg("UANN", "1709632860.000200", "In the wiki, under Network", thread_ts="1709632800.000100",
        parent_user_id="UCAT"),
]  # fmt: skip


def write_export(root: Path, days: dict[str, list[Any]], users: list[Any] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "users.json").write_text(json.dumps(USERS if users is None else users, indent=2))
    (root / "channels.json").write_text(json.dumps(CHANNELS, indent=2))
    (root / "integration_logs.json").write_text("[]")
    for rel, messages in days.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        content = messages if isinstance(messages, str) else json.dumps(messages, indent=4)
        (root / rel).write_text(content)
    return root


def zip_folder(folder: Path, target: Path, extra: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(target, "w") as zf:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                zf.write(file, file.relative_to(folder).as_posix())
        for name, content in (extra or {}).items():
            zf.writestr(name, content)
    return target


@pytest.fixture
def export(tmp_path: Path) -> Path:
    return write_export(
        tmp_path / "export",
        {"general/2024-03-04.json": DAY1, "general/2024-03-05.json": DAY2},
    )


def items_by_id(store: Store) -> dict[str, Any]:
    return {i.id: i for i in store.knowledge()}


def ties(store: Store) -> dict[tuple[str, str, str], float]:
    return {(c.a, c.b, c.kind): c.weight for c in store.contacts()}


def snapshot(store: Store) -> tuple[int, ...]:
    return (*(store.count(t) for t in ("people", "knowledge", "contacts")), store.current_seq())


# ------------------------------------------------------------------------ people


def test_people_come_from_users_json_without_bots_deleted_or_slackbot(store, export):
    result = import_slack_export(store, export)
    people = {p.id: p for p in store.people()}
    assert set(people) == {"UANN", "UBOB", "UCAT"}
    ann = people["UANN"]
    assert (ann.name, ann.email, ann.title, ann.timezone, ann.slack_id) == (
        "Ann Lee", "ann@example.com", "SRE", "Europe/Paris", "UANN",
    )  # fmt: skip
    assert people["UBOB"].title is None  # an empty title is no title
    assert (result.people_new, result.people_matched, result.people_skipped) == (3, 0, 3)


def test_a_directory_person_is_matched_by_email_and_gains_the_slack_id(store, export):
    store.upsert_people([Person(id="ann", name="Ann L.", email="ann@example.com")])
    result = import_slack_export(store, export)
    ann = store.get_person("ann")
    assert ann.name == "Ann L." and ann.slack_id == "UANN" and ann.title == "SRE"
    assert store.get_person("UANN") is None
    assert (result.people_new, result.people_matched) == (2, 1)
    assert {i.person_id for i in store.knowledge() if "UANN" in i.id} == {"ann"}
    assert ("UBOB", "ann", "helped") in ties(store)


def test_a_directory_person_is_matched_by_slack_id(store, export):
    store.upsert_people([Person(id="bob", name="Robert", slack_id="UBOB")])
    import_slack_export(store, export)
    assert store.get_person("UBOB") is None
    assert store.get_person("bob").name == "Robert"
    assert "slack:C0GENERAL:day:2024-03-04:UBOB" in items_by_id(store)
    assert items_by_id(store)["slack:C0GENERAL:day:2024-03-04:UBOB"].person_id == "bob"


# ------------------------------------------------------------------------- items


def test_a_thread_gives_one_item_per_author_with_the_root_as_title(store, export):
    result = import_slack_export(store, export)
    items = items_by_id(store)
    thread = "slack:C0GENERAL:1709546400.000100"
    root_title = "How do I roll back the api deploy? & keep logs <3"
    ann = items[f"{thread}:UANN:2024-03-04"]
    assert ann.kind == "post" and ann.title == root_title
    assert ann.text == f"{root_title}\nthanks!"
    bob = items[f"{thread}:UBOB:2024-03-04"]
    assert bob.kind == "answer" and bob.title == root_title
    assert bob.text == "@Ann Lee use `helm rollback api 3`\nthen restart the pods"
    assert bob.source == "slack" and bob.created_at == "2024-03-04T10:01:00+00:00"
    cat = items[f"{thread}:UCAT:2024-03-04"]  # a thread_broadcast is a reply
    assert cat.kind == "answer" and cat.text == "and check #ops"
    assert items["slack:C0GENERAL:1709632800.000100:UANN:2024-03-05"].kind == "answer"
    # 4 thread items + 1 day item (Bob) + Cat's root on day 2
    assert len(items) == 6
    assert result.items.inserted == 6
    # human messages: 5 in the thread, 2 lone by Bob, 2 on day 2
    assert result.messages == 9


def test_lone_messages_are_grouped_per_author_per_day(store, export):
    import_slack_export(store, export)
    day = items_by_id(store)["slack:C0GENERAL:day:2024-03-04:UBOB"]
    assert day.kind == "post" and day.title == "#general, 2024-03-04"
    assert day.text == "lunch anyone?\nI am at the usual place"
    assert day.created_at == "2024-03-04T11:00:00+00:00"


def test_bot_system_and_deleted_users_messages_are_skipped(store, export):
    result = import_slack_export(store, export)
    texts = "\n".join(i.text for i in store.knowledge())
    for absent in ("joined", "deployed", "build passed", "old account", "new topic"):
        assert absent not in texts
    assert result.skipped == 5  # join, bot_id, bot_message, topic; the deleted user's message


def test_threads_are_rebuilt_from_thread_ts_not_the_snapshot_fields(store, tmp_path):
    # The root claims replies by UOLD; the only reply is Bob's, on the next day's file.
    snapshot_fields = {"reply_count": 5, "reply_users": ["UCAT"], "replies": [{"user": "UCAT"}]}
    root = msg("UANN", "1709546400.000100", "Question?", thread_ts="1709546400.000100")
    root.update(snapshot_fields)
    reply = msg("UBOB", "1709632800.000100", "Answer", thread_ts="1709546400.000100")
    folder = write_export(
        tmp_path / "e", {"general/2024-03-04.json": [root], "general/2024-03-05.json": [reply]}
    )
    import_slack_export(store, folder)
    items = items_by_id(store)
    assert set(items) == {
        "slack:C0GENERAL:1709546400.000100:UANN:2024-03-04",
        "slack:C0GENERAL:1709546400.000100:UBOB:2024-03-05",
    }
    assert items["slack:C0GENERAL:1709546400.000100:UBOB:2024-03-05"].title == "Question?"
    assert ties(store) == {("UBOB", "UANN", "helped"): 1.0, ("UANN", "UBOB", "interacted"): 1.0}


def test_links_go_back_to_the_message(store, export):
    import_slack_export(store, export)
    bob = items_by_id(store)["slack:C0GENERAL:1709546400.000100:UBOB:2024-03-04"]
    assert bob.url == f"slack://channel?team={TEAM}&id={GENERAL}&message=1709546460.000200"
    again = Store(":memory:")
    import_slack_export(again, export, workspace="acme")
    bob = items_by_id(again)["slack:C0GENERAL:1709546400.000100:UBOB:2024-03-04"]
    assert bob.url == (
        "https://acme.slack.com/archives/C0GENERAL/p1709546460000200"
        "?thread_ts=1709546400.000100&cid=C0GENERAL"
    )
    day = items_by_id(again)["slack:C0GENERAL:day:2024-03-04:UBOB"]
    assert day.url == "https://acme.slack.com/archives/C0GENERAL/p1709550000000600"


def test_workspace_domains():
    assert workspace_base("acme") == "https://acme.slack.com"
    assert workspace_base("https://Acme.slack.com/") == "https://acme.slack.com"
    with pytest.raises(ValueError):
        workspace_base("ev il/../x")


def test_markup_is_turned_into_plain_text(store, tmp_path):
    text = (
        "<@UBOB> <@UNKNOWN> <@UCAT|cat> <!here> <!subteam^S1|@oncall> <mailto:a@b.c> "
        "<http://a.b/c?d=1> <https://e.f|the docs> 1 &lt; 2 &amp;&amp; 3 &gt; 2"
    )
    folder = write_export(tmp_path / "e", {"general/2024-03-04.json": [msg("UANN", "1.1", text)]})
    import_slack_export(store, folder)
    (item,) = store.knowledge()
    assert item.text == (
        "@Bob Stone @UNKNOWN @Cat Ng @here @oncall a@b.c http://a.b/c?d=1 the docs 1 < 2 && 3 > 2"
    )


# -------------------------------------------------------------------------- ties


def test_replies_are_helped_ties_and_shared_threads_interacted_ones(store, export):
    result = import_slack_export(store, export)
    assert ties(store) == {
        ("UBOB", "UANN", "helped"): 1.0,
        ("UCAT", "UANN", "helped"): 1.0,
        ("UANN", "UCAT", "helped"): 1.0,
        ("UANN", "UBOB", "interacted"): 1.0,
        ("UANN", "UCAT", "interacted"): 2.0,  # two shared threads
        ("UBOB", "UCAT", "interacted"): 1.0,
    }
    assert result.ties.inserted == 6


def test_threads_with_many_people_give_no_interacted_ties(store, tmp_path):
    people = [user(f"U{n:03d}", f"Person {n}") for n in range(22)]
    root = msg("U000", "100.0", "Big announcement", thread_ts="100.0")
    replies = [msg(f"U{n:03d}", f"{100 + n}.0", "+1", thread_ts="100.0") for n in range(1, 22)]
    folder = write_export(tmp_path / "e", {"general/2024-03-04.json": [root, *replies]}, people)
    import_slack_export(store, folder)
    kinds = {c.kind for c in store.contacts()}
    assert kinds == {"helped"}
    assert len(store.contacts()) == 21


# --------------------------------------------------------------- re-import, newer


def test_importing_again_changes_nothing(store, export):
    import_slack_export(store, export)
    before = snapshot(store)
    result = import_slack_export(store, export)
    assert snapshot(store) == before
    assert result.items.inserted == result.items.updated == 0 and result.items.unchanged == 6
    assert result.ties.inserted == result.ties.updated == 0
    assert (result.people_new, result.people_matched) == (0, 3)


def test_a_newer_export_adds_only_what_is_new(store, tmp_path):
    old = write_export(tmp_path / "old", {"general/2024-03-04.json": DAY1})
    import_slack_export(store, old)
    before = items_by_id(store)
    # The newer export holds day 2 and a day 3 where Bob replies again in Ann's thread.
    day3 = [msg("UBOB", "1709719200.000100", "also see the runbook",
                thread_ts="1709546400.000100", parent_user_id="UANN")]  # fmt: skip
    new = write_export(
        tmp_path / "new", {"general/2024-03-05.json": DAY2, "general/2024-03-06.json": day3}
    )
    result = import_slack_export(store, new)
    after = items_by_id(store)
    assert set(before) < set(after)
    assert {k: after[k] for k in before} == before  # nothing old changed
    assert set(after) - set(before) == {
        "slack:C0GENERAL:1709632800.000100:UCAT:2024-03-05",
        "slack:C0GENERAL:1709632800.000100:UANN:2024-03-05",
        "slack:C0GENERAL:1709546400.000100:UBOB:2024-03-06",
    }
    new_bob = after["slack:C0GENERAL:1709546400.000100:UBOB:2024-03-06"]
    assert new_bob.kind == "answer" and new_bob.title == "Thread in #general"  # root not here
    assert (result.items.inserted, result.items.updated) == (3, 0)
    # Bob-Ann ties are not weakened by an export that sees fewer shared threads
    assert ties(store)[("UBOB", "UANN", "helped")] == 1.0
    assert ties(store)[("UANN", "UCAT", "helped")] == 1.0


# --------------------------------------------------------------------- problems


def failure(store: Store, path: Path) -> list[str]:
    with pytest.raises(ImportFailed) as caught:
        import_slack_export(store, path)
    assert snapshot(store) == (0, 0, 0, 0)
    return [str(p) for p in caught.value.problems]


def test_every_malformed_day_file_and_message_is_reported_with_file_and_line(store, tmp_path):
    messages = [
        msg("UANN", "1.1", "fine"),  # line 2
        "not a message",  # line 8
        msg(None, "1.2", "no user"),  # line 9
        {"type": "message", "user": "UBOB", "text": "no ts"},
        msg("UANN", "12:00", "bad ts"),
        msg("UANN", "1.3", "bell \x07 here"),
        msg("UANN", "1.4", 42),
        msg("UANN", "1.5", "x", thread_ts=7),
        msg("UNOBODY", "1.6", "who am I?"),  # not in users.json: the export is not whole
    ]
    folder = write_export(
        tmp_path / "e",
        {
            "general/2024-03-04.json": messages,
            "general/2024-03-05.json": '[{"ts": "1.0",\n "user": ]',
            "general/2024-03-06.json": '{"messages": []}',
            "ops/2024-03-04.json": "",
        },
    )
    day = f"{folder}/general/2024-03-04.json"
    assert failure(store, folder) == [
        f"{day}:8: expected a message object",
        f"{day}:9: message 1.2 without a user",
        f"{day}:14: missing ts",
        f"{day}:19: ts: not a Slack time: '12:00'",
        f"{day}:25: message 1.3: text: control character U+0007 (BEL) at character 6",
        f"{day}:31: message 1.4: text: expected text",
        f"{day}:37: message 1.5: thread_ts: not a Slack time: 7",
        f"{day}:44: message 1.6 by 'UNOBODY', a user users.json does not list",
        f"{folder}/general/2024-03-05.json:2: malformed JSON: Expecting value (column 10)",
        f"{folder}/general/2024-03-06.json:1: wrong shape: expected a list of messages",
        f"{folder}/ops/2024-03-04.json: empty file",
    ]


def test_missing_or_malformed_users_and_channels_are_problems(store, tmp_path):
    folder = tmp_path / "e"
    folder.mkdir()
    assert failure(store, folder) == [
        f"{folder}/users.json: missing: every Slack export has users.json",
        f"{folder}/channels.json: missing: every Slack export has channels.json",
    ]
    bad_users = [user("UANN", "Ann"), {"name": "no id"}, user("UANN", "Again"),
                 user("UX", "Tab\tName"), user("UY", "Y", profile={"email": "ANN@x.io"}),
                 user("UZ", "Z", profile={"email": "ann@x.io"})]  # fmt: skip
    write_export(folder, {}, bad_users)
    (folder / "channels.json").write_text('[{"id": "C1", "name": "../up"}, 3]')
    users = f"{folder}/users.json"
    assert failure(store, folder) == [
        f"{users}:12: user without an id",
        f"{users}:15: duplicate user id 'UANN' (first on line 2)",
        f"{users}:25: profile.real_name: tab (U+0009) at character 4: this field must be one line",
        f"{users}:46: duplicate email 'ann@x.io' (first on line 35)",
        f"{folder}/channels.json:1: expected an object, got a number",
        f"{folder}/channels.json:1: name '../up' is not a channel name",
    ]


def test_a_path_that_is_not_an_export_is_refused(store, tmp_path):
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    assert failure(store, other) == [
        f"{other}: not a Slack export (expected a folder or a .zip of one)"
    ]
    assert failure(store, tmp_path / "nope") == [f"{tmp_path / 'nope'}: no such file or folder"]


# --------------------------------------------------------------------------- zip


def test_a_zip_imports_the_same_as_its_folder(export, tmp_path):
    from_folder, from_zip = Store(":memory:"), Store(":memory:")
    import_slack_export(from_folder, export)
    import_slack_export(from_zip, zip_folder(export, tmp_path / "export.zip"))
    assert items_by_id(from_zip) == items_by_id(from_folder)
    assert ties(from_zip) == ties(from_folder)


def test_a_zip_of_the_export_folder_is_read_too(export, tmp_path, store):
    target = tmp_path / "wrapped.zip"
    with zipfile.ZipFile(target, "w") as zf:
        for file in sorted(export.rglob("*.json")):
            zf.write(file, "export/" + file.relative_to(export).as_posix())
    assert import_slack_export(store, target).items.inserted == 6


def test_a_zip_with_an_entry_leaving_the_export_is_refused(store, export, tmp_path):
    target = zip_folder(export, tmp_path / "evil.zip", {"../outside.json": "[]", "/abs.json": "[]"})
    assert failure(store, target) == [
        f"{target}: refused entry '../outside.json': its path leaves the export",
        f"{target}: refused entry '/abs.json': its path leaves the export",
    ]
    assert not (tmp_path / "outside.json").exists()


# --------------------------------------------------------------------------- CLI


def test_the_command_prints_a_one_line_summary_and_refuses_bad_input(export, tmp_path):
    runner = CliRunner()
    db = tmp_path / "w.db"
    result = runner.invoke(app, ["import", "slack-export", str(export), "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("slack export: people 3 new, 0 matched")
    assert len(result.stdout.strip().splitlines()) == 1
    (export / "general" / "2024-03-04.json").write_text("[1]")
    result = runner.invoke(app, ["import", "slack-export", str(export), "--db", str(db)])
    assert result.exit_code == 1
    assert f"{export}/general/2024-03-04.json:1: expected a message object" in result.stderr
    bad = runner.invoke(app, ["import", "slack-export", str(export), "--workspace", "a b"])
    assert bad.exit_code == 2


# -------------------------------------------------------------------------- real


@pytest.mark.skipif(not (RACKET / "2017.zip").exists(), reason="no racket export in ../shared")
def test_the_racket_2017_export_imports_plausibly(store):
    result = import_slack_export(store, RACKET / "2017.zip")
    # SOURCE.md: 6,757 messages (one a channel_topic), 85 people, 425 threads, 140 plain
    assert (result.people_new, result.people_skipped) == (85, 0)
    assert result.messages + result.skipped == 6757 and result.skipped <= 10
    assert store.count("people") == 85
    kinds = [i.kind for i in store.knowledge()]
    assert kinds.count("post") >= 425  # every thread's root author has an item
    assert 1000 < len(kinds) < 6757  # messages grouped, not one item each
    contact_kinds = {c.kind for c in store.contacts()}
    assert contact_kinds == {"helped", "interacted"}
    again = import_slack_export(store, RACKET / "2017")  # the folder: the same export
    assert again.items.inserted == again.items.updated == 0


# ------------------------------------------------------------- the admin's switch


def test_an_admin_sees_what_each_channel_taught_and_can_switch_one_off(tmp_path, export):
    from typer.testing import CliRunner

    from bot.cli import app

    db = tmp_path / "w.db"
    run = CliRunner().invoke
    env = {"COLUMNS": "200"}
    assert run(app, ["import", "slack-export", str(export), "--db", str(db)]).exit_code == 0
    listed = run(app, ["chat", "channels", "--db", str(db)], env=env)
    assert listed.exit_code == 0, listed.output
    [row] = [line for line in listed.stdout.splitlines() if "C0GENERAL" in line]
    assert "general" in row and "public" in row and "on (default)" in row

    off = run(app, ["chat", "learn", "C0GENERAL", "off", "--db", str(db)], env=env)
    assert off.exit_code == 0, off.output
    assert "learning off" in off.stdout
    store = Store(db)
    assert [i for i in store.knowledge() if i.source == "slack"] == []
    store.close()
    # A later import of the same export leaves the switched-off channel out.
    assert run(app, ["import", "slack-export", str(export), "--db", str(db)]).exit_code == 0
    store = Store(db)
    assert [i for i in store.knowledge() if i.source == "slack"] == []
    store.close()
    bad = run(app, ["chat", "learn", "C0GENERAL", "maybe", "--db", str(db)], env=env)
    assert bad.exit_code == 2


def test_a_zip_bomb_is_refused_before_it_is_unpacked(store, export, tmp_path):
    target = zip_folder(export, tmp_path / "bomb.zip")
    with zipfile.ZipFile(target, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("general/2024-03-06.json", b"[" + b" " * (64 << 20) + b"]")
    before = snapshot(store)
    [problem] = failure(store, target)
    assert problem.startswith(f"{target}: refused entry 'general/2024-03-06.json'")
    assert "times larger than it is" in problem
    assert snapshot(store) == before
