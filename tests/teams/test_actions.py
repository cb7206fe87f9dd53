"""Card buttons and deliveries: Not me, Snooze and a refused referral on an expert's card,
the card updated in place, follow-ups and replies, confirmations, earlier answers offered
first, and experts who cannot be reached yet."""

from __future__ import annotations

from bot.demo import CHAIN_ANSWER, CHAIN_QUESTION
from bot.lifecycle.scheduler import outbox_key
from tests.teams import activities as teams
from tests.teams.world import FAST_RETRIES, TeamsWorld, action_data, card_of, message_text, verbs

SOFIA = "sofia.lindqvist"


def user(world: TeamsWorld, person_id: str) -> dict:
    return teams.user(world.person(person_id))


def personal_id(world: TeamsWorld, person_id: str) -> str:
    return teams.personal_conversation(user(world, person_id))["id"]


def install(world: TeamsWorld, *person_ids: str) -> None:
    for person_id in person_ids:
        assert world.post(teams.install(world.service_url, user(world, person_id)))[0] == 202


def install_everyone(world: TeamsWorld) -> None:
    install(world, *(p.id for p in world.store.people()))


def ask_in_private(world: TeamsWorld, text: str = CHAIN_QUESTION) -> int:
    world.post(teams.personal_message(world.service_url, user(world, SOFIA), text))
    return world.flow.questions_of(SOFIA)[0].id


def card_sent_to(world: TeamsWorld, person_id: str):
    """The last card posted in the person's 1:1 chat."""
    calls = [
        c for c in world.double.posts(personal_id(world, person_id)) if c.body.get("attachments")
    ]
    assert calls, f"no card for {person_id}"
    return calls[-1]


def click(world: TeamsWorld, person_id: str, sent, verb: str, **inputs) -> dict:
    """Click `verb` on the card `sent` (a recorded post) as `person_id`."""
    data = {**action_data(card_of(sent.body), verb), **inputs}
    status, response = world.post(
        teams.card_action(
            world.service_url, user(world, person_id), verb, data, reply_to_id=sent.result_id
        )
    )
    assert status == 200, response
    return response


def test_not_me_closes_the_card_in_place_and_asks_someone_else(world):
    install_everyone(world)
    qid = ask_in_private(world)
    world.run()
    expert = world.asks(qid)[0].person_id
    sent = card_sent_to(world, expert)
    response = click(world, expert, sent, "pass")
    assert "You passed" in str(response["value"]) and "actions" not in response["value"]
    world.double.clear()
    world.run()
    [update] = world.double.updates()
    assert (update.conversation_id, update.activity_id) == (
        personal_id(world, expert),
        sent.result_id,
    )
    assert "I'll ask someone else" in message_text(update.body)
    assert len(world.asks(qid)) == 3  # a new expert keeps the wave full
    newcomer = world.asks(qid)[-1].person_id
    assert card_sent_to(world, newcomer)


def test_snooze_keeps_the_card_answerable_and_reminds_later(world):
    install_everyone(world)
    qid = ask_in_private(world)
    world.run()
    expert = world.asks(qid)[0].person_id
    sent = card_sent_to(world, expert)
    response = click(world, expert, sent, "snooze")
    snoozed = response["value"]
    assert "Snoozed until" in str(snoozed)
    assert set(verbs(snoozed)) == {"answer", "refer", "pass", "snooze"}
    world.double.clear()
    world.run()
    [update] = world.double.updates()
    assert update.activity_id == sent.result_id
    assert set(verbs(card_of(update.body))) == {"answer", "refer", "pass", "snooze"}
    world.double.clear()
    world.advance(hours=2, minutes=1)
    [reminder] = world.double.posts(personal_id(world, expert))
    assert reminder.body["text"].startswith("Reminder: Sofia Lindqvist's question")
    # Still answerable from the same card after the snooze.
    response = click(world, expert, sent, "answer", answer=CHAIN_ANSWER)
    assert "You answered" in str(response["value"])


def test_a_refused_referral_leaves_the_card_as_it_was(world):
    install_everyone(world)
    qid = ask_in_private(world)
    world.run()
    expert = world.asks(qid)[0].person_id
    sent = card_sent_to(world, expert)
    response = click(world, expert, sent, "refer", referee="00000000-nobody")
    assert response["type"] == "application/vnd.microsoft.activity.message"
    assert "can't find that person" in response["value"]
    response = click(world, expert, sent, "refer")
    assert response["value"] == "Pick a colleague (or type their email) first."
    world.double.clear()
    world.run()
    assert world.double.updates() == []
    assert world.flow.lc.ask(world.asks(qid)[0].id).state == "pending"
    # A typed email works as well as the people picker.
    response = click(world, expert, sent, "refer", referee_text="diego.alvarez@northwind.example")
    assert "Diego Alvarez" in str(response["value"])


def test_someone_else_cannot_use_an_experts_card(world):
    install_everyone(world)
    qid = ask_in_private(world)
    world.run()
    expert = world.asks(qid)[0].person_id
    sent = card_sent_to(world, expert)
    data = {**action_data(card_of(sent.body), "answer"), "answer": "me!"}
    status, response = world.post(
        teams.card_action(world.service_url, user(world, "maya.okafor"), "answer", data)
    )
    assert status == 200 and response["value"] == "That request was sent to someone else."


def test_a_repeated_click_is_handled_once(world):
    install_everyone(world)
    qid = ask_in_private(world)
    world.run()
    expert = world.asks(qid)[0].person_id
    sent = card_sent_to(world, expert)
    data = {**action_data(card_of(sent.body), "answer"), "answer": CHAIN_ANSWER}
    invoke = teams.card_action(world.service_url, user(world, expert), "answer", data)
    assert "You answered" in str(world.post(invoke)[1]["value"])
    assert world.post(invoke)[1]["value"] == "Already done."
    assert len(world.flow.lc.answers_of(qid)) == 1


def test_follow_up_reply_accept_and_similar_questions(world):
    install_everyone(world)
    qid = ask_in_private(world)
    world.run()
    expert = world.asks(qid)[0].person_id
    click(world, expert, card_sent_to(world, expert), "answer", answer=CHAIN_ANSWER)
    world.double.clear()
    world.run()
    # A private question's answer comes to the asker's 1:1 chat, without Confirm.
    answer = card_sent_to(world, SOFIA)
    assert set(verbs(card_of(answer.body))) == {"accept", "followup", "resolve"}

    response = click(world, SOFIA, answer, "followup", text="Which revision is the good one?")
    assert response["value"].startswith("Sent to ")
    world.double.clear()
    world.run()
    follow_up = card_sent_to(world, expert)
    assert "Which revision is the good one?" in message_text(follow_up.body)
    response = click(world, expert, follow_up, "reply", text="The one before 41.")
    world.double.clear()
    world.run()
    [reply] = world.double.posts(personal_id(world, SOFIA))
    assert "The one before 41." in reply.body["text"]

    response = click(world, SOFIA, answer, "accept")
    assert response["value"] == "Marked as the answer. Thanks!"
    world.run()
    assert world.flow.question(qid).state == "resolved"

    # The accepted answer is now offered first for the same question.
    world.double.clear()
    world.post(teams.personal_message(world.service_url, user(world, SOFIA), CHAIN_QUESTION + " "))
    new_qid = world.flow.questions_of(SOFIA)[0].id
    assert new_qid != qid and world.flow.question(new_qid).state == "checking"
    world.run()
    similar = card_sent_to(world, SOFIA)
    assert "earlier answers look close" in message_text(similar.body)
    sent_similar = similar
    data = {**action_data(card_of(sent_similar.body), "similar")}
    assert data["helped"] is True
    response = click(world, SOFIA, sent_similar, "similar")
    assert response["value"] == "Glad an earlier answer helped."
    assert world.flow.question(new_qid).state == "resolved"


def test_confirm_in_a_channel_by_someone_the_question_reached(world):
    install_everyone(world)
    post = teams.channel_mention(world.service_url, user(world, SOFIA), CHAIN_QUESTION)
    world.post(post)
    qid = world.flow.questions_of(SOFIA)[0].id
    world.run()
    first, second = (a.person_id for a in world.asks(qid))
    click(world, first, card_sent_to(world, first), "answer", answer=CHAIN_ANSWER)
    world.double.clear()
    world.run()
    thread = f"{teams.CHANNEL_ID};messageid={post['id']}"
    [answer] = world.double.posts(thread)
    assert "confirm" in verbs(card_of(answer.body))
    data = action_data(card_of(answer.body), "confirm")
    invoke = teams.card_action(
        world.service_url,
        user(world, second),
        "confirm",
        data,
        teams.channel_conversation(post["id"]),
    )
    assert world.post(invoke)[1]["value"] == "Thanks for confirming."
    world.double.clear()
    world.run()
    [confirmed] = world.double.posts(thread)
    assert "confirmed" in confirmed.body["text"]
    # The asker follows up by @mentioning the bot in the thread.
    world.double.clear()
    world.post(
        teams.channel_mention(
            world.service_url, user(world, SOFIA), "And the memory limit?", post["id"]
        )
    )
    world.run()
    assert "And the memory limit?" in message_text(card_sent_to(world, first).body)


def test_an_expert_without_a_conversation_reference_is_retried_until_installed(world):
    install(world, SOFIA)
    qid = ask_in_private(world)
    report = world.run()
    asked = [a.person_id for a in world.asks(qid)]
    assert report.failed == 2  # nobody else has the app yet
    errors = world.store.db.execute(
        "SELECT last_error FROM outbox WHERE kind = 'ask_expert' AND question_id = ?", (qid,)
    ).fetchall()
    assert [e for (e,) in errors if "no Teams conversation reference" in e] == [
        e for (e,) in errors
    ]
    assert len(errors) == 2
    # The admin installs the app for them; the next retry delivers.
    install(world, *asked)
    world.double.clear()
    report = world.advance(minutes=1)
    assert report.delivered == 2
    for person in asked:
        assert card_sent_to(world, person)


def test_an_expert_known_only_from_a_channel_gets_a_new_1on1_chat(world):
    install(world, SOFIA)
    qid = ask_in_private(world)
    world.run()
    expert = world.asks(qid)[0].person_id
    # The expert once @mentioned the bot in a channel: their Teams id is known, no 1:1 chat.
    world.post(teams.channel_mention(world.service_url, user(world, expert), "hello"))
    world.double.clear()
    world.advance(minutes=1)
    [opened] = world.double.of("POST", "create")
    account = user(world, expert)
    assert opened.body["members"] == [{"id": account["id"]}]
    assert opened.body["bot"]["id"] == teams.BOT_ID
    [card] = [c for c in world.double.posts(f"a:1on1-{account['id']}") if c.body.get("attachments")]
    assert CHAIN_QUESTION in message_text(card.body)


def test_the_outbox_key_travels_with_the_message_and_is_found_after_delivery(world):
    install_everyone(world)
    qid = ask_in_private(world)
    world.run()
    row = next(r for r in world.flow.lc.outbox(qid) if r.kind == "ask_expert")
    key = outbox_key(row.id)
    [sent] = [
        c
        for c in world.double.posts()
        if (c.body.get("channelData") or {}).get("whoknows", {}).get("outboxKey") == key
    ]
    assert world.deliverer.find_delivered(key) == f"{sent.conversation_id}|{sent.result_id}"
    assert world.deliverer.find_delivered("whoknows-999999") is None


def test_a_connector_failure_is_retried(world):
    install_everyone(world)
    world.double.clear()
    world.double.fail_posts = 3 * FAST_RETRIES.tries  # each delivery tries that often
    ask_in_private(world)
    report = world.run()
    assert report.delivered == 0 and report.failed == 3  # two cards and the status
    world.double.fail_posts = 0
    report = world.advance(minutes=1)
    assert report.delivered == 3


def test_an_answer_for_a_channel_the_bot_left_goes_to_the_askers_chat(world):
    install_everyone(world)
    post = teams.channel_mention(world.service_url, user(world, SOFIA), CHAIN_QUESTION)
    world.post(post)
    qid = world.flow.questions_of(SOFIA)[0].id
    world.double.closed.add(f"{teams.CHANNEL_ID};messageid={post['id']}")
    world.double.clear()
    report = world.run()
    assert report.failed == 0
    [status] = world.double.posts(personal_id(world, SOFIA))
    assert "I've asked" in status.body["text"] and f"#{qid}" in status.body["text"]
