"""The whole chain in Teams, as in Slack: a channel question -> proactive cards to the first
experts -> one refers -> a card to the colleague they named -> they answer -> the answer in
the asker's thread -> resolved. Real activity JSON is posted to the running app; what it
sends is captured by the Bot Connector double."""

from __future__ import annotations

from bot.demo import CHAIN_ANSWER, CHAIN_ASKER, CHAIN_NOTE, CHAIN_QUESTION
from tests.teams import activities as teams
from tests.teams.world import TeamsWorld, action_data, card_of, message_text, verbs


def install_everyone(world: TeamsWorld) -> None:
    """The admin installed the app for the org: every person's 1:1 scope says hello."""
    for person in world.store.people():
        status, _ = world.post(teams.install(world.service_url, teams.user(person)))
        assert status == 202


def personal_id(world: TeamsWorld, person_id: str) -> str:
    return teams.personal_conversation(teams.user(world.person(person_id)))["id"]


def test_channel_question_referred_answered_and_resolved(world):
    install_everyone(world)
    world.double.clear()
    sofia = teams.user(world.person(CHAIN_ASKER))

    # Sofia @mentions whoknows in the platform channel.
    post = teams.channel_mention(world.service_url, sofia, CHAIN_QUESTION)
    root = post["id"]
    thread = f"{teams.CHANNEL_ID};messageid={root}"
    assert world.post(post)[0] == 202
    question = world.flow.questions_of(CHAIN_ASKER)[0]
    assert question.origin == "mention" and question.place["thread_id"] == thread

    # The scheduler sends a proactive card to each expert of the first wave, and tells
    # Sofia in her thread whom it asked.
    world.run()
    first = world.asks(question.id)
    assert len(first) == 2
    cards_sent = {
        person: [c for c in world.double.posts(personal_id(world, person))]
        for person in [a.person_id for a in first]
    }
    for person, calls in cards_sent.items():
        assert len(calls) == 1, person
        card = card_of(calls[0].body)
        assert set(verbs(card)) == {"answer", "refer", "pass", "snooze"}
        assert CHAIN_QUESTION in message_text(calls[0].body)
        assert calls[0].body["channelData"]["notification"] == {"alert": True}
    status = world.double.posts(thread)
    assert len(status) == 1 and status[0].activity_id == root  # a reply to Sofia's post
    names = [world.person(a.person_id).name for a in first]
    assert all(name in status[0].body["text"] for name in names)

    # The first expert who is not Diego refers the question to Diego (people picker).
    referrer = next(a for a in first if a.person_id != "diego.alvarez")
    referrer_card = cards_sent[referrer.person_id][0]
    diego = world.person("diego.alvarez")
    click = teams.card_action(
        world.service_url,
        teams.user(world.person(referrer.person_id)),
        "refer",
        {
            **action_data(card_of(referrer_card.body), "refer"),
            "referee": diego.teams_id,
            "note": CHAIN_NOTE,
        },
        reply_to_id=referrer_card.result_id,
    )
    status_code, response = world.post(click)
    assert status_code == 200
    assert response["type"] == "application/vnd.microsoft.card.adaptive"
    assert "Diego Alvarez" in str(response["value"]) and "actions" not in response["value"]

    # The referrer's card is updated in place; Diego gets a card saying who referred him.
    world.double.clear()
    world.run()
    updated = world.double.updates()
    assert [(u.conversation_id, u.activity_id) for u in updated] == [
        (personal_id(world, referrer.person_id), referrer_card.result_id)
    ]
    assert "You referred it" in message_text(updated[0].body)
    diego_cards = world.double.posts(personal_id(world, "diego.alvarez"))
    assert len(diego_cards) == 1
    diego_card = card_of(diego_cards[0].body)
    referrer_name = world.person(referrer.person_id).name
    assert f"{referrer_name}** thinks you might know" in str(diego_card)
    assert CHAIN_NOTE in str(diego_card)

    # Diego answers from the card.
    answer = teams.card_action(
        world.service_url,
        teams.user(diego),
        "answer",
        {**action_data(diego_card, "answer"), "answer": CHAIN_ANSWER},
        reply_to_id=diego_cards[0].result_id,
    )
    status_code, response = world.post(answer)
    assert status_code == 200 and "You answered" in str(response["value"])

    # The answer reaches Sofia's thread with the chain; the cards still open are closed.
    world.double.clear()
    world.run()
    answer_posts = world.double.posts(thread)
    assert len(answer_posts) == 1 and answer_posts[0].activity_id == root
    answer_card = card_of(answer_posts[0].body)
    text = message_text(answer_posts[0].body)
    assert "Diego Alvarez" in text and CHAIN_ANSWER.split("`")[1] in text
    assert f"Reached via {referrer_name}" in text
    assert set(verbs(answer_card)) >= {"accept", "followup", "resolve", "confirm"}
    updated = {(u.conversation_id, u.activity_id) for u in world.double.updates()}
    assert (personal_id(world, "diego.alvarez"), diego_cards[0].result_id) in updated
    others = [a for a in first if a.person_id != referrer.person_id]
    for other in others:  # the other first-wave expert's card: closed, "Diego answered"
        sent = cards_sent[other.person_id][0]
        assert (personal_id(world, other.person_id), sent.result_id) in updated

    # Sofia resolves the question from the answer card in her thread.
    resolve = teams.card_action(
        world.service_url,
        sofia,
        "resolve",
        action_data(answer_card, "resolve"),
        conversation=teams.channel_conversation(root),
        reply_to_id=answer_posts[0].result_id,
    )
    status_code, response = world.post(resolve)
    assert status_code == 200 and response["value"] == "Marked as resolved. Thanks!"
    world.double.clear()
    world.run()
    final = world.double.posts(thread)
    assert len(final) == 1 and "Resolved" in final[0].body["text"]
    assert world.flow.question(question.id).state == "resolved"

    # Outgoing calls carry the bot's token from the (double's) Entra token endpoint.
    assert all(c.authorization == "Bearer double-access-token" for c in final)
