"""The EVAL.md replay: time order, no peeking, the systems and the output format."""

from __future__ import annotations

import json
from dataclasses import replace
from functools import partial
from pathlib import Path

import pytest

import bot.evaluation.run as run
from bot.evaluation.replay import Replay
from bot.evaluation.run import ROUTER, ROUTER_FROZEN, evaluate_stackexchange
from bot.evaluation.systems import BASELINES, ranker_scorer
from bot.settings import Settings
from bot.training import OnlineLearner
from data.importers.stackexchange import SEDump, read_dump
from tests.dumpwriter import write_xml

# A small brewing site. Users 1..6. Bob (2) knows hops, Carol (3) knows yeast, Dave (4)
# knows wine. Questions with accepted answers by people who were active before them.
USERS = [
    {"Id": str(i), "DisplayName": n, "CreationDate": "2015-01-01T00:00:00.000"}
    for i, n in enumerate(["Alice", "Bob", "Carol", "Dave", "Eve", "Frank"], start=1)
]


def _q(pid: str, owner: str, day: int, title: str, body: str, tags: str, accepted: str = ""):
    row = {
        "Id": pid,
        "PostTypeId": "1",
        "OwnerUserId": owner,
        "Score": "1",
        "Title": title,
        "Body": f"<p>{body}</p>",
        "Tags": tags,
        "CreationDate": f"2015-02-{day:02d}T10:00:00.000",
    }
    if accepted:
        row["AcceptedAnswerId"] = accepted
    return row


def _a(pid: str, parent: str, owner: str, day: int, body: str, score: int = 1):
    return {
        "Id": pid,
        "PostTypeId": "2",
        "ParentId": parent,
        "OwnerUserId": owner,
        "Score": str(score),
        "Body": f"<p>{body}</p>",
        "CreationDate": f"2015-02-{day:02d}T12:00:00.000",
    }


POSTS = [
    _q("1", "1", 1, "When to add dry hops?", "Dry hopping timing for an IPA", "<hops><ipa>", "2"),
    _a("2", "1", "2", 1, "Add dry hops after primary fermentation slows, for 3 to 5 days."),
    _q("3", "5", 2, "Yeast starter size?", "How big a yeast starter for a lager", "<yeast>", "4"),
    _a("4", "3", "3", 2, "Use a 2 litre starter on a stir plate for lager yeast pitching."),
    _q("5", "6", 3, "Tannins in red wine", "Why does red wine feel dry", "<wine>", "6"),
    _a("6", "5", "4", 3, "Tannins from grape skins bind saliva proteins: that is the dryness."),
    _q("7", "1", 5, "Hop aroma fades fast", "My IPA loses hop aroma in weeks", "<hops>", "8"),
    _a("8", "7", "2", 5, "Oxygen pickup kills hop aroma; purge kegs with CO2 and keep it cold."),
    _a("9", "7", "4", 5, "Drink it fresh.", score=2),
    _q(
        "10", "6", 7, "Lager yeast temperature", "What temperature for lager yeast", "<yeast>", "11"
    ),
    _a("11", "10", "3", 7, "Ferment lager yeast at 10 to 12 C, then a diacetyl rest."),
    _q("12", "5", 9, "Wine decanting", "Should young red wine be decanted", "<wine>", "13"),
    _a("13", "12", "4", 9, "Decant young tannic reds for an hour to soften them."),
]
COMMENTS = [
    {
        "Id": "1",
        "PostId": "1",
        "UserId": "3",
        "Text": "Watch out for grassy flavours.",
        "CreationDate": "2015-02-01T11:00:00.000",
    },
    {
        "Id": "2",
        "PostId": "5",
        "UserId": "5",
        "Text": "Great question about tannins.",
        "CreationDate": "2015-02-03T11:00:00.000",
    },
]


def write_site(folder: Path, posts=POSTS, comments=COMMENTS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_xml(folder / "Posts.xml", "posts", posts)
    write_xml(folder / "Comments.xml", "comments", comments)
    write_xml(folder / "Users.xml", "users", USERS)
    return folder


@pytest.fixture
def site(tmp_path: Path) -> SEDump:
    return read_dump(write_site(tmp_path / "brew"))


def _router_rankings(dump: SEDump, encoder, settings: Settings) -> dict[str, list[str]]:
    replay = Replay(dump, encoder, settings)
    systems = {ROUTER: ranker_scorer(replay.router.ranker)}
    return {r.question.id: r.rankings[ROUTER] for r in replay.rank_all(systems)}


def test_only_questions_whose_answerer_was_active_before_are_evaluated(site, encoder, settings):
    replay = Replay(site, encoder, settings)
    # Q1: Bob's first activity is his answer; Q3: Carol commented on Q1 before;
    # Q5: Dave's first activity is his answer.
    assert [q.id for q in replay.questions] == ["3", "7", "10", "12"]


def test_the_store_holds_only_the_past_when_a_question_is_ranked(site, encoder, settings):
    replay = Replay(site, encoder, settings)
    for result in replay.rank_all({}):
        asked = result.question.created_at
        stored = replay.store.knowledge()
        assert stored, "earlier posts are in the store"
        assert all(item.created_at < asked for item in stored)
        people = {p.id for p in replay.store.people()}
        authors = {
            e.owner_id if hasattr(e, "owner_id") else e.user_id
            for e in site.events()
            if e.created_at < asked
        }
        assert people == authors - {None}


def test_future_history_cannot_change_an_earlier_ranking(site, encoder, settings, tmp_path):
    full = _router_rankings(site, encoder, settings)
    # The same site with a later, very on-topic burst of activity by Eve about dry hops.
    later = [
        _q("20", "6", 20, "Dry hops again", "Dry hopping timing for an IPA", "<hops>", "21"),
        _a("21", "20", "5", 20, "Dry hops after primary fermentation slows, 3 to 5 days."),
    ]
    more = read_dump(write_site(tmp_path / "more", POSTS + later))
    extended = _router_rankings(more, encoder, settings)
    assert {k: extended[k] for k in full} == full


def test_the_asker_is_never_ranked(site, encoder, settings):
    replay = Replay(site, encoder, settings)
    systems = {ROUTER: ranker_scorer(replay.router.ranker), **BASELINES}
    for result in replay.rank_all(systems):
        for ranking in result.rankings.values():
            assert result.question.owner_id not in ranking


def test_the_router_finds_the_topic_expert(site, encoder, settings):
    rankings = _router_rankings(site, encoder, settings)
    assert rankings["7"][0] == "2"  # hop aroma -> Bob, who answered the dry-hop question
    assert rankings["10"][0] == "3"  # lager yeast -> Carol
    assert rankings["12"][0] == "4"  # wine -> Dave


def test_eval_writes_rankings_and_a_table_with_every_system(tmp_path, encoder, settings):
    folder = write_site(tmp_path / "brew")
    out = tmp_path / "rankings.jsonl"
    report = evaluate_stackexchange(folder, settings, out, encoder=encoder)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["question_id"] for line in lines] == ["3", "7", "10", "12"]
    assert all(set(line) == {"question_id", "ranking"} for line in lines)
    assert all(isinstance(uid, str) for line in lines for uid in line["ranking"])
    text = str(report)
    for name in [*BASELINES, ROUTER]:
        assert name in text
    assert report.whole[ROUTER].count == 4
    assert report.second_half[ROUTER].count == 2


def test_a_tie_is_dropped_when_an_author_is_unknown(site, encoder, settings):
    # A question by Community (no owner) still gives its answerer knowledge but no tie.
    orphan = replace(site.posts["1"], owner_id=None)
    posts = {**site.posts, "1": orphan}
    dump = SEDump(posts=posts, comments=site.comments, users=site.users)
    replay = Replay(dump, encoder, settings)
    list(replay.rank_all({}))
    first_answer = site.posts["2"].created_at
    assert replay.store.knowledge_items(["p2"])  # Bob's answer is still his knowledge
    assert not [c for c in replay.store.contacts() if c.created_at == first_answer]


def test_the_walk_also_visits_answered_questions_that_are_not_evaluated(site, encoder, settings):
    replay = Replay(site, encoder, settings)
    moments = list(replay.walk())
    # Q1 and Q5 are not evaluated (their answerers were new) but were answered: they teach.
    assert [(m.question.id, m.evaluated) for m in moments] == [
        ("1", False),
        ("3", True),
        ("5", False),
        ("7", True),
        ("10", True),
        ("12", True),
    ]
    assert [a.owner_id for a in moments[3].answers] == ["2", "4"]
    assert all(m.question.owner_id not in [a.owner_id for a in m.answers] for m in moments)


def _learning_rankings(folder: Path, encoder, settings, tmp_path: Path) -> dict[str, list[str]]:
    out = tmp_path / f"{folder.name}.jsonl"
    evaluate_stackexchange(folder, settings, out, encoder=encoder, ablation=True)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    return {line["question_id"]: line["ranking"] for line in lines}


def test_a_learned_ranking_uses_no_answer_given_after_the_question(
    encoder, settings, tmp_path, monkeypatch
):
    # Learn from the very first answered question on, so that learning is exercised.
    monkeypatch.setattr(run, "OnlineLearner", partial(OnlineLearner, min_examples=1))
    full = _learning_rankings(write_site(tmp_path / "brew"), encoder, settings, tmp_path)
    # Later, a flood of answers by Eve to hop questions: were any of them (or the examples
    # they make) used early, the early hop question would rank Eve differently.
    later = []
    for n in range(8):
        q, a = str(30 + 2 * n), str(31 + 2 * n)
        later += [
            _q(q, "6", 12 + n, "Hops question", "Dry hop timing for an IPA", "<hops>", a),
            _a(a, q, "5", 12 + n, "Dry hops after primary fermentation, 3 to 5 days."),
        ]
    more = write_site(tmp_path / "more", POSTS + later)
    extended = _learning_rankings(more, encoder, settings, tmp_path)
    assert {k: extended[k] for k in full} == full


def test_the_second_half_is_also_scored_with_weights_frozen_at_half_time(
    tmp_path, encoder, settings
):
    folder = write_site(tmp_path / "brew")
    report = evaluate_stackexchange(folder, settings, None, encoder=encoder, ablation=True)
    assert report.second_half[ROUTER_FROZEN].count == 2
    assert ROUTER_FROZEN not in report.whole
    assert "without network" in str(report)
