"""`whoknows eval slack-export`: the EVAL-CHAT.md protocol, its baselines, and a replay
that never lets a later message reach the router."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.evaluation.chat_baselines import (
    BM25,
    COMBINED,
    NETWORK,
    POPULARITY,
    RECENT,
    ChatBaselines,
    normalised_rank,
    tokens,
)
from bot.evaluation.chat_protocol import ChatLine, looks_like_question, prose, timeline_of
from bot.evaluation.chat_replay import ChatReplay
from bot.evaluation.metrics import chat_question_metrics
from bot.mentions import mention_refs
from tests.conftest import SHARED_DATA

T0 = 1_700_000_000.0
DAY = 86400.0


def line(n: int, user: str, text: str, thread: int | None = None, at: float | None = None):
    """Message n (ts T0 + n minutes unless `at`), in thread of message `thread`."""
    ts = T0 + 60.0 * n if at is None else at
    ts_text = f"{ts:.6f}"
    root = None if thread is None else f"{T0 + 60.0 * thread:.6f}"
    return ChatLine(ts, ts_text, user, text, "C1", "general", root)


def test_prose_drops_code_links_and_mentions() -> None:
    text = "<@U1> is `null?` what ```(x?)``` see <https://a.io/?q=1|docs>"
    assert "?" not in prose(text)
    assert not looks_like_question("use `list?` and `pair?` here ok")  # predicates
    assert looks_like_question("how do I build the docs")  # a question word, no ?
    assert looks_like_question("Has anyone seen this error before")
    assert not looks_like_question("why though")  # fewer than 4 words
    assert not looks_like_question("whoever wrote this: thanks a lot")  # not a question word
    assert looks_like_question("the build fails on arm64, any idea?")


def test_questions_gold_and_candidates_from_messages_only() -> None:
    lines = [
        line(0, "UB", "warming up the channel"),
        line(1, "UC", "hello all"),
        line(2, "UA", "How do I profile a slow macro expansion?", thread=2),
        line(3, "UA", "it takes minutes", thread=2),  # the asker's own reply: not gold
        line(4, "UB", "try the macro stepper", thread=2),  # gold
        line(5, "UC", "or raco expand", thread=2),
        line(6, "UD", "Is there a way to vendor packages offline?", thread=6),
        line(7, "UE", "raco pkg catalog-archive", thread=6),  # never posted before: skipped
        line(8, "UA", "What does this error mean in CI?", thread=8),  # no reply: no question
        line(9, "UB", "Why this then", thread=9),  # not a question (3 words)
        line(10, "UC", "yes", thread=9),
    ]
    timeline = timeline_of(reversed(lines), {})  # order comes from ts, not from input
    assert [q.id for q in timeline.questions] == [lines[2].ts_text, lines[6].ts_text]
    (q,) = timeline.evaluable
    assert (q.asker, q.gold, q.repliers) == ("UA", "UB", ["UB", "UC"])
    assert q.answered_at == lines[4].ts


def test_baselines_follow_the_protocol() -> None:
    b = ChatBaselines()
    history = [
        line(0, "UX", "Q about typed racket?", thread=0),
        line(1, "UB", "typed racket occurrence typing works so", thread=0),
        line(2, "UC", "me too", thread=0),
        line(3, "UA", "something about contracts", thread=3),
        line(4, "UC", "contracts blame the caller", thread=3),
    ]
    for h in history:
        b.observe(h)
    people = ["UB", "UC", "UX"]
    assert b.popularity(people).tolist() == [1, 2, 0]  # distinct threads of others
    # 14 days before T0 + 14 d + 90 s: UB (at 1 min) is out, both of UC's (2, 4 min) are in.
    assert b.recent(people, T0 + 14 * DAY + 90).tolist() == [0, 2, 0]
    bm = b.bm25(people, "how does occurrence typing work in typed racket")
    assert bm.argmax() == 0 and bm[1] == 0
    # UA shares thread 3 with UC; UC shares thread 0 with UB and UX.
    net = b.network(people, "UA")
    assert net[1] == pytest.approx(1.0)  # direct
    assert net[0] == pytest.approx(0.3 * 1 * 1 / 1)  # two hops through UC
    asked = line(10, "UA", "How does occurrence typing work?", thread=10)
    q = timeline_of([*history, asked, line(11, "UB", "like this", thread=10)], {}).questions[-1]
    rankings = b.rankings(q)
    assert set(rankings) == {POPULARITY, RECENT, BM25, NETWORK, COMBINED}
    assert all("UA" not in r for r in rankings.values())  # never the asker
    assert rankings[POPULARITY][0] == "UC"


def test_normalised_rank_shares_ties() -> None:
    assert normalised_rank(np.array([3.0, 1.0, 1.0, 0.0])).tolist() == [1.0, 0.5, 0.5, 0.0]
    assert tokens("<@U1> The API-v2 is a b c") == ["api", "v2"]


def test_chat_metrics_count_every_replier() -> None:
    values = chat_question_metrics(["UC", "UB", "UD"], "UB", ["UB", "UC"])
    assert values["MRR"] == 0.5 and values["any-MRR"] == 1.0 and values["Hit@1"] == 0.0
    assert 0.0 < values["nDCG@10"] < 1.0


def test_mentions_are_read_from_the_text() -> None:
    assert mention_refs("<@U1> and <@U2|bob> or <@U1> and <!here>") == ["U1", "U2"]
    assert mention_refs("no mention <#C1|general>") == []


def _write_export(folder: Path, days: dict[str, list[dict[str, Any]]]) -> Path:
    users = [
        {"id": u, "name": u.lower(), "real_name": name, "profile": {"real_name": name}}
        for u, name in (("UA", "Ann"), ("UB", "Bob"), ("UC", "Cat"), ("UD", "Dan"))
    ]
    folder.mkdir()
    (folder / "users.json").write_text(json.dumps(users))
    (folder / "channels.json").write_text(json.dumps([{"id": "C1", "name": "general"}]))
    (folder / "general").mkdir()
    for day, messages in days.items():
        (folder / "general" / f"{day}.json").write_text(json.dumps(messages))
    return folder


def _msg(user: str, ts: float, text: str, thread: float | None = None, **extra: Any):
    m = {"type": "message", "user": user, "ts": f"{ts:.6f}", "text": text, **extra}
    if thread is not None:
        m["thread_ts"] = f"{thread:.6f}"
    return m


def _small_export(tmp_path: Path) -> Path:
    """Bob answers build questions, Cat answers database ones, over three weeks; the last
    question mentions Dan, who never answered anything."""
    days: dict[str, list[dict[str, Any]]] = {}
    base = 1_704_067_200.0  # 2024-01-01 00:00 UTC
    topics = [
        ("UB", "How do I fix the failing docker build cache?", "clear the buildkit cache"),
        ("UC", "Why is the postgres query planner ignoring my index?", "run analyze first"),
    ]
    for d in range(18):
        day = f"2024-01-{d + 1:02d}"
        expert, question, answer = topics[d % 2]
        t = base + d * DAY + 9 * 3600
        root = _msg("UA", t, question, thread=t, reply_count=3, reply_users=["UD"])  # lies
        days[day] = [
            root,
            _msg(expert, t + 60, answer, thread=t, parent_user_id="UA"),
            _msg("UD", t + 120, "thanks, noted", thread=t, parent_user_id="UA"),
            _msg("UD", t + 600, "lunch anyone", subtype="channel_topic"),  # system: skipped
        ]
    t = base + 20 * DAY + 9 * 3600
    days["2024-01-21"] = [
        _msg("UA", t, "How do I speed up the docker build again?", thread=t),
        _msg("UB", t + 30, "buildkit cache mounts", thread=t, parent_user_id="UA"),
        _msg("UA", t + 100, "<@UD> is the postgres planner using the new index?", thread=t + 100),
        _msg("UD", t + 160, "checking", thread=t + 100, parent_user_id="UA"),
    ]
    return _write_export(tmp_path / "export", days)


def test_replay_never_shows_the_router_a_later_message(tmp_path, encoder, settings) -> None:
    from bot.evaluation.chat_protocol import read_timeline

    timeline = read_timeline(_small_export(tmp_path))
    replay = ChatReplay(timeline, encoder, settings)
    seen = 0
    for moment in replay.walk():
        asked = moment.question.root.ts
        past = {m.text for m in timeline.lines if m.ts < asked}
        future = {m.text for m in timeline.lines if m.ts >= asked} - past
        stored = "\n".join(i.embedding_text() for i in replay.store.knowledge())
        assert not [t for t in future if t in stored]  # no later message in any item
        assert replay.newest < asked
        if moment.question.asker in moment.ids:
            assert not moment.eligible[moment.ids.index(moment.question.asker)]
        seen += 1
    assert seen == len(timeline.questions) == 20


def test_eval_command_writes_rankings_and_a_table(tmp_path, encoder, monkeypatch) -> None:
    import bot.evaluation.chat_run as chat_run

    # The session's model, already loaded (the command would load the same one again).
    monkeypatch.setattr(chat_run, "encoder_from_settings", lambda s: encoder)
    monkeypatch.setenv("WHOKNOWS_DB_PATH", str(tmp_path / "unused.db"))
    out = tmp_path / "rankings.jsonl"
    export = _small_export(tmp_path)
    result = CliRunner().invoke(app, ["eval", "slack-export", str(export), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "combination (0.5, 1, 2, 1)" in result.output and "whoknows router" in result.output
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 18 and {"question_id", "ranking"} <= set(rows[0])  # gold posted before
    by_id = {r["question_id"]: r["ranking"] for r in rows}
    last_day = 1_704_067_200.0 + 20 * DAY + 9 * 3600
    assert by_id[f"{last_day:.6f}"][0] == "UB"  # the docker expert, with nothing else to go on
    assert by_id[f"{last_day + 100:.6f}"][0] == "UD"  # named in the question


def test_eval_command_refuses_a_broken_export(tmp_path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "users.json").write_text("[{")
    result = CliRunner().invoke(app, ["eval", "slack-export", str(folder)])
    assert result.exit_code != 0
    assert "users.json:1" in result.output and "Traceback" not in result.output


@pytest.mark.skipif(not (SHARED_DATA / "slack-racket").exists(), reason="no racket export")
def test_racket_questions_follow_the_protocol() -> None:
    from bot.evaluation.chat_protocol import read_timeline

    timeline = read_timeline(SHARED_DATA / "slack-racket" / "2017")
    assert len(timeline.evaluable) == 199  # as EVAL-CHAT.md counts them
