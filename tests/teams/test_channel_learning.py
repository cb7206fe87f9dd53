"""Team channels, with `ChannelMessage.Read.Group`: every person's message becomes what
whoknows knows of them (edits and deletions too), a reply in someone's thread is a
"helped" tie, and a question posted without the bot waits for a colleague, then is routed
and answered in its thread. Real activity JSON is posted to the running app; the Bot
Connector double records what it sends."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.demo import CHAIN_ANSWER, CHAIN_QUESTION
from data.models import KnowledgeItem
from tests.teams import activities as teams
from tests.teams.world import MONDAY_AFTERNOON, TeamsWorld, action_data, card_of, message_text

SOFIA, DANA, MEI = "sofia.lindqvist", "dana.ng", "mei.chen"
CHANNEL = teams.CHANNEL_ID
ITEMS = f"teams:{CHANNEL}:"
WAIT = 5  # minutes the test channel waits for a colleague

ROOT_TEXT = "<p>We moved the <b>fleet-api</b> deploys to Argo CD this morning.</p>"
DANA_REPLY = "<p><at>Sofia Lindqvist</at> nice, rollbacks are now a git revert &amp; sync</p>"
MEI_REPLY = "<p>The Helm charts stay in <i>infra/charts</i> for now.</p>"


def user(world: TeamsWorld, person_id: str) -> dict[str, Any]:
    return teams.user(world.person(person_id))


def say(
    world: TeamsWorld,
    person_id: str,
    text: str,
    root: str | None = None,
    minutes: float = 0,
    **extra: Any,
) -> dict[str, Any]:
    """`person_id` posts `text` in the channel (a reply in `root`'s thread if given),
    `minutes` after the test's start; returns the activity."""
    at = MONDAY_AFTERNOON + timedelta(minutes=minutes)
    body = teams.channel_message(
        world.service_url, user(world, person_id), text, thread_root=root, at=at, **extra
    )
    assert world.post(body)[0] == 202
    return body


def items(world: TeamsWorld) -> dict[str, KnowledgeItem]:
    """The knowledge learned from the test channel, by item id."""
    ids = world.store.knowledge_ids_under(ITEMS)
    return world.store.knowledge_items(ids)


def by_person(world: TeamsWorld) -> dict[str, KnowledgeItem]:
    found = {i.person_id: i for i in items(world).values()}
    assert len(found) == len(items(world)), "one item per person expected"
    return found


def ties(world: TeamsWorld) -> set[tuple[str, str, str, float]]:
    return {(c.a, c.b, c.kind, c.weight) for c in world.store.contacts()}


def stored_messages(world: TeamsWorld) -> int:
    return world.store.db.execute(
        "SELECT count(*) FROM chat_messages WHERE platform = 'teams'"
    ).fetchone()[0]


def teams_id(world: TeamsWorld, person_id: str) -> str:
    object_id = world.person(person_id).teams_id
    assert object_id
    return object_id


# ------------------------------------------------------------------- learning


def test_a_post_and_its_replies_become_the_knowledge_of_their_authors(world):
    before = ties(world)
    root = say(world, SOFIA, ROOT_TEXT)["id"]
    # A lone post is an item of its author's channel day, named after the channel.
    [lone] = items(world).values()
    assert lone.id == f"{ITEMS}day:2026-03-02:{teams_id(world, SOFIA)}"
    assert lone.person_id == SOFIA and lone.title == "#Platform, 2026-03-02"
    assert lone.text == "We moved the fleet-api deploys to Argo CD this morning."

    dana = say(world, DANA, DANA_REPLY, root=root, minutes=2)["id"]
    say(world, MEI, MEI_REPLY, root=root, minutes=3)
    mine = by_person(world)
    assert set(mine) == {SOFIA, DANA, MEI}
    # With replies, the post is a thread: one item per author, titled by the root.
    for person_id, item in mine.items():
        assert item.id == f"{ITEMS}{root}:{teams_id(world, person_id)}:2026-03-02"
        assert item.title == "We moved the fleet-api deploys to Argo CD this morning."
        assert item.source == "teams"
    assert mine[SOFIA].kind == "post" and mine[DANA].kind == mine[MEI].kind == "answer"
    assert mine[DANA].text == "Sofia Lindqvist nice, rollbacks are now a git revert & sync"
    assert mine[MEI].text == "The Helm charts stay in infra/charts for now."
    assert mine[DANA].url == (
        f"https://teams.microsoft.com/l/message/{CHANNEL}/{dana}?tenantId={teams.TENANT}"
        f"&parentMessageId={root}&createdTime={dana}"
    )
    assert mine[DANA].created_at == (MONDAY_AFTERNOON + timedelta(minutes=2)).isoformat()
    # Replying in Sofia's thread is helping her; people in one thread have interacted.
    new = ties(world) - before
    assert (DANA, SOFIA, "helped", 1.0) in new and (MEI, SOFIA, "helped", 1.0) in new
    assert {(a, b) for a, b, kind, _ in new if kind == "interacted"} >= {
        tuple(sorted((DANA, MEI))),
    }
    # The channel is known by its name, looked up once; the bot said nothing.
    row = world.store.db.execute(
        "SELECT name, private FROM chat_channels WHERE platform = 'teams' AND channel = ?",
        (CHANNEL,),
    ).fetchone()
    assert row == ("Platform", 0)
    assert len(world.double.of("GET", "channels")) == 1
    assert world.double.posts() == []


def test_an_edit_changes_the_item_and_a_deletion_removes_it(world):
    root = say(world, SOFIA, ROOT_TEXT)["id"]
    reply = say(world, DANA, DANA_REPLY, root=root, minutes=2)["id"]
    later = MONDAY_AFTERNOON + timedelta(hours=30)  # edited the next day
    edit = teams.channel_edit(
        world.service_url,
        user(world, DANA),
        reply,
        "<p>Rollbacks are an <b>Argo CD</b> sync to the previous commit.</p>",
        thread_root=root,
        at=later,
    )
    assert world.post(edit)[0] == 202
    item = by_person(world)[DANA]
    assert item.text == "Rollbacks are an Argo CD sync to the previous commit."
    assert item.created_at == (MONDAY_AFTERNOON + timedelta(minutes=2)).isoformat()  # same day
    # Each edit is an input of its own (same message id), written down before its turn.
    again = teams.channel_edit(
        world.service_url, user(world, DANA), reply, "<p>Argo CD rollbacks.</p>", root, later
    )
    again["timestamp"] = (later + timedelta(minutes=1)).isoformat()
    assert world.post(again)[0] == 202 and world.post(again)[0] == 202  # and a retry of it
    assert by_person(world)[DANA].text == "Argo CD rollbacks."
    keys = [k for (k,) in world.store.db.execute("SELECT dedup_key FROM intake")]
    assert len([k for k in keys if f":{reply}:messageUpdate:" in k]) == 2

    # Dana deletes her reply: her item goes, and Sofia's post is a lone message again.
    deletion = teams.channel_delete(world.service_url, user(world, DANA), reply, root)
    assert world.post(deletion)[0] == 202
    [lone] = items(world).values()
    assert lone.person_id == SOFIA and ":day:" in lone.id
    # Then Sofia deletes her post: nothing is left of it.
    assert world.post(teams.channel_delete(world.service_url, user(world, SOFIA), root))[0] == 202
    assert items(world) == {} and stored_messages(world) == 0


def test_the_bots_own_messages_and_other_bots_are_not_learned(world):
    me = {"id": teams.BOT_ID, "name": teams.BOT_NAME, "role": "bot"}
    workflows = {"id": "28:11111111-2222-4333-8444-000000000099", "name": "Workflows"}
    for account in (me, workflows):
        body = teams.channel_message(world.service_url, account, "Build 812 is green.")
        assert world.post(body)[0] == 202
    assert stored_messages(world) == 0 and items(world) == {}


def test_private_channels_and_chats_are_not_learned(world):
    # A private (or shared) channel says so in channelData.channel.type.
    for kind in ("private", "shared"):
        body = teams.channel_message(world.service_url, user(world, SOFIA), ROOT_TEXT)
        body["channelData"]["channel"]["type"] = kind
        assert world.post(body)[0] == 202
    # A channel of another tenant (shared in), and one that names no team.
    visiting = teams.channel_message(world.service_url, user(world, SOFIA), ROOT_TEXT)
    visiting["conversation"]["tenantId"] = "99999999-2222-4333-8444-555555555555"
    assert world.post(visiting)[0] == 202
    teamless = teams.channel_message(world.service_url, user(world, SOFIA), ROOT_TEXT)
    del teamless["channelData"]["team"]
    assert world.post(teamless)[0] == 202
    # A 1:1 chat and a group chat are not channels.
    world.post(teams.personal_message(world.service_url, user(world, SOFIA), "Hello there"))
    world.post(teams.group_mention(world.service_url, user(world, SOFIA), "Deploy went fine."))
    assert stored_messages(world) == 0 and items(world) == {}
    [row] = world.store.db.execute(
        "SELECT private FROM chat_channels WHERE platform = 'teams'"
    ).fetchall()
    assert row == (1,)
    # ...and a question there is not taken either.
    private = teams.channel_message(world.service_url, user(world, DANA), CHAIN_QUESTION)
    private["channelData"]["channel"]["type"] = "private"
    world.post(private)
    assert world.flow.questions_of(DANA) == []


def test_without_the_channel_list_the_channel_is_learned_under_its_id(world):
    world.double.script("channels", 403)
    say(world, SOFIA, ROOT_TEXT)
    [item] = items(world).values()
    assert item.title == f"#{CHANNEL}, 2026-03-02"


def test_a_failure_on_a_message_not_for_the_bot_is_not_answered(world, caplog, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the learner")

    monkeypatch.setattr(world.bot.services.learner, "learn", broken)
    say(world, SOFIA, ROOT_TEXT)
    assert any("Teams turn failed" in r.getMessage() for r in caplog.records)
    assert world.double.posts() == []  # nobody asked the bot: no "Sorry" in the channel


def test_a_standard_channel_that_says_so_is_learned(world):
    body = teams.channel_message(world.service_url, user(world, SOFIA), ROOT_TEXT)
    body["channelData"]["channel"]["type"] = "standard"
    assert world.post(body)[0] == 202
    assert len(items(world)) == 1


def test_a_redelivered_activity_changes_nothing(world):
    question = say(world, SOFIA, CHAIN_QUESTION)
    reply = say(world, DANA, DANA_REPLY, root=question["id"], minutes=1)
    snapshot = (items(world), ties(world), stored_messages(world))
    # Teams retries both (the same activities, ids and all).
    assert world.post(question)[0] == 202 and world.post(reply)[0] == 202
    assert (items(world), ties(world), stored_messages(world)) == snapshot
    [asked] = world.flow.questions_of(SOFIA)
    assert asked.state == "cancelled"  # by Dana's reply, once


# ----------------------------------------------------------------- the intake


def install_everyone(world: TeamsWorld) -> None:
    for person in world.store.people():
        assert world.post(teams.install(world.service_url, teams.user(person)))[0] == 202
    world.double.clear()


def test_a_question_nobody_answers_is_routed_and_answered_in_its_thread(world):
    install_everyone(world)
    world.runtime.accounts.set_channel_settings("teams", CHANNEL, True, WAIT)
    post = say(world, SOFIA, f"<p>{CHAIN_QUESTION}</p>")
    root = post["id"]
    thread = f"{CHANNEL};messageid={root}"
    [question] = world.flow.questions_of(SOFIA)
    assert question.origin == "channel" and question.state == "waiting"
    assert question.text == CHAIN_QUESTION and not question.private
    assert question.place["thread_id"] == thread and question.place["channel"] == CHANNEL
    # Nobody but Sofia writes in the thread (her own reply is no answer).
    say(world, SOFIA, "<p>Anyone? It happens after every deploy.</p>", root=root, minutes=1)
    world.advance(minutes=WAIT - 1)
    assert world.flow.question(question.id).state == "waiting"
    assert world.double.posts() == []

    world.advance(minutes=2)
    assert world.flow.question(question.id).state == "routing"
    asks = world.asks(question.id)
    assert asks
    # Sofia is told in her thread whom it asked: a reply to her post.
    [status] = world.double.posts(thread)
    assert status.activity_id == root and "I've asked" in status.body["text"]

    # An expert answers on their card; the answer comes into the thread.
    expert = asks[0].person_id
    chat = teams.personal_conversation(user(world, expert))["id"]
    [sent] = [c for c in world.double.posts(chat) if c.body.get("attachments")]
    data = {**action_data(card_of(sent.body), "answer"), "answer": CHAIN_ANSWER}
    click = teams.card_action(
        world.service_url, user(world, expert), "answer", data, reply_to_id=sent.result_id
    )
    assert world.post(click)[0] == 200
    world.double.clear()
    world.run()
    answers = [c for c in world.double.posts(thread) if CHAIN_ANSWER in message_text(c.body)]
    assert len(answers) == 1 and answers[0].activity_id == root


def test_a_question_a_colleague_answers_in_time_is_not_routed(world):
    world.runtime.accounts.set_channel_settings("teams", CHANNEL, True, WAIT)
    root = say(world, SOFIA, CHAIN_QUESTION)["id"]
    say(world, DANA, "<p>Probably the memory limit, check the last Helm values.</p>", root)
    [question] = world.flow.questions_of(SOFIA)
    assert question.state == "cancelled"
    world.advance(minutes=WAIT + 1)
    assert world.asks(question.id) == [] and world.double.posts() == []
    # Dana's reply is knowledge too, and a tie to Sofia.
    assert set(by_person(world)) == {SOFIA, DANA}
    assert any(t[:3] == (DANA, SOFIA, "helped") for t in ties(world))


def test_no_question_is_taken_where_the_intake_is_off_or_from_chatter(world):
    world.runtime.accounts.set_channel_settings("teams", CHANNEL, False)
    say(world, SOFIA, CHAIN_QUESTION)
    assert world.flow.questions_of(SOFIA) == []
    world.runtime.accounts.set_channel_settings("teams", CHANNEL, True, WAIT)
    say(world, DANA, "<p>Deploy went fine.</p>")  # not a question
    root = say(world, MEI, "<p>Who owns the staging cluster?</p>")["id"]
    say(world, DANA, "<p>Why did the deploy fail?</p>", root=root)  # a reply, not a root
    assert world.flow.questions_of(DANA) == []
    [asked] = world.flow.questions_of(MEI)
    assert asked.state == "cancelled"  # Dana replied in Mei's thread
    # Every one of those messages was learned from all the same.
    assert stored_messages(world) == 4


def test_a_mention_of_the_bot_is_asked_at_once_and_learned_too(world):
    post = teams.channel_mention(world.service_url, user(world, SOFIA), CHAIN_QUESTION)
    assert world.post(post)[0] == 202
    [question] = world.flow.questions_of(SOFIA)
    assert question.origin == "mention" and question.state == "routing"
    [item] = items(world).values()
    assert item.text == CHAIN_QUESTION  # without the @mention of the bot


def test_editing_or_deleting_a_waiting_channel_question_updates_or_withdraws_it(world):
    world.runtime.accounts.set_channel_settings("teams", CHANNEL, True, WAIT)
    root = say(world, SOFIA, CHAIN_QUESTION)["id"]
    [question] = world.flow.questions_of(SOFIA)
    assert question.state == "waiting"
    at = MONDAY_AFTERNOON + timedelta(minutes=1)
    new = "<p>Why do our fleet-api pods restart with exit code 137 since the deploy?</p>"
    edit = teams.channel_edit(world.service_url, user(world, SOFIA), root, new, None, at)
    assert world.post(edit)[0] == 202
    assert world.flow.question(question.id).text == (
        "Why do our fleet-api pods restart with exit code 137 since the deploy?"
    )
    chatter = teams.channel_edit(world.service_url, user(world, SOFIA), root, "<p>ok</p>", None, at)
    chatter["timestamp"] = (at + timedelta(minutes=1)).isoformat()
    assert world.post(chatter)[0] == 202  # no longer a question: it keeps its text
    assert world.flow.question(question.id).text.startswith("Why do our fleet-api pods")

    assert world.post(teams.channel_delete(world.service_url, user(world, SOFIA), root))[0] == 202
    assert world.flow.question(question.id).state == "withdrawn"
    world.advance(minutes=WAIT + 1)
    assert world.asks(question.id) == []
