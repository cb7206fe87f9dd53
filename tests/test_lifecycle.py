"""The question lifecycle, end to end on a small org, with an injected clock."""

from __future__ import annotations

import pytest

from bot.lifecycle.flow import FlowError
from bot.lifecycle.intents import AnswerPosted, AskExpert, StatusUpdate
from bot.lifecycle.learning import answer_item_id
from data.lifecycle_store import Preferences
from tests.lifecycle_org import OOM_QUESTION, make_world


@pytest.fixture
def world(encoder):
    return make_world(encoder)


def asked(world, question_id):
    return [a.person_id for a in world.flow.lc.asks_of_question(question_id)]


# ----------------------------------------------------------------------- intake


def test_a_channel_question_waits_for_humans_then_asks_the_first_wave(world):
    qid = world.flow.ask("ann", OOM_QUESTION, origin="channel", place={"ts": "1"}).question_id
    world.run()
    assert world.flow.question(qid).state == "waiting" and asked(world, qid) == []
    world.advance(minutes=9)
    assert asked(world, qid) == []
    world.advance(minutes=2)
    assert world.flow.question(qid).state == "routing"
    assert set(asked(world, qid)) == {"dan", "fay"}  # the two Kubernetes people
    status = world.sent.of_kind("status", "ann")[0]
    assert isinstance(status, StatusUpdate) and status.place == {"ts": "1"}
    assert "Dan Ek" in status.text and "Fay Ito" in status.text


def test_a_reply_in_the_thread_in_time_cancels_routing(world):
    qid = world.flow.ask("ann", OOM_QUESTION, origin="channel").question_id
    assert world.flow.human_replied(qid, "ann").ok is False  # the asker's own reply doesn't count
    assert world.flow.human_replied(qid, "bo").ok
    world.advance(minutes=30)
    assert world.flow.question(qid).state == "cancelled" and asked(world, qid) == []


def test_a_direct_question_is_routed_at_once_with_reasons_and_connections(world):
    outcome = world.flow.ask("ann", OOM_QUESTION)
    world.run()
    requests = world.sent.of_kind("ask_expert")
    assert {r.recipient for r in requests} == {"dan", "fay"}
    dan = next(r for r in requests if r.recipient == "dan")
    assert isinstance(dan, AskExpert)
    assert dan.asker_name == "Ann Lee" and dan.question == OOM_QUESTION
    assert "Kubernetes OOMKilled pods" in dan.reason
    assert dan.connection.startswith("via Bo Chan")  # Ann - Bo (team) - Dan (contact)
    assert outcome.message == "Asked Dan Ek and Fay Ito."


def test_an_empty_question_is_refused(world):
    with pytest.raises(FlowError, match="empty"):
        world.flow.ask("ann", "  \n ")


def test_someone_outside_the_directory_cannot_ask(world):
    with pytest.raises(FlowError, match="not in the directory"):
        world.flow.ask("stranger", OOM_QUESTION)


# ------------------------------------------------------------- expert replies


def test_an_answer_reaches_the_asker_and_closes_the_other_asks(world):
    qid = world.flow.ask("ann", OOM_QUESTION).question_id
    world.run()  # the requests go out (one that never did gets no update)
    dan_ask = next(a for a in world.pending(qid) if a.person_id == "dan")
    outcome = world.flow.answer(dan_ask.id, "dan", "helm rollback fleet-api 41")
    world.run()
    assert world.flow.question(qid).state == "answered"
    posted = world.sent.of_kind("answer_posted", "ann")[0]
    assert isinstance(posted, AnswerPosted)
    assert (posted.answerer_name, posted.text, posted.chain) == (
        "Dan Ek",
        "helm rollback fleet-api 41",
        [],
    )
    closed = {i.recipient: i.outcome for i in world.sent.of_kind("ask_closed")}
    assert closed == {"dan": "answered", "fay": "closed"}
    assert outcome.answer_id is not None
    with pytest.raises(FlowError, match="closed"):
        world.flow.answer(dan_ask.id, "dan", "again")


def test_only_the_person_asked_can_answer(world):
    qid = world.flow.ask("ann", OOM_QUESTION).question_id
    with pytest.raises(FlowError, match="someone else"):
        world.flow.answer(world.pending(qid)[0].id, "gus", "I know!")


def test_a_referral_asks_one_hop_further_and_the_answer_carries_the_chain(world):
    qid = world.flow.ask("ann", OOM_QUESTION).question_id
    fay = next(a for a in world.pending(qid) if a.person_id == "fay")
    assert world.flow.refer(fay.id, "fay", "eve", "she fixed this last month").ok
    world.run()
    eve_ask = next(a for a in world.pending(qid) if a.person_id == "eve")
    assert (eve_ask.hop, eve_ask.via_id) == (2, "fay")
    request = world.sent.of_kind("ask_expert", "eve")[0]
    assert request.via_name == "Fay Ito" and request.note == "she fixed this last month"
    assert request.connection == "through Fay Ito"  # Eve and Ann have no tie
    world.flow.answer(eve_ask.id, "eve", "Raise the limit to 1Gi")
    world.run()
    assert world.sent.of_kind("answer_posted")[0].chain == ["Fay Ito"]


def test_a_referral_back_into_the_chain_is_refused_politely(world):
    qid = world.flow.ask("ann", OOM_QUESTION).question_id
    fay = next(a for a in world.pending(qid) if a.person_id == "fay")
    outcome = world.flow.refer(fay.id, "fay", "dan")  # Dan was asked already
    world.run()
    assert not outcome.ok and "already part of this question's chain" in outcome.message
    assert world.sent.of_kind("notice", "fay") == []  # the refusal is the outcome itself
    assert sorted(asked(world, qid)) == ["dan", "fay"]
    assert world.flow.lc.ask(fay.id).state == "pending"  # Fay can still answer or pass


@pytest.mark.parametrize(
    ("referee", "expected"),
    [
        ("ann", "the one asking"),
        ("nobody@example.com", "can't find that person"),
    ],
)
def test_a_referral_to_the_asker_or_a_stranger_is_refused(world, referee, expected):
    qid = world.flow.ask("ann", OOM_QUESTION).question_id
    fay = next(a for a in world.pending(qid) if a.person_id == "fay")
    outcome = world.flow.refer(fay.id, "fay", referee)
    assert not outcome.ok and expected in outcome.message


def test_a_referral_to_an_opted_out_person_is_refused(world):
    world.store.set_opted_out("eve", True)
    qid = world.flow.ask("ann", OOM_QUESTION).question_id
    fay = next(a for a in world.pending(qid) if a.person_id == "fay")
    outcome = world.flow.refer(fay.id, "fay", "eve")
    assert not outcome.ok and "opted out" in outcome.message


def test_referrals_stop_at_the_hop_limit(encoder):
    world = make_world(encoder, max_hops=2)
    qid = world.flow.ask("ann", OOM_QUESTION).question_id
    fay = next(a for a in world.pending(qid) if a.person_id == "fay")
    assert world.flow.refer(fay.id, "fay", "eve").ok
    eve = next(a for a in world.pending(qid) if a.person_id == "eve")
    outcome = world.flow.refer(eve.id, "eve", "gus")
    assert not outcome.ok and "already travelled 2 hops" in outcome.message


def test_a_pass_asks_the_next_candidate(world):
    qid = world.flow.ask("ann", OOM_QUESTION).question_id
    fay = next(a for a in world.pending(qid) if a.person_id == "fay")
    world.flow.pass_(fay.id, "fay")
    pending = [a.person_id for a in world.pending(qid)]
    assert "fay" not in pending and len(pending) == 2  # a full wave is out again
    assert world.flow.lc.declined_texts(["fay"], world.clock.now().replace(year=2000)) == {
        "fay": [OOM_QUESTION]
    }


def test_a_snooze_reminds_later_and_can_not_go_on_forever(encoder):
    world = make_world(encoder, snooze_minutes=60, max_snoozes=1, ask_timeout_minutes=120)
    qid = world.flow.ask("ann", OOM_QUESTION).question_id
    dan = next(a for a in world.pending(qid) if a.person_id == "dan")
    assert world.flow.snooze(dan.id, "dan").ok
    world.run()
    assert world.sent.of_kind("notice", "dan") == []
    world.advance(minutes=61)
    assert "still waiting for you" in world.sent.of_kind("notice", "dan")[0].text
    world.advance(minutes=60)  # past the original timeout, but within the snoozed one
    assert world.flow.lc.ask(dan.id).state == "pending"
    assert not world.flow.snooze(dan.id, "dan").ok


# ---------------------------------------------------------------- escalation


def test_an_expired_ask_escalates_to_the_next_candidate(encoder):
    world = make_world(encoder, ask_timeout_minutes=60, first_wave=1)
    qid = world.flow.ask("ann", OOM_QUESTION).question_id
    world.run()  # the request goes out (one that never did gets no update)
    first = world.pending(qid)[0]
    world.advance(minutes=61)
    assert world.flow.lc.ask(first.id).state == "expired"
    assert [i.outcome for i in world.sent.of_kind("ask_closed", first.person_id)] == ["expired"]
    second = world.pending(qid)
    assert len(second) == 1 and second[0].person_id != first.person_id
    assert world.flow.question(qid).widenings == 1


def test_when_nobody_is_left_the_asker_hears_what_was_tried(encoder):
    world = make_world(encoder, max_asks_per_question=3, first_wave=1)
    qid = world.flow.ask("ann", OOM_QUESTION).question_id
    for _ in range(3):
        ask = world.pending(qid)[0]
        world.flow.pass_(ask.id, ask.person_id)
    world.run()
    q = world.flow.question(qid)
    assert q.state == "gave_up"
    final = next(s for s in world.sent.of_kind("status", "ann") if s.final)
    assert final.text.startswith("I couldn't find anyone to answer this. I asked 3 people:")
    assert final.text.count("passed") == 3


def test_nobody_is_asked_twice_for_one_question(encoder):
    world = make_world(encoder, ask_timeout_minutes=30, first_wave=2, max_asks_per_question=20)
    qid = world.flow.ask("ann", OOM_QUESTION).question_id
    for _ in range(8):
        world.advance(minutes=31)
    people = asked(world, qid)
    assert len(people) == len(set(people))
    assert "ann" not in people
    assert world.flow.question(qid).state == "gave_up"  # everyone but Ann was tried


def test_the_daily_cap_is_respected(encoder):
    world = make_world(encoder, daily_ask_cap=1)
    first = world.flow.ask("ann", OOM_QUESTION).question_id
    second = world.flow.ask("bo", "Pods are OOM killed in Kubernetes; memory limits?").question_id
    assert {"dan", "fay"} <= set(asked(world, first))
    assert not {"dan", "fay"} & set(asked(world, second))
    world.clock.advance(hours=25)
    third = world.flow.ask("cy", "Kubernetes pods OOM killed; how do I roll back?").question_id
    assert {"dan", "fay"} & set(asked(world, third))


def test_a_persons_own_cap_is_respected(world):
    world.flow.lc.set_preferences(Preferences("dan", max_asks_per_day=1))
    world.flow.ask("ann", OOM_QUESTION)
    qid = world.flow.ask("bo", "Kubernetes OOMKilled pods after deploy, help").question_id
    assert "dan" not in asked(world, qid)


def test_quiet_hours_hold_a_request_until_morning(encoder):
    world = make_world(encoder, first_wave=1)
    world.clock.advance(hours=5)  # 14:00 UTC is 23:00 in Tokyo, where Fay lives
    qid = world.flow.ask("ann", OOM_QUESTION).question_id
    first = world.pending(qid)[0]
    assert first.person_id != "fay"
    assert world.flow.refer(first.id, first.person_id, "fay").ok
    fay = next(a for a in world.flow.lc.asks_of_question(qid) if a.person_id == "fay")
    assert fay.send_after.hour == 22  # 07:00 Tokyo = 22:00 UTC
    world.run()
    assert world.sent.of_kind("ask_expert", "fay") == []
    world.advance(hours=8, minutes=1)
    assert len(world.sent.of_kind("ask_expert", "fay")) == 1


def test_awake_people_are_asked_before_sleeping_ones(encoder):
    world = make_world(encoder, first_wave=1)
    world.clock.advance(hours=5)  # Fay (Tokyo) is asleep
    qid = world.flow.ask("ann", "Kubernetes autoscaling HPA on CPU for our pods").question_id
    assert asked(world, qid) != ["fay"]


def test_opted_out_people_are_never_asked(world):
    world.store.set_opted_out("dan", True)
    qid = world.flow.ask("ann", OOM_QUESTION).question_id
    assert "dan" not in asked(world, qid)


# ------------------------------------------------------------ after the answer


def answered_world(world):
    qid = world.flow.ask("ann", OOM_QUESTION).question_id
    dan = next(a for a in world.pending(qid) if a.person_id == "dan")
    answer_id = world.flow.answer(dan.id, "dan", "helm rollback fleet-api 41").answer_id
    world.run()
    return qid, answer_id


def test_a_follow_up_goes_to_the_answerer_and_the_reply_comes_back(world):
    qid, _ = answered_world(world)
    assert world.flow.follow_up(qid, "ann", "Which revision is safe?").ok
    world.run()
    follow = world.sent.of_kind("follow_up", "dan")[0]
    assert follow.text == "Which revision is safe?" and follow.asker_name == "Ann Lee"
    assert world.flow.reply(qid, "dan", "41 is the last good one").ok
    world.run()
    assert world.sent.of_kind("follow_up_reply", "ann")[0].text == "41 is the last good one"
    with pytest.raises(FlowError, match="Only someone who answered"):
        world.flow.reply(qid, "gus", "me too")
    with pytest.raises(FlowError, match="Only the person who asked"):
        world.flow.follow_up(qid, "bo", "and me?")


def test_accepting_resolves_and_the_answer_becomes_knowledge(world):
    qid, answer_id = answered_world(world)
    assert world.flow.accept(answer_id, "ann").ok
    world.run()
    assert world.flow.question(qid).state == "resolved"
    item = world.store.knowledge_items([answer_item_id(answer_id)])[answer_item_id(answer_id)]
    assert (item.person_id, item.kind, item.title) == ("dan", "answer", OOM_QUESTION)
    assert world.store.items_needing_vectors(world.encoder.model_id) == []  # indexed by the run
    assert [s.final for s in world.sent.of_kind("status", "ann")][-1] is True


def test_someone_in_the_chain_can_confirm_an_answer(world):
    _, answer_id = answered_world(world)
    assert world.flow.confirm(answer_id, "fay").ok
    world.run()
    confirmed = world.sent.of_kind("answer_confirmed", "ann")[0]
    assert confirmed.confirmer_name == "Fay Ito" and confirmed.answerer_name == "Dan Ek"
    assert world.flow.confirm(answer_id, "fay").message == "You already confirmed this answer."
    with pytest.raises(FlowError, match="own answer"):
        world.flow.confirm(answer_id, "dan")
    with pytest.raises(FlowError, match="Only people this question reached"):
        world.flow.confirm(answer_id, "gus")
    assert world.store.knowledge_items([answer_item_id(answer_id)])


def test_only_the_asker_can_accept_or_resolve(world):
    qid, answer_id = answered_world(world)
    with pytest.raises(FlowError, match="Only the person who asked"):
        world.flow.accept(answer_id, "dan")
    with pytest.raises(FlowError, match="Only the person who asked"):
        world.flow.resolve(qid, "dan")
    assert world.flow.resolve(qid, "ann").ok
    assert world.flow.question(qid).state == "resolved"


def test_resolving_early_closes_the_open_asks(world):
    qid = world.flow.ask("ann", OOM_QUESTION).question_id
    world.run()  # the requests go out (one that never did gets no update)
    world.flow.resolve(qid, "ann")
    world.run()
    assert world.pending(qid) == []
    assert {i.outcome for i in world.sent.of_kind("ask_closed")} == {"closed"}


# ----------------------------------------------------------------- learning


def test_an_earlier_answer_is_offered_before_anyone_is_asked(world):
    _, answer_id = answered_world(world)
    world.flow.accept(answer_id, "ann")
    world.run()  # indexes the accepted answer
    qid = world.flow.ask("bo", OOM_QUESTION).question_id
    world.run()
    assert world.flow.question(qid).state == "checking" and asked(world, qid) == []
    offer = world.sent.of_kind("similar_found", "bo")[0]
    assert offer.matches[0]["answer"] == "helm rollback fleet-api 41"
    assert world.flow.similar_result(qid, "bo", helped=False).ok
    assert world.flow.question(qid).state == "routing" and asked(world, qid)


def test_an_earlier_answer_that_helped_resolves_the_question(world):
    _, answer_id = answered_world(world)
    world.flow.accept(answer_id, "ann")
    world.run()
    qid = world.flow.ask("bo", OOM_QUESTION).question_id
    world.flow.similar_result(qid, "bo", helped=True)
    assert world.flow.question(qid).state == "resolved" and asked(world, qid) == []


def test_a_referral_that_led_to_an_answer_strengthens_the_tie(world):
    qid = world.flow.ask("ann", OOM_QUESTION).question_id
    fay = next(a for a in world.pending(qid) if a.person_id == "fay")
    world.flow.refer(fay.id, "fay", "eve")
    eve = next(a for a in world.pending(qid) if a.person_id == "eve")
    world.flow.answer(eve.id, "eve", "Raise the limit")
    ties = {(c.a, c.b, c.kind): c.weight for c in world.store.contacts()}
    assert ties[("eve", "fay", "contact")] == 1.0
    assert ties[("eve", "ann", "helped")] == 1.0


def test_someone_who_passed_on_a_similar_question_is_asked_last(encoder):
    world = make_world(encoder, first_wave=1)
    first = world.flow.ask("ann", OOM_QUESTION).question_id
    top = world.pending(first)[0]
    world.flow.pass_(top.id, top.person_id)
    again = world.flow.ask("cy", "Kubernetes pods OOM killed after deploying, any idea?")
    assert asked(world, again.question_id) != [top.person_id]


# ------------------------------------------------------------ events, delivery


def test_a_repeated_event_is_handled_once(world):
    first = world.flow.ask("ann", OOM_QUESTION, event_id="evt-1")
    again = world.flow.ask("ann", OOM_QUESTION, event_id="evt-1")
    assert again.duplicate and len(world.flow.lc.questions()) == 1
    dan = next(a for a in world.pending(first.question_id) if a.person_id == "dan")
    world.flow.answer(dan.id, "dan", "helm rollback", event_id="evt-2")
    assert world.flow.answer(dan.id, "dan", "helm rollback", event_id="evt-2").duplicate
    assert len(world.flow.lc.answers_of(first.question_id)) == 1


def test_a_failed_delivery_is_retried_and_nothing_is_lost(world):
    world.sent.fail_next = 1
    world.flow.ask("ann", OOM_QUESTION)
    report = world.scheduler.run_once()
    assert report.failed >= 1 and report.delivered >= 1
    failed = [r for r in world.flow.lc.outbox() if r.sent_at is None]
    assert len(failed) == 1 and failed[0].attempts == 1
    world.advance(seconds=29)
    assert [r for r in world.flow.lc.outbox() if r.sent_at is None]  # backing off
    world.advance(seconds=2)
    assert all(r.sent_at for r in world.flow.lc.outbox())
    assert len(world.sent.of_kind("ask_expert")) == 2


def test_an_in_doubt_delivery_is_not_sent_twice(world):
    world.flow.ask("ann", OOM_QUESTION)
    row = world.flow.lc.outbox()[0]
    # Simulate a crash after the platform accepted the message but before it was recorded.
    with world.store.transaction():
        world.flow.lc.claim(row.id, world.clock.now())
    intent_key = f"whoknows-{row.id}"
    world.sent.sent.append((intent_key, None))
    world.run()
    assert [k for k, _ in world.sent.sent].count(intent_key) == 1
    assert world.flow.lc.outbox()[0].sent_at is not None


# ------------------------------------------------- honest expiry and pass notes


def test_an_expired_request_says_someone_else_was_asked_only_when_someone_was(encoder):
    world = make_world(encoder, ask_timeout_minutes=60, first_wave=1)
    qid = world.flow.ask("ann", OOM_QUESTION).question_id
    world.run()
    first = world.pending(qid)[0]
    world.advance(minutes=61)
    [note] = world.sent.of_kind("ask_closed", first.person_id)
    assert note.detail == "This request expired; I've asked someone else."
    assert len(world.pending(qid)) == 1


def test_an_expired_request_with_nobody_left_to_ask_just_expires(encoder):
    world = make_world(encoder, ask_timeout_minutes=60, first_wave=1, max_asks_per_question=1)
    qid = world.flow.ask("ann", OOM_QUESTION).question_id
    world.run()
    first = world.pending(qid)[0]
    world.advance(minutes=61)
    [note] = world.sent.of_kind("ask_closed", first.person_id)
    assert note.detail == "This request expired."
    assert asked(world, qid) == [first.person_id]
    assert world.flow.question(qid).state == "gave_up"


def test_a_pass_with_nobody_left_to_ask_does_not_promise_anyone(encoder):
    world = make_world(encoder, first_wave=1, max_asks_per_question=1)
    qid = world.flow.ask("ann", OOM_QUESTION).question_id
    world.run()
    first = world.pending(qid)[0]
    outcome = world.flow.pass_(first.id, first.person_id)
    world.run()
    [note] = world.sent.of_kind("ask_closed", first.person_id)
    assert "someone else" not in note.detail and "someone else" not in outcome.message
    assert note.detail == outcome.message == "No problem, thanks for letting me know."


# ------------------------------------------------------- withdrawn and edited


def test_a_question_withdrawn_while_waiting_is_never_routed(world):
    qid = world.flow.ask("ann", OOM_QUESTION, origin="channel").question_id
    with pytest.raises(FlowError, match="Only the person who asked"):
        world.flow.withdraw(qid, "bo")
    assert world.flow.withdraw(qid, "ann", event_id="del-1").ok
    assert world.flow.withdraw(qid, "ann", event_id="del-1").duplicate
    world.advance(minutes=30)
    q = world.flow.question(qid)
    assert (q.state, q.outcome) == ("withdrawn", "withdrawn by the asker")
    assert asked(world, qid) == [] and world.sent.sent == []


def test_a_question_withdrawn_while_routing_closes_its_requests_in_place(encoder):
    world = make_world(encoder, ask_timeout_minutes=60)
    qid = world.flow.ask("ann", OOM_QUESTION).question_id
    world.run()  # the requests go out
    out = {a.person_id for a in world.pending(qid)}
    assert world.flow.withdraw(qid, "ann").ok
    world.run()
    closed = world.sent.of_kind("ask_closed")
    assert {(i.recipient, i.outcome) for i in closed} == {(p, "withdrawn") for p in out}
    assert all("Ann Lee withdrew this question" in i.detail for i in closed)
    assert world.pending(qid) == []
    world.advance(minutes=61)
    world.advance(hours=5)
    assert set(asked(world, qid)) == out  # nobody else is asked, nothing expires
    assert len(world.sent.of_kind("ask_closed")) == len(closed)
    assert not world.flow.withdraw(qid, "ann").ok  # already over
    assert world.flow.resolve(qid, "ann").message == "This question is already closed."


def test_a_withdrawn_request_that_never_went_out_is_not_sent_nor_updated(encoder):
    world = make_world(encoder, first_wave=1)
    world.clock.advance(hours=5)  # 23:00 in Tokyo: a referral to Fay waits for her morning
    qid = world.flow.ask("ann", OOM_QUESTION).question_id
    first = world.pending(qid)[0]
    assert world.flow.refer(first.id, first.person_id, "fay").ok
    world.run()
    world.flow.withdraw(qid, "ann")
    world.advance(hours=9)
    assert world.sent.of_kind("ask_expert", "fay") == []
    assert world.sent.of_kind("ask_closed", "fay") == []


def test_an_answered_question_is_not_withdrawn(world):
    qid, _ = answered_world(world)
    outcome = world.flow.withdraw(qid, "ann")
    assert not outcome.ok and world.flow.question(qid).state == "answered"


def test_an_edited_waiting_question_is_routed_with_its_new_text(world):
    qid = world.flow.ask("ann", "Who knows about expense reimbursement?", origin="channel")
    edited = OOM_QUESTION
    assert world.flow.edit_question(qid.question_id, "ann", edited).ok
    with pytest.raises(FlowError, match="Only the person who asked"):
        world.flow.edit_question(qid.question_id, "bo", "Something else?")
    world.advance(minutes=11)
    requests = world.sent.of_kind("ask_expert")
    assert {r.recipient for r in requests} == {"dan", "fay"}  # routed on the new words
    assert {r.question for r in requests} == {edited}
    assert world.flow.question(qid.question_id).text == edited


def test_an_edit_after_routing_keeps_the_requests_and_tells_who_got_one(world):
    qid = world.flow.ask("ann", OOM_QUESTION).question_id
    world.run()
    out = sorted(a.person_id for a in world.pending(qid))
    new = OOM_QUESTION + " It is the fleet-api release."
    outcome = world.flow.edit_question(qid, "ann", new, event_id="edit-1")
    assert outcome.ok and "I've told" in outcome.message
    assert world.flow.edit_question(qid, "ann", new, event_id="edit-1").duplicate
    assert world.flow.edit_question(qid, "ann", new).message == "The question is unchanged."
    world.run()
    notices = world.sent.of_kind("notice")
    assert sorted(n.recipient for n in notices) == out
    assert all(new in n.text and "Ann Lee edited" in n.text for n in notices)
    assert sorted(a.person_id for a in world.pending(qid)) == out  # same requests
    assert world.flow.question(qid).text == new


def test_an_answered_question_keeps_the_text_it_was_answered_as(world):
    qid, _ = answered_world(world)
    assert not world.flow.edit_question(qid, "ann", "Something different?").ok
    assert world.flow.question(qid).text == OOM_QUESTION
