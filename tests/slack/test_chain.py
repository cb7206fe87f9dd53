"""The whole chain over Slack: a channel question goes unanswered, the first expert is DM'd
and refers it, the second answers in the modal, the answer lands in the asker's thread with
the chain, and the asker marks it resolved."""

from __future__ import annotations

from bot.lifecycle.intents import AskExpert
from bot.slack import ids
from tests.slack.harness import CHANNEL, SlackWorld, button_values, text_of

QUESTION = "Our pods keep getting OOM killed in Kubernetes after the deploy. Who can help?"


def _request_dm(world: SlackWorld, person_id: str) -> dict:
    """The request DM'd to `person_id` (the message with the expert buttons)."""
    dms = [m for m in world.dms_to(person_id) if ids.ANSWER in button_values(m)]
    assert len(dms) == 1, [m["text"] for m in world.dms_to(person_id)]
    return dms[0]


def _someone_awake_not_asked(world: SlackWorld, exclude: set[str]) -> str:
    """A colleague in Boston (at work at 10:00) the question has not reached."""
    for person in world.store.people():
        if person.id not in exclude and person.timezone == "America/New_York":
            return person.id
    raise AssertionError("nobody left to refer to")


def test_channel_question_refer_answer_resolve(world: SlackWorld) -> None:
    asker = "sofia.lindqvist"
    asker_slack = world.slack_id(asker)

    # 1. Sofia posts in #eng-help; nobody replies in the thread.
    message, _ = world.post_in_channel(asker_slack, QUESTION)
    world.settle()
    [question] = world.runtime.flow.lc.questions()
    assert question.state == "waiting" and question.origin == "channel"
    assert question.place == {"platform": "slack", "channel": CHANNEL, "thread_ts": message["ts"]}
    assert world.double.calls_to("chat.postMessage") == []  # nothing happens while waiting

    # 2. Ten minutes later it is routed: the first wave is DM'd, the asker told in-thread.
    world.advance(minutes=11)
    assert world.runtime.flow.question(question.id).state == "routing"
    asks = world.runtime.flow.lc.asks_of_question(question.id)
    assert len(asks) == 2
    status = world.thread(message["ts"])
    assert len(status) == 1 and "I've asked" in status[0]["text"]
    first, other = asks[0].person_id, asks[1].person_id
    request = _request_dm(world, first)
    other_request = _request_dm(world, other)
    shown = text_of(request)
    assert "Sofia Lindqvist" in shown and "OOM killed" in shown
    assert "Why you:" in shown and "Connection:" in shown
    assert set(button_values(request)) == {ids.ANSWER, ids.REFER, ids.PASS, ids.SNOOZE}
    assert request["metadata"]["event_type"] == ids.DELIVERY_EVENT

    # 3. The first expert clicks Refer, and picks a colleague in the modal.
    first_slack = world.slack_id(first)
    reply = world.click(first_slack, ids.REFER, button_values(request)[ids.REFER], request)
    assert reply.status == 200
    world.double.wait_for("views.open")
    view = world.opened_view()
    assert view["callback_id"] == ids.VIEW_REFER
    second = _someone_awake_not_asked(world, {a.person_id for a in asks} | {asker})
    reply = world.submit(
        first_slack,
        view,
        {
            ids.USER_INPUT: {"type": "users_select", "selected_user": world.slack_id(second)},
            ids.NOTE_INPUT: {"type": "plain_text_input", "value": "She ran the last migration"},
        },
    )
    assert reply.status == 200 and reply.body in (b"", b"{}")
    world.settle()

    # The first expert's DM is updated in place; the second gets a DM naming the referrer.
    updated = world.double.message(request["channel"], request["ts"])
    assert "I've asked" in text_of(updated)
    assert ids.ANSWER not in button_values(updated)
    referred = _request_dm(world, second)
    first_name = world.store.get_person(first).name
    assert f"{first_name}* thinks you might know this" in text_of(referred)
    assert "She ran the last migration" in text_of(referred)

    # 4. The second expert answers in the modal.
    second_slack = world.slack_id(second)
    world.click(second_slack, ids.ANSWER, button_values(referred)[ids.ANSWER], referred)
    world.double.wait_for("views.open", 2)
    view = world.opened_view()
    assert view["callback_id"] == ids.VIEW_ANSWER
    answer_text = "Raise the memory limit in the Helm values, then `helm rollback` if needed."
    world.submit(
        second_slack, view, {ids.TEXT_INPUT: {"type": "plain_text_input", "value": answer_text}}
    )
    world.settle()

    # 5. The answer is in Sofia's thread, attributed, with the chain and her buttons.
    thread = world.thread(message["ts"])
    relayed = [m for m in thread if ids.RESOLVE in button_values(m)]
    assert len(relayed) == 1
    shown = text_of(relayed[0])
    second_name = world.store.get_person(second).name
    assert f"*{second_name}* answered your question (reached via {first_name})" in shown
    assert f"<@{asker_slack}>" in shown
    assert "helm rollback" in shown
    assert set(button_values(relayed[0])) == {ids.RESOLVE, ids.FOLLOW_UP, ids.CONFIRM}
    # The request of the other first-wave expert is closed in place.
    closed = world.double.message(other_request["channel"], other_request["ts"])
    assert "answered this one" in text_of(closed) and ids.ANSWER not in button_values(closed)

    # 6. The first expert (in the chain) confirms; Sofia marks it resolved.
    answer_id = button_values(relayed[0])[ids.CONFIRM]
    world.click(first_slack, ids.CONFIRM, answer_id, {**relayed[0], "channel": CHANNEL})
    world.click(asker_slack, ids.RESOLVE, answer_id, {**relayed[0], "channel": CHANNEL})
    world.settle()
    assert world.runtime.flow.question(question.id).state == "resolved"
    final = world.thread(message["ts"])
    assert any("confirmed" in m["text"] for m in final)
    assert final[-1]["text"].startswith("Resolved:")

    # Nothing was sent twice: one delivery per outbox row, each found by its key.
    keys = [m["metadata"]["event_payload"]["key"] for m in world.double.posts()]
    assert len(keys) == len(set(keys))
    kinds = [r.kind for r in world.runtime.flow.lc.outbox(question.id)]
    assert kinds.count(AskExpert.kind) == 3
    assert all(r.sent_at for r in world.runtime.flow.lc.outbox(question.id))
