"""Reading StackExchange dumps and the EVAL.md question/relevance rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from data.importers.errors import ImportFailed
from data.importers.stackexchange import (
    SEComment,
    SEPost,
    evaluable_questions,
    html_to_text,
    parse_tags,
    read_dump,
    relevance_of,
)
from tests.dumpwriter import write_xml

BEER = Path(__file__).parents[2] / "shared" / "data" / "stackexchange-beer"

# A tiny site. Users: 1 Alice, 2 Bob, 3 Carol, 4 Dave, 5 Eve, 6 Frank (and -1 Community).
#  Q1  (Alice)  accepted A2 by Bob, whose first activity is that answer -> not evaluable
#  Q5  (Eve)    accepted A9 by Dave, who only commented before -> evaluable
#  Q10 (Carol)  self-answered -> not evaluable
#  Q13 (Community, i.e. unknown asker) accepted A14 by Bob -> not evaluable
#  Q15 (Bob)    accepted answer 99 is not in the dump -> not evaluable
#  Q16 (Eve)    accepted A17 by Bob, who answered Q1 earlier -> evaluable
#  Q18 (Alice)  accepted A19 by Frank, whose first comment is at the very same instant -> not
POSTS = [
    dict(
        Id="1",
        PostTypeId="1",
        AcceptedAnswerId="2",
        CreationDate="2020-01-01T10:00:00.000",
        Score="5",
        OwnerUserId="1",
        Title="What is an IPA?",
        Tags="<beer><ale>",
        Body="<p>What is an <b>IPA</b> &amp; why?</p><p>Recipe:</p>"
        "<pre><code>hops = 3\nmalt = 2\n</code></pre>\n<ul><li>one</li><li>two</li></ul>",
    ),
    dict(
        Id="2",
        PostTypeId="2",
        ParentId="1",
        CreationDate="2020-01-01T11:00:00.000",
        Score="3",
        OwnerUserId="2",
        Body="<p>India pale ale.</p>",
    ),
    dict(
        Id="3",
        PostTypeId="2",
        ParentId="1",
        CreationDate="2020-01-01T12:00:00.000",
        Score="1",
        OwnerUserId="3",
        Body="<p>A hoppy ale.</p>",
    ),
    dict(
        Id="4",
        PostTypeId="2",
        ParentId="1",
        CreationDate="2020-01-01T13:00:00.000",
        Score="5",
        Body="<p>Deleted user's answer.</p>",
    ),
    dict(
        Id="5",
        PostTypeId="1",
        AcceptedAnswerId="9",
        CreationDate="2020-01-02T09:00:00.000",
        Score="2",
        OwnerUserId="5",
        Title="Stout or porter?",
        Tags="|stout|porter|",
        Body="<p>Which is darker?</p>",
    ),
    dict(
        Id="7",
        PostTypeId="2",
        ParentId="5",
        CreationDate="2020-01-02T10:00:00.000",
        Score="2",
        OwnerUserId="1",
        Body="<p>Stout.</p>",
    ),
    dict(
        Id="8",
        PostTypeId="2",
        ParentId="5",
        CreationDate="2020-01-02T10:30:00.000",
        Score="-1",
        OwnerUserId="3",
        Body="<p>Porter.</p>",
    ),
    dict(
        Id="9",
        PostTypeId="2",
        ParentId="5",
        CreationDate="2020-01-02T11:00:00.000",
        Score="4",
        OwnerUserId="4",
        Body="<p>Usually stout.</p>",
    ),
    dict(
        Id="6",
        PostTypeId="2",
        ParentId="5",
        CreationDate="2020-01-02T12:00:00.000",
        Score="1",
        OwnerUserId="4",
        Body="<p>Dave again.</p>",
    ),
    dict(
        Id="10",
        PostTypeId="1",
        AcceptedAnswerId="11",
        CreationDate="2020-01-03T09:00:00.000",
        Score="1",
        OwnerUserId="3",
        Title="My own question",
        Tags="",
        Body="<p>Hmm</p>",
    ),
    dict(
        Id="11",
        PostTypeId="2",
        ParentId="10",
        CreationDate="2020-01-03T10:00:00.000",
        Score="1",
        OwnerUserId="3",
        Body="<p>Answered myself.</p>",
    ),
    dict(
        Id="12",
        PostTypeId="4",
        CreationDate="2020-01-03T11:00:00.000",
        Score="0",
        OwnerUserId="-1",
        Body="<p>Tag wiki excerpt.</p>",
    ),
    dict(
        Id="13",
        PostTypeId="1",
        AcceptedAnswerId="14",
        CreationDate="2020-01-04T09:00:00.000",
        Score="0",
        OwnerUserId="-1",
        Title="Community question",
        Body="<p>?</p>",
    ),
    dict(
        Id="14",
        PostTypeId="2",
        ParentId="13",
        CreationDate="2020-01-04T10:00:00.000",
        Score="0",
        OwnerUserId="2",
        Body="<p>Bob answers.</p>",
    ),
    dict(
        Id="15",
        PostTypeId="1",
        AcceptedAnswerId="99",
        CreationDate="2020-01-04T11:00:00.000",
        Score="0",
        OwnerUserId="2",
        Title="Lost answer",
        Body="<p>?</p>",
    ),
    dict(
        Id="16",
        PostTypeId="1",
        AcceptedAnswerId="17",
        CreationDate="2020-01-05T09:00:00.000",
        Score="0",
        OwnerUserId="5",
        Title="Lager temperature",
        Body="<p>How cold?</p>",
    ),
    dict(
        Id="17",
        PostTypeId="2",
        ParentId="16",
        CreationDate="2020-01-05T10:00:00.000",
        Score="2",
        OwnerUserId="2",
        Body="<p>Cold.</p>",
    ),
    dict(
        Id="18",
        PostTypeId="1",
        AcceptedAnswerId="19",
        CreationDate="2020-01-06T00:00:00.000",
        Score="0",
        OwnerUserId="1",
        Title="Same instant",
        Body="<p>?</p>",
    ),
    dict(
        Id="19",
        PostTypeId="2",
        ParentId="18",
        CreationDate="2020-01-06T01:00:00.000",
        Score="1",
        OwnerUserId="6",
        Body="<p>Frank.</p>",
    ),
]
COMMENTS = [
    dict(
        Id="1",
        PostId="1",
        CreationDate="2020-01-01T10:30:00.000",
        UserId="4",
        Text="Dave  was\nhere first",
    ),
    # Same instant as Q1: in replay order the question comes first.
    dict(Id="2", PostId="1", CreationDate="2020-01-01T10:00:00.000", Text="deleted user"),
    dict(Id="4", PostId="5", CreationDate="2020-01-02T09:30:00.000", UserId="-1", Text="bot"),
    # Two comments at one instant: ids compare as numbers, so 9 before 10.
    dict(Id="10", PostId="5", CreationDate="2020-01-02T09:45:00.000", UserId="1", Text="b"),
    dict(Id="9", PostId="5", CreationDate="2020-01-02T09:45:00.000", UserId="3", Text="a"),
    dict(Id="3", PostId="16", CreationDate="2020-01-06T00:00:00.000", UserId="6", Text="Frank"),
]
USERS = [
    dict(Id="-1", DisplayName="Community", CreationDate="2019-12-31T00:00:00.000"),
    dict(Id="1", DisplayName="Alice", CreationDate="2019-12-31T00:00:01.000"),
    dict(Id="2", DisplayName="Bob", CreationDate="2019-12-31T00:00:02.000"),
    dict(Id="3", DisplayName="Carol", CreationDate="2019-12-31T00:00:03.000"),
    dict(Id="4", DisplayName="Dave", CreationDate="2019-12-31T00:00:04.000"),
    dict(Id="5", DisplayName="Eve", CreationDate="2019-12-31T00:00:05.000"),
    dict(Id="6", DisplayName="Frank"),
]


def write_dump(folder: Path, posts=POSTS, comments=COMMENTS, users=USERS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_xml(folder / "Posts.xml", "posts", posts)
    write_xml(folder / "Comments.xml", "comments", comments)
    write_xml(folder / "Users.xml", "users", users)
    return folder


@pytest.fixture
def dump(tmp_path: Path):
    return read_dump(write_dump(tmp_path / "site"))


# --- parsing ------------------------------------------------------------------------------


def test_posts_are_parsed_into_typed_records(dump) -> None:
    q = dump.posts["1"]
    assert q == SEPost(
        id="1",
        post_type="question",
        owner_id="1",
        parent_id=None,
        accepted_answer_id="2",
        created_at="2020-01-01T10:00:00.000",
        score=5,
        title="What is an IPA?",
        tags=["beer", "ale"],
        body_text="What is an IPA & why? Recipe: hops = 3 malt = 2 one two",
    )
    a = dump.posts["2"]
    assert (a.post_type, a.parent_id, a.accepted_answer_id, a.title, a.tags) == (
        "answer",
        "1",
        None,
        None,
        [],
    )
    assert dump.posts["8"].score == -1


def test_only_questions_and_answers_are_kept(dump) -> None:
    assert "12" not in dump.posts  # tag wiki
    kinds = {p.post_type for p in dump.posts.values()}
    assert kinds == {"question", "answer"}
    assert len(dump.posts) == len(POSTS) - 1


def test_deleted_and_community_owners_are_none(dump) -> None:
    assert dump.posts["4"].owner_id is None  # no OwnerUserId
    assert dump.posts["13"].owner_id is None  # OwnerUserId="-1"
    by_id = {c.id: c for c in dump.comments}
    assert by_id["2"].user_id is None
    assert by_id["4"].user_id is None


def test_both_tag_forms(dump) -> None:
    assert dump.posts["1"].tags == ["beer", "ale"]
    assert dump.posts["5"].tags == ["stout", "porter"]
    assert dump.posts["10"].tags == []
    assert parse_tags("<single-malt><scotch>") == ["single-malt", "scotch"]
    assert parse_tags("|single-malt|scotch|") == ["single-malt", "scotch"]
    assert parse_tags(None) == []


def test_html_is_stripped_to_plain_text() -> None:
    assert html_to_text("<p>a</p><p>b</p>") == "a b"
    # Inline tags join their text; entities decode once (escaped markup stays text).
    assert html_to_text("foo<em>bar</em> &lt;tag&gt; &#233;") == "foobar <tag> é"
    assert html_to_text("<pre><code>x = 1\n  y = 2</code></pre>") == "x = 1 y = 2"
    assert html_to_text("<script>evil()</script>kept<br/>line") == "kept line"
    assert html_to_text("") == ""


def test_comments_and_users(dump) -> None:
    first = {c.id: c for c in dump.comments}["1"]
    assert first == SEComment(
        id="1",
        post_id="1",
        user_id="4",
        created_at="2020-01-01T10:30:00.000",
        text="Dave was here first",
    )
    assert dump.users["2"].name == "Bob"
    assert dump.users["2"].created_at == "2019-12-31T00:00:02.000"
    assert dump.users["6"].created_at is None
    assert len(dump.users) == len(USERS)


def test_helpers_are_time_ordered(dump) -> None:
    assert [q.id for q in dump.questions()] == ["1", "5", "10", "13", "15", "16", "18"]
    assert [a.id for a in dump.answers_of("5")] == ["7", "8", "9", "6"]
    assert dump.answers_of("nope") == []
    assert [c.id for c in dump.comments_of("1")] == ["2", "1"]
    assert [c.id for c in dump.comments_of("5")] == ["4", "9", "10"]


def test_events_walk_time_with_stable_ties(dump) -> None:
    events = dump.events()
    assert len(events) == len(dump.posts) + len(dump.comments)
    keys = [(e.created, e.kind, e.id) for e in events]
    assert [k[0] for k in keys] == sorted(k[0] for k in keys)
    # Q1 and comment 2 share a timestamp: question first; comments 9 and 10 tie: by number.
    assert [(e.kind, e.id) for e in events[:2]] == [("question", "1"), ("comment", "2")]
    ids = [(e.kind, e.id) for e in events]
    assert ids.index(("comment", "9")) + 1 == ids.index(("comment", "10"))
    # Frank's comment is at Q18's instant; the question still comes first.
    assert ids.index(("question", "18")) < ids.index(("comment", "3"))


# --- EVAL.md rules --------------------------------------------------------------------------


def test_evaluable_questions_follow_eval_rules(dump) -> None:
    # Q5: Dave's only earlier activity is a comment. Q16: Bob answered Q1 earlier.
    # Left out: Q1 (Bob's first act), Q10 (self-answered), Q13 (unknown asker),
    # Q15 (accepted answer missing), Q18 (Frank's first act at the same instant, not before).
    assert [q.id for q in evaluable_questions(dump)] == ["5", "16"]


def test_relevance_grades(dump) -> None:
    # Q5: Dave accepted (2, even with another answer), Alice score 2 (1), Carol score -1 (out).
    assert relevance_of(dump, dump.posts["5"]) == {"4": 2, "1": 1}
    # Q1: Bob accepted, Carol score 1; the deleted user's answer has nobody to credit.
    assert relevance_of(dump, dump.posts["1"]) == {"2": 2, "3": 1}
    # The asker is never relevant, even answering their own question.
    assert relevance_of(dump, dump.posts["10"]) == {}
    assert relevance_of(dump, dump.posts["15"]) == {}


# --- bad input ------------------------------------------------------------------------------


def test_missing_required_file(tmp_path: Path) -> None:
    folder = write_dump(tmp_path / "site")
    (folder / "Posts.xml").unlink()
    with pytest.raises(ImportFailed) as err:
        read_dump(folder)
    assert "missing required file Posts.xml" in str(err.value)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ImportFailed, match="not a directory"):
        read_dump(tmp_path / "nowhere")


def test_malformed_xml_reports_file_and_line(tmp_path: Path) -> None:
    folder = write_dump(tmp_path / "site")
    lines = (folder / "Posts.xml").read_text(encoding="utf-8").splitlines()
    lines[4] = '  <row Id="3" PostTypeId="2" <oops />'  # line 5
    (folder / "Posts.xml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ImportFailed) as err:
        read_dump(folder)
    [problem] = err.value.problems
    assert problem.file.endswith("Posts.xml")
    assert problem.line == 5
    assert "malformed XML" in problem.reason
    assert str(problem).startswith(str(folder / "Posts.xml") + ":5: malformed XML")


def test_truncated_file_is_malformed(tmp_path: Path) -> None:
    folder = write_dump(tmp_path / "site")
    path = folder / "Comments.xml"
    path.write_text("\n".join(path.read_text(encoding="utf-8").splitlines()[:-1]) + "\n")
    with pytest.raises(ImportFailed, match=r"Comments\.xml:\d+: malformed XML"):
        read_dump(folder)


def test_rows_missing_required_attributes(tmp_path: Path) -> None:
    posts = [dict(p) for p in POSTS]
    del posts[0]["CreationDate"]  # line 3
    del posts[2]["PostTypeId"]  # line 5
    comments = [dict(c) for c in COMMENTS]
    del comments[1]["Id"]  # line 4
    folder = write_dump(tmp_path / "site", posts=posts, comments=comments)
    with pytest.raises(ImportFailed) as err:
        read_dump(folder)
    found = {(Path(p.file).name, p.line) for p in err.value.problems}
    assert found == {("Posts.xml", 3), ("Posts.xml", 5), ("Comments.xml", 4)}
    message = str(err.value)
    assert "Posts.xml:3: row Id=1 is missing required attribute(s): CreationDate" in message
    assert "Posts.xml:5: row Id=3 is missing required attribute(s): PostTypeId" in message


def test_bad_values_are_reported(tmp_path: Path) -> None:
    posts = [dict(p) for p in POSTS]
    posts[1]["Score"] = "lots"  # line 4
    posts[2]["CreationDate"] = "yesterday"  # line 5
    folder = write_dump(tmp_path / "site", posts=posts)
    with pytest.raises(ImportFailed) as err:
        read_dump(folder)
    assert {p.line for p in err.value.problems} == {4, 5}


# --- the real dump ----------------------------------------------------------------------------


@pytest.mark.skipif(not (BEER / "Posts.xml").is_file(), reason=f"beer dump not found at {BEER}")
def test_beer_dump_counts() -> None:
    dump = read_dump(BEER)
    posts = list(dump.posts.values())
    assert sum(p.post_type == "question" for p in posts) == 591
    assert sum(p.post_type == "answer" for p in posts) == 1398
    assert len(dump.comments) == 1860
    assert len(dump.users) == 3948
    evaluable = evaluable_questions(dump)
    assert len(evaluable) == 250
    # Every evaluable question grades its accepted answerer 2, never the asker.
    for q in evaluable:
        gains = relevance_of(dump, q)
        assert gains[dump.posts[q.accepted_answer_id].owner_id] == 2
        assert q.owner_id not in gains
