"""`whoknows import slack --history`: the channels' messages through the Web API become
knowledge, page by page and resumably, with slack_sdk's real client driven against the
Slack double over loopback."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import date

import pytest
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from typer.testing import CliRunner

from bot.cli import app as cli
from bot.learning.chat import ChatLearner
from bot.settings import SlackSettings
from bot.slack.app import make_client
from bot.slack.history import HistoryResult, Pacer, Step, backfill_history
from data.chat_items import slack_links
from data.chat_store import ChatStore
from data.models import Person
from data.store import Store
from tests.slack.double import BOT_TOKEN, BOT_USER, SlackDouble

ADA, GRACE, ALAN = "U01", "U02", "U03"
PEOPLE = {ADA: "ada", GRACE: "grace", ALAN: "alan"}
JAN1 = 1_704_103_200  # 2024-01-01 10:00 UTC
JAN2 = JAN1 + 86_400
JAN5 = JAN1 + 4 * 86_400
NO_WAIT = Pacer({})


def _ts(at: int, n: int = 0) -> str:
    return f"{at}.{n:06d}"


def _workspace(double: SlackDouble) -> None:
    """People, channels and a little history of each kind."""
    for sid, name in ((ADA, "Ada Lovelace"), (GRACE, "Grace Hopper"), (ALAN, "Alan Turing")):
        double.add_user(sid, name)
    everyone = [ADA, GRACE, ALAN, BOT_USER]
    double.add_channel("C1", "compilers", everyone)
    double.add_channel("C2", "research", everyone)
    double.add_channel("C3", "random", everyone)
    double.add_channel("G1", "secret", everyone, private=True)
    double.add_channel("C9", "elsewhere", [ADA])  # the bot is not in it
    double.add_channel("C8", "old", everyone, archived=True)
    add = double.add_message
    # C1, 2024-01-01: a thread (two answers and the asker's thanks), lone messages, noise.
    root = _ts(JAN1)
    add("C1", ADA, "How do I tune the register allocator?", root)
    add("C1", GRACE, "Use linear scan for the JIT", _ts(JAN1 + 60), thread_ts=root)
    add("C1", ALAN, "Graph colouring for ahead-of-time builds", _ts(JAN1 + 120), thread_ts=root)
    add("C1", ADA, "thanks both", _ts(JAN1 + 180), thread_ts=root)
    add("C1", GRACE, "the build is green again", _ts(JAN1 + 300))
    add("C1", GRACE, "after the cache fix", _ts(JAN1 + 360))
    add("C1", None, "deployed 1.2.3", _ts(JAN1 + 400), bot_id="B99", subtype="bot_message")
    add("C1", ALAN, "<@U03> has joined the channel", _ts(JAN1 + 420), subtype="channel_join")
    add("C1", "USLACKBOT", "reminder: stand-up", _ts(JAN1 + 440))
    add("C1", BOT_USER, "I asked Grace", _ts(JAN1 + 460), bot_id="BWHOKNOWS")
    # C1, 2024-01-02: a lone message and a thread with a reply also sent to the channel.
    add("C1", ALAN, "LLVM 17 is out", _ts(JAN2))
    root2 = _ts(JAN2 + 100)
    add("C1", GRACE, "Who owns the linker?", root2)
    add(
        "C1",
        ADA,
        "I do, since March",
        _ts(JAN2 + 200),
        thread_ts=root2,
        subtype="thread_broadcast",
    )
    # C2: enough threads and days to page through.
    for day in range(4):
        at = JAN1 + day * 86_400
        root = _ts(at, 1)
        add("C2", ALAN, f"question {day} about proofs", root)
        add("C2", ADA, f"answer {day} from Ada", _ts(at + 10, 1), thread_ts=root)
        add("C2", GRACE, f"answer {day} from Grace", _ts(at + 20, 1), thread_ts=root)
        add("C2", GRACE, f"note {day}", _ts(at + 30, 1))
    add("C3", ADA, "lunch?", _ts(JAN1 + 1))
    add("G1", ADA, "a secret", _ts(JAN1 + 2))


def _store() -> Store:
    store = Store(":memory:")
    store.upsert_people(
        [
            Person(id="ada", name="Ada Lovelace", slack_id=ADA),
            Person(id="grace", name="Grace Hopper", slack_id=GRACE),
            Person(id="alan", name="Alan Turing", slack_id=ALAN),
        ]
    )
    return store


@pytest.fixture
def double() -> Iterator[SlackDouble]:
    with SlackDouble(page_size=2) as d:
        _workspace(d)
        yield d


def _client(double: SlackDouble) -> WebClient:
    return make_client(SlackSettings(bot_token=BOT_TOKEN, api_url=double.api_url))


def _backfill(double: SlackDouble, store: Store, **kwargs) -> HistoryResult:
    kwargs.setdefault("pacer", NO_WAIT)
    return backfill_history(_client(double), store, **kwargs)


def _knowledge(store: Store) -> dict[str, tuple]:
    return {
        i.id: (i.person_id, i.kind, i.title, i.text, i.url, i.created_at) for i in store.knowledge()
    }


def _ties(store: Store) -> dict[tuple[str, str, str], float]:
    return {(c.a, c.b, c.kind): c.weight for c in store.contacts()}


def _fetched(double: SlackDouble) -> Counter:
    """How many times each (channel, ts) was fetched by history or replies (a thread's
    root, which conversations.replies always returns with its replies, counted once)."""
    roots = {
        (c.id, m["ts"])
        for c in double.channels.values()
        for m in c.messages
        if m.get("reply_count")
    }
    return Counter(
        (channel, ts)
        for method, channel, served in double.served
        for ts in served
        if method == "conversations.history" or (channel, ts) not in roots
    )


def test_messages_and_threads_become_their_authors_knowledge(double: SlackDouble) -> None:
    store = _store()
    result = _backfill(double, store)
    assert result.ok, result.problems()
    assert result.channels == ["C1", "C2", "C3"]  # public, the bot's, not archived
    assert result.private == [] and result.off == []
    items = _knowledge(store)
    base = "https://northwind.slack.com/archives/C1"
    root = _ts(JAN1)
    thread = f"slack:C1:{root}:"
    assert items[f"{thread}U01:2024-01-01"] == (
        "ada",
        "post",
        "How do I tune the register allocator?",
        "How do I tune the register allocator?\nthanks both",
        f"{base}/p{root.replace('.', '')}",
        "2024-01-01T10:00:00+00:00",
    )
    grace = items[f"{thread}U02:2024-01-01"]
    assert grace[:4] == (
        "grace",
        "answer",
        "How do I tune the register allocator?",
        "Use linear scan for the JIT",
    )
    assert grace[4] == f"{base}/p{JAN1 + 60}000000?thread_ts={root}&cid=C1"
    assert items[f"{thread}U03:2024-01-01"][:2] == ("alan", "answer")
    # Lone messages: one item per author per channel day; bots, joins, Slackbot left out.
    lone = items["slack:C1:day:2024-01-01:U02"]
    assert lone[:4] == (
        "grace",
        "post",
        "#compilers, 2024-01-01",
        "the build is green again\nafter the cache fix",
    )
    assert not any(
        "deployed" in v[3] or "stand-up" in v[3] or "joined" in v[3] for v in items.values()
    )
    assert not any("I asked Grace" in v[3] for v in items.values())
    assert items["slack:C1:day:2024-01-02:U03"][3] == "LLVM 17 is out"
    # The reply also sent to the channel is one reply, learned once.
    root2 = _ts(JAN2 + 100)
    assert items[f"slack:C1:{root2}:U01:2024-01-02"][:4] == (
        "ada",
        "answer",
        "Who owns the linker?",
        "I do, since March",
    )
    assert "slack:C1:day:2024-01-02:U01" not in items
    assert {k for k in items if k.startswith("slack:C2:")} == {
        f"slack:C2:{_ts(JAN1 + d * 86_400, 1)}:{u}:2024-01-0{d + 1}"
        for d in range(4)
        for u in (ALAN, ADA, GRACE)
    } | {f"slack:C2:day:2024-01-0{d + 1}:U02" for d in range(4)}
    # Ties: every answer helped the asker (once per thread), and people of a thread met.
    ties = _ties(store)
    assert ties[("grace", "ada", "helped")] == 1.0  # the C1 thread
    assert ties[("alan", "ada", "helped")] == 1.0
    assert ties[("ada", "grace", "helped")] == 1.0  # the linker thread
    assert ties[("ada", "alan", "helped")] == 4.0  # four C2 threads
    assert ties[("grace", "alan", "helped")] == 4.0
    # Counts: 13 + 16 + 1 messages read, 4 of them not people writing.
    assert (result.read, result.skipped) == (30, 4)
    assert result.learned.items.inserted == len(items) and result.learned.ties > 0
    assert "3 channel(s) up to date" in result.summary()
    # Paged: C2's 8 top-level messages in pages of 2; every thread read once.
    c2 = [c for c in double.calls_to("conversations.history") if c.args["channel"] == "C2"]
    assert len(c2) == 4 and all(c.args.get("limit") == "200" for c in c2)
    assert [c.args.get("cursor") is None for c in c2] == [True, False, False, False]
    assert len(double.calls_to("conversations.replies")) == 2 + 1 + 4 * 2  # 2 a page
    assert max(_fetched(double).values()) == 2  # the broadcast: in the channel and its thread
    # The channel's state: the whole history is done, up to its newest message.
    assert ChatStore(store).channel("slack", "C1").history == {"from": "0", "to": _ts(JAN2 + 200)}


def test_a_finished_backfill_run_again_reads_only_what_is_new(double: SlackDouble) -> None:
    store = _store()
    _backfill(double, store)
    before, ties = _knowledge(store), _ties(store)
    double.calls.clear()
    double.served.clear()
    again = _backfill(double, store)
    assert again.ok and again.read == 0
    assert again.learned.items.inserted == again.learned.items.updated == 0
    assert again.learned.ties == 0
    assert _knowledge(store) == before and _ties(store) == ties
    history = double.calls_to("conversations.history")
    assert len(history) == 3 and history[0].args["oldest"] == _ts(JAN2 + 200)
    assert not double.calls_to("conversations.replies")
    # Something new: only it is read, and the span moves up.
    double.add_message("C1", ALAN, "the linker moved to lld", _ts(JAN5))
    third = _backfill(double, store)
    assert third.read == 1 and third.learned.items.inserted == 1
    assert _knowledge(store)["slack:C1:day:2024-01-05:U03"][3] == "the linker moved to lld"
    assert ChatStore(store).channel("slack", "C1").history["to"] == _ts(JAN5)


def test_since_reads_from_that_day_and_an_earlier_since_reads_only_the_rest(
    double: SlackDouble,
) -> None:
    store = _store()
    result = _backfill(double, store, since=date(2024, 1, 3), channels=["C2"])
    assert result.ok and result.channels == ["C2"]
    days = {re.search(r"2024-\d\d-\d\d", k).group() for k in _knowledge(store)}
    assert days == {"2024-01-03", "2024-01-04"}
    calls = double.calls_to("conversations.history")
    assert {c.args["oldest"] for c in calls} == {f"{JAN1 + 2 * 86_400 - 36_000}.000000"}
    first = _fetched(double)
    # From the beginning now: only the older days are read.
    double.served.clear()
    _backfill(double, store, channels=["C2"])
    again = _fetched(double)
    assert not set(first) & set(again)
    assert len(_knowledge(store)) == 16
    assert ChatStore(store).channel("slack", "C2").history["from"] == "0"


def test_a_rate_limit_is_waited_out_and_nothing_is_lost(double: SlackDouble) -> None:
    store = _store()
    double.rate_limit("conversations.history", retry_after=1)
    double.rate_limit("conversations.replies", retry_after=1)
    result = _backfill(double, store)
    assert result.ok
    reference = _store()
    with SlackDouble(page_size=2) as clean:
        _workspace(clean)
        _backfill(clean, reference)
    assert _knowledge(store) == _knowledge(reference) and _ties(store) == _ties(reference)
    limited = double.calls_to("conversations.history")[:2]
    assert limited[0].args == limited[1].args  # the same call again, after the wait
    assert limited[1].at - limited[0].at >= 1.0


@pytest.mark.parametrize("where", ["conversations.history", "conversations.replies"])
def test_a_network_failure_stops_the_run_and_a_rerun_resumes(where: str) -> None:
    with SlackDouble(page_size=2) as clean:
        _workspace(clean)
        reference = _store()
        _backfill(clean, reference)
    with SlackDouble(page_size=2) as double:
        _workspace(double)
        store = _store()
        served_at_step: list[int] = []

        def fail_midway(step: Step) -> None:
            served_at_step.append(len(double.served))
            if step.channel == "C2" and step.messages >= 6 and not double.faults.get(where):
                double.drop(where)  # the next call of `where` never gets an answer

        # No connection retries: the failure reaches the backfill at once.
        client = WebClient(
            token=BOT_TOKEN, base_url=double.api_url, retry_handlers=[RateLimitErrorRetryHandler()]
        )
        first = backfill_history(client, store, progress=fail_midway, pacer=NO_WAIT)
        assert first.stopped and "cannot reach Slack" in first.stopped
        assert "run the same command again" in first.stopped
        assert first.channels == ["C1"] and not first.ok
        in_flight = {ts for _, _, served in double.served[served_at_step[-1] :] for ts in served}
        if where == "conversations.replies":
            assert in_flight  # a history page was read, its threads' replies were not
        second = _backfill(double, store)
        assert second.ok and second.channels == ["C1", "C2", "C3"]
    assert _knowledge(store) == _knowledge(reference)
    assert _ties(store) == _ties(reference)
    # Nothing was fetched twice but the page in flight (and the broadcast, as always).
    twice = {key for key, n in _fetched(double).items() if n > 1}
    assert {ts for _, ts in twice} <= in_flight | {_ts(JAN2 + 200)}
    assert (
        ChatStore(store).channel("slack", "C2").history
        == ChatStore(reference).channel("slack", "C2").history
    )


def test_an_interruption_after_a_page_loses_nothing_and_reads_nothing_twice(
    double: SlackDouble,
) -> None:
    store = _store()

    def interrupt(step: Step) -> None:
        if step.channel == "C2" and step.messages >= 6:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _backfill(double, store, progress=interrupt)
    state = ChatStore(store).channel("slack", "C2").history
    assert set(state) == {"from", "to"} and state["from"] != "0"  # part of C2 is done
    _backfill(double, store)
    twice = {key for key, n in _fetched(double).items() if n > 1}
    assert twice == {("C1", _ts(JAN2 + 200))}  # only the broadcast, as in any run
    reference = _store()
    with SlackDouble(page_size=2) as clean:
        _workspace(clean)
        _backfill(clean, reference)
    assert _knowledge(store) == _knowledge(reference) and _ties(store) == _ties(reference)


def test_an_interrupted_pass_over_new_messages_is_finished_first(double: SlackDouble) -> None:
    store = _store()
    _backfill(double, store, channels=["C2"])
    for n in range(5):  # new since: three pages of them
        double.add_message("C2", GRACE, f"new {n}", _ts(JAN5 + n))

    def interrupt(step: Step) -> None:
        if step.messages >= 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _backfill(double, store, channels=["C2"], progress=interrupt)
    state = ChatStore(store).channel("slack", "C2").history
    assert state["newer"] == {"top": _ts(JAN5 + 4), "reached": _ts(JAN5 + 3)}
    assert state["to"] == _ts(JAN1 + 3 * 86_400 + 30, 1)  # not moved until the pass is over
    double.served.clear()
    _backfill(double, store, channels=["C2"])
    assert sorted(ts for _, _, served in double.served for ts in served) == [
        _ts(JAN5 + n) for n in range(3)
    ]
    assert ChatStore(store).channel("slack", "C2").history == {
        "from": "0",
        "to": _ts(JAN5 + 4),
    }
    assert _knowledge(store)["slack:C2:day:2024-01-05:U02"][3] == "\n".join(
        f"new {n}" for n in range(5)
    )


def test_switched_off_private_unknown_and_failing_channels(double: SlackDouble) -> None:
    store = _store()
    learner = ChatLearner(store, "slack", slack_links(None, None))
    learner.see_channel("C3", "random", False)
    learner.switch("C3", False)
    result = _backfill(double, store, channels=["C1", "C3", "G1", "C9", "C404", "C8"])
    assert result.off == ["C3"] and result.private == ["G1"]
    assert set(result.failed) == {"C9", "C404"} and "/invite @whoknows" in result.failed["C9"]
    assert result.channels == ["C1", "C8"]  # an archived channel asked for is read
    assert not [c for c in double.calls_to("conversations.history") if c.args["channel"] == "C3"]
    assert not any(k.startswith(("slack:C3:", "slack:G1:")) for k in _knowledge(store))
    assert ChatStore(store).channel("slack", "G1").private
    assert "switched off, skipped: C3" in result.summary() and "2 channel(s) failed" in (
        result.summary()
    )
    # A channel Slack refuses mid-way is reported; the others go on.
    double.fail("conversations.history", "channel_not_found")
    later = _backfill(double, _store())
    assert set(later.failed) == {"C1"} and later.channels == ["C2", "C3"]
    assert later.stopped is None and "channel_not_found" in later.failed["C1"]
    # A workspace-wide refusal stops the run, saying how to go on.
    double.fail("conversations.replies", "invalid_auth")
    stopped = _backfill(double, _store())
    assert stopped.stopped and "'invalid_auth'" in stopped.stopped


def test_calls_are_paced_per_method() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 3))
        now[0] += seconds

    pacer = Pacer(clock=lambda: now[0], sleep=sleep)
    pacer.wait("conversations.history")
    pacer.wait("conversations.replies")  # another method: its own budget
    now[0] += 0.2
    pacer.wait("conversations.history")
    pacer.wait("auth.test")  # not paced
    assert slept == [1.0]
    now[0] += 5
    pacer.wait("conversations.history")
    assert slept == [1.0]


def test_the_cli_command(double: SlackDouble, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("WHOKNOWS_SLACK__BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("WHOKNOWS_SLACK__API_URL", double.api_url)
    monkeypatch.setattr("bot.slack.history.TIER_INTERVALS", {})
    from bot.settings import get_settings

    get_settings.cache_clear()
    db = tmp_path / "w.db"
    run = CliRunner().invoke
    try:
        args = ["import", "slack", "--db", str(db), "--no-channels"]
        result = run(cli, [*args, "--history", "--since", "2024-01-02", "--channel", "C1"])
        assert result.exit_code == 0, result.output
        assert "people: 3 new" in result.output
        assert "slack history: 1 channel(s) up to date" in result.output
        assert "whoknows index" in result.output
        store = Store(db)
        assert set(_knowledge(store)) == {
            "slack:C1:day:2024-01-02:U03",
            f"slack:C1:{_ts(JAN2 + 100)}:U02:2024-01-02",
            f"slack:C1:{_ts(JAN2 + 100)}:U01:2024-01-02",
        }
        store.close()
        result = run(cli, [*args, "--history", "--channel", "C1", "--channel", "C9"])
        assert result.exit_code == 1
        assert "C9: not a channel the bot is in" in result.output
        assert "Traceback" not in result.output
        result = run(cli, [*args, "--since", "2024-01-02"])
        assert result.exit_code == 2 and "--history" in result.output
        result = run(cli, [*args, "--history", "--since", "yesterday"])
        assert result.exit_code == 2 and "YYYY-MM-DD" in result.output
        double.drop("conversations.history", times=10)
        result = run(cli, [*args, "--history"])
        assert result.exit_code == 1 and "run the same command again" in result.output
        assert "Traceback" not in result.output
    finally:
        get_settings.cache_clear()
