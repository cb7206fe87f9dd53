"""`whoknows import slack`: users.list across pages, custom profile fields named by
team.profile.get, channel memberships as ties, and nothing written when Slack fails."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk.errors import SlackApiError
from typer.testing import CliRunner

from bot.cli import app as cli
from bot.settings import SlackSettings
from bot.slack.app import make_client
from bot.slack.directory_sync import channel_ties, sync_directory
from data.importers.errors import ImportFailed
from data.store import Store
from tests.slack.double import BOT_TOKEN, BOT_USER, SlackDouble


@pytest.fixture
def double() -> Iterator[SlackDouble]:
    with SlackDouble(page_size=2) as d:
        d.profile_fields = [
            {"id": "Xf01", "label": "Department", "type": "text", "ordering": 0},
            {"id": "Xf02", "label": "Manager", "type": "user", "ordering": 1},
            {"id": "Xf03", "label": "Expertise", "type": "text", "ordering": 2},
        ]
        d.add_user(
            "U01",
            "Ada Lovelace",
            "ada@example.com",
            title="CTO",
            tz="Europe/London",
            fields={"Xf01": "Engineering", "Xf03": "compilers, analytics"},
        )
        d.add_user(
            "U02",
            "Grace Hopper",
            "grace@example.com",
            title="Engineer",
            tz="America/New_York",
            fields={"Xf01": "Engineering", "Xf02": "U01"},
        )
        d.add_user("U03", "Alan Turing", "alan@example.com", fields={"Xf02": "U01"})
        d.add_user("U04", "Old Account", "old@example.com", deleted=True)
        d.add_user("U05", "Deploy Bot", is_bot=True)
        d.add_channel("C1", "compilers", ["U01", "U02", BOT_USER])
        d.add_channel("C2", "research", ["U01", "U02", "U03", BOT_USER])
        d.add_channel("C3", "general", ["U01", "U02", "U03", BOT_USER])
        d.add_channel("C4", "elsewhere", ["U02", "U03"])  # the bot is not in it
        yield d


def _client(double: SlackDouble):
    return make_client(SlackSettings(bot_token=BOT_TOKEN, api_url=double.api_url))


def test_people_fields_and_channel_ties_are_imported_across_pages(double: SlackDouble) -> None:
    store = Store(":memory:")
    report = sync_directory(store, _client(double), max_members=2)
    people = {p.id: p for p in store.people()}
    assert set(people) == {"U01", "U02", "U03"}  # deleted users, bots and the app left out
    grace = people["U02"]
    assert (grace.name, grace.email, grace.department, grace.manager_id) == (
        "Grace Hopper",
        "grace@example.com",
        "Engineering",
        "U01",
    )
    assert grace.timezone == "America/New_York" and grace.slack_id == "U02"
    assert people["U01"].skills == ["compilers", "analytics"]
    # users.list was read page by page (page size 2, 6 members with the bot itself).
    pages = double.calls_to("users.list")
    assert len(pages) == 3 and pages[1].args.get("cursor")
    assert len(double.calls_to("conversations.members")) >= 3
    # C1 (2 people) ties Ada and Grace; C2 and C3 (3 people) are over max_members=2.
    ties = {(c.a, c.b): c for c in store.contacts()}
    assert set(ties) == {("U01", "U02")} and ties[("U01", "U02")].kind == "interacted"
    assert report.channels == 3 and set(report.skipped_channels) == {"C2", "C3"}
    # Again: nothing changes.
    again = sync_directory(store, _client(double), max_members=2)
    assert again.people.counts.inserted == again.people.counts.updated == 0
    assert again.ties.inserted == again.ties.updated == 0


def test_existing_people_are_matched_by_email(double: SlackDouble) -> None:
    from data.models import Person

    store = Store(":memory:")
    store.upsert_people([Person(id="ada", name="Ada L.", email="ada@example.com")])
    sync_directory(store, _client(double), with_channels=False)
    ada = store.get_person("ada")
    assert ada.slack_id == "U01" and ada.name == "Ada Lovelace"
    assert store.get_person("U02").manager_id == "ada"


def test_shared_channels_add_up_and_bigger_channels_count_less() -> None:
    person_of = {f"U{n}": f"p{n}" for n in range(20)}
    memberships = {
        "small": ["U0", "U1"],
        "also-small": ["U0", "U1", "U2"],
        "big": [f"U{n}" for n in range(17)],  # 17 people: each pair gets 8/16
        "huge": [f"U{n}" for n in range(20)],
    }
    contacts, skipped = channel_ties(memberships, person_of, max_members=18)
    weights = {(c.a, c.b): c.weight for c in contacts}
    assert weights[("p0", "p1")] == 2.5  # 1 + 1 + 0.5
    assert weights[("p3", "p4")] == 0.5
    assert skipped == ["huge"]


def test_a_slack_error_or_a_bad_member_leaves_the_database_untouched(double) -> None:
    store = Store(":memory:")
    double.fail("conversations.members", "missing_scope")
    with pytest.raises(SlackApiError):
        sync_directory(store, _client(double))
    assert store.people() == [] and store.contacts() == []
    double.add_user("U06", "Nobody's Report", fields={"Xf02": "U99"})  # an unknown manager
    with pytest.raises(ImportFailed) as failure:
        sync_directory(store, _client(double))
    assert "unknown manager 'U99'" in failure.value.report()
    assert store.people() == []


def test_rate_limited_pages_are_waited_for(double: SlackDouble) -> None:
    double.rate_limit("users.list", retry_after=1)
    store = Store(":memory:")
    sync_directory(store, _client(double), with_channels=False)
    assert len(store.people()) == 3


def test_the_cli_command(double: SlackDouble, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("WHOKNOWS_SLACK__BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("WHOKNOWS_SLACK__API_URL", double.api_url)
    from bot.settings import get_settings

    get_settings.cache_clear()
    db = tmp_path / "w.db"
    try:
        result = CliRunner().invoke(cli, ["import", "slack", "--db", str(db), "--channel", "C1"])
        assert result.exit_code == 0, result.output
        assert "people: 3 new" in result.output and "channel ties: 1 new" in result.output
        double.fail("users.list", "invalid_auth")
        result = CliRunner().invoke(cli, ["import", "slack", "--db", str(db)])
        assert result.exit_code == 1 and "invalid_auth" in result.output
    finally:
        get_settings.cache_clear()
