"""Questions into whoknows from Teams: a 1:1 message, a channel or group chat @mention, the
`ask` command and the "Find someone who knows" message extension; installs that store the
conversation reference; people matched by Teams id or email; repeated activities ignored."""

from __future__ import annotations

from bot.demo import CHAIN_QUESTION
from tests.teams import activities as teams
from tests.teams.world import TeamsWorld, card_of, message_text

SOFIA = "sofia.lindqvist"


def account(world: TeamsWorld, person_id: str, **kwargs) -> dict:
    return teams.user(world.person(person_id), **kwargs)


def personal_id(world: TeamsWorld, person_id: str) -> str:
    return teams.personal_conversation(account(world, person_id))["id"]


def test_installing_the_app_stores_the_conversation_reference_and_says_hello(world):
    sofia = account(world, SOFIA)
    status, _ = world.post(teams.install(world.service_url, sofia))
    assert status == 202
    address = world.runtime.accounts.address(SOFIA, "teams")
    assert address == {
        "channel_id": "msteams",
        "service_url": world.service_url,
        "tenant_id": teams.TENANT,
        "user_id": sofia["id"],
        "aad_object_id": sofia["aadObjectId"],
        "bot_id": teams.BOT_ID,
        "conversation_id": personal_id(world, SOFIA),
    }
    hello = world.double.posts(personal_id(world, SOFIA))
    assert len(hello) == 1 and hello[0].body["text"].startswith("Hi Sofia!")
    # Teams may repeat the event: no second greeting.
    world.post(teams.install(world.service_url, sofia))
    assert len(world.double.posts(personal_id(world, SOFIA))) == 1


def test_a_personal_message_is_a_private_question_answered_in_the_same_chat(world):
    sofia = account(world, SOFIA)
    status, _ = world.post(teams.personal_message(world.service_url, sofia, CHAIN_QUESTION))
    assert status == 202
    [question] = world.flow.questions_of(SOFIA)
    assert question.origin == "dm" and question.private and question.text == CHAIN_QUESTION
    assert question.state == "routing"
    # Talking to the bot saved Sofia's 1:1 reference, so the status can reach her there.
    world.run()
    [status_message] = world.double.posts(personal_id(world, SOFIA))
    assert status_message.body["text"].startswith(f"**Question #{question.id}:** I've asked")


def test_the_ask_command_and_help(world):
    sofia = account(world, SOFIA)
    world.post(teams.personal_message(world.service_url, sofia, "help"))
    [help_reply] = world.double.posts(personal_id(world, SOFIA))
    assert "Find someone who knows" in help_reply.body["text"]
    assert world.flow.questions_of(SOFIA) == []
    world.post(teams.personal_message(world.service_url, sofia, f"ask {CHAIN_QUESTION}"))
    [question] = world.flow.questions_of(SOFIA)
    assert question.origin == "ask" and question.text == CHAIN_QUESTION


def test_a_channel_mention_is_answered_in_its_thread(world):
    post = teams.channel_mention(world.service_url, account(world, SOFIA), CHAIN_QUESTION)
    assert world.post(post)[0] == 202
    [question] = world.flow.questions_of(SOFIA)
    thread = f"{teams.CHANNEL_ID};messageid={post['id']}"
    assert question.origin == "mention" and not question.private
    assert question.text == CHAIN_QUESTION  # the @mention is gone
    assert question.place["thread_id"] == thread
    assert question.place["team_id"] == teams.TEAM_ID
    world.run()
    [status] = world.double.posts(thread)
    assert status.activity_id == post["id"] and "I've asked" in status.body["text"]


def test_channel_messages_that_do_not_mention_the_bot_are_not_answered_at_once(world):
    # A question waits for a colleague first (tests/teams/test_channel_learning.py);
    # anything else is only learned from. Either way the bot says nothing.
    post = teams.channel_mention(world.service_url, account(world, SOFIA), CHAIN_QUESTION)
    post["entities"] = []
    post["text"] = CHAIN_QUESTION
    assert world.post(post)[0] == 202
    [question] = world.flow.questions_of(SOFIA)
    assert question.origin == "channel" and question.state == "waiting"
    chat = teams.channel_mention(world.service_url, account(world, SOFIA), "Deploy went fine.")
    chat["entities"] = []
    chat["text"] = "Deploy went fine."
    assert world.post(chat)[0] == 202
    assert len(world.flow.questions_of(SOFIA)) == 1 and world.double.posts() == []


def test_a_group_chat_mention_is_answered_in_the_chat(world):
    post = teams.group_mention(world.service_url, account(world, SOFIA), CHAIN_QUESTION)
    world.post(post)
    [question] = world.flow.questions_of(SOFIA)
    assert question.origin == "mention" and question.place["conversation_type"] == "groupChat"
    world.run()
    [status] = world.double.posts(teams.GROUP_CHAT_ID)
    assert "I've asked" in status.body["text"]


def test_the_message_extension_asks_from_a_message_and_answers_privately(world):
    sofia = account(world, SOFIA)
    fetch = teams.extension_fetch(
        world.service_url, sofia, "<p>Why do <b>fleet-api</b> pods get OOM killed?</p>"
    )
    status, dialog = world.post(fetch)
    assert status == 200 and dialog["task"]["type"] == "continue"
    card = dialog["task"]["value"]["card"]["content"]
    assert card["body"][1]["value"] == "Why do fleet-api pods get OOM killed?"

    status, result = world.post(teams.extension_submit(world.service_url, sofia, CHAIN_QUESTION))
    assert status == 200 and result["task"]["type"] == "message"
    assert result["task"]["value"].startswith("Asked ")
    [question] = world.flow.questions_of(SOFIA)
    assert question.origin == "shortcut" and question.private
    # Sofia never chatted with the bot 1:1: her chat is opened to tell her how it goes.
    world.run()
    [opened] = world.double.of("POST", "create")
    assert opened.body["members"] == [{"id": sofia["id"]}]
    assert opened.body["tenantId"] == teams.TENANT
    [status_message] = world.double.posts(f"a:1on1-{sofia['id']}")
    assert "I've asked" in status_message.body["text"]
    assert world.runtime.accounts.address(SOFIA, "teams")["conversation_id"] == (
        f"a:1on1-{sofia['id']}"
    )


def test_a_repeated_activity_is_handled_once(world):
    message = teams.personal_message(world.service_url, account(world, SOFIA), CHAIN_QUESTION)
    world.post(message)
    world.post(message)
    assert len(world.flow.questions_of(SOFIA)) == 1


def test_people_are_matched_by_teams_id(world):
    # The Entra object id is the directory's teams_id.
    sofia = account(world, SOFIA)
    world.post(teams.personal_message(world.service_url, sofia, CHAIN_QUESTION))
    assert len(world.flow.questions_of(SOFIA)) == 1
    assert world.double.of("GET", "member") == []


def test_people_are_matched_by_email_from_the_member_lookup(world):
    sofia = account(world, SOFIA, aad="0f0f0f0f-not-in-the-directory")
    world.double.members[sofia["id"]] = {
        "id": sofia["id"],
        "name": "Sofia L.",
        "email": "Sofia.Lindqvist@northwind.example",
        "userPrincipalName": "sofia@northwind.example",
    }
    world.post(teams.personal_message(world.service_url, sofia, CHAIN_QUESTION))
    [lookup] = world.double.of("GET", "member")
    assert lookup.path.endswith(f"/members/{sofia['id']}")
    assert len(world.flow.questions_of(SOFIA)) == 1
    # Remembered: the next message needs no lookup.
    world.post(teams.personal_message(world.service_url, sofia, "How do I roll back helm?"))
    assert len(world.double.of("GET", "member")) == 1
    assert len(world.flow.questions_of(SOFIA)) == 2


def test_someone_outside_the_directory_gets_a_polite_answer(world):
    stranger = {"id": "29:1stranger", "name": "Stranger", "aadObjectId": "not-a-person"}
    world.post(teams.personal_message(world.service_url, stranger, CHAIN_QUESTION))
    [answer] = world.double.posts(f"a:personal-{stranger['id']}")
    assert "can't find you in the company directory" in answer.body["text"]
    assert world.flow.lc.questions() == []


def test_an_empty_question_is_refused_at_once(world):
    post = teams.channel_mention(world.service_url, account(world, SOFIA), "   ")
    world.post(post)
    [reply] = world.double.posts()
    assert "I find colleagues" in message_text(reply.body)  # the help, not an error
    assert world.flow.questions_of(SOFIA) == []


def test_health_check(world):
    assert world.get("/healthz") == (200, {"ok": True})


def test_card_rendering_is_a_real_adaptive_card(world):
    world.post(teams.personal_message(world.service_url, account(world, SOFIA), "help"))
    world.post(teams.install(world.service_url, account(world, "diego.alvarez")))
    world.post(teams.install(world.service_url, account(world, "oleksandr.petrenko")))
    world.post(teams.personal_message(world.service_url, account(world, SOFIA), CHAIN_QUESTION))
    world.run()
    asked = [a.person_id for a in world.asks(world.flow.questions_of(SOFIA)[0].id)]
    for person in asked:
        for call in world.double.posts(personal_id(world, person)):
            if call.body.get("attachments"):
                card = card_of(call.body)
                assert card["type"] == "AdaptiveCard" and card["version"] == "1.5"


def test_installing_in_a_team_remembers_the_installer_without_a_chat(world):
    sofia = account(world, SOFIA)
    assert world.post(teams.team_install(world.service_url, sofia))[0] == 202
    address = world.runtime.accounts.address(SOFIA, "teams")
    assert address["user_id"] == sofia["id"] and "conversation_id" not in address
    assert world.double.posts() == []  # no greeting in the channel
    # A later 1:1 chat replaces it with the chat's reference; a channel never downgrades it.
    world.post(teams.personal_message(world.service_url, sofia, "help"))
    world.post(teams.channel_mention(world.service_url, sofia, CHAIN_QUESTION))
    assert world.runtime.accounts.address(SOFIA, "teams")["conversation_id"] == (
        personal_id(world, SOFIA)
    )


def test_the_asker_mentioning_the_bot_in_an_open_question_thread_asks_nothing_new(world):
    sofia = account(world, SOFIA)
    post = teams.channel_mention(world.service_url, sofia, CHAIN_QUESTION)
    world.post(post)
    world.double.clear()
    world.post(teams.channel_mention(world.service_url, sofia, "any news?", post["id"]))
    assert len(world.flow.questions_of(SOFIA)) == 1
    [reply] = world.double.posts(f"{teams.CHANNEL_ID};messageid={post['id']}")
    assert "I'm still finding someone" in reply.body["text"]
