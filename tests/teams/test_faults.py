"""Fault injection against the Bot Connector double: posts and card updates fail at random
(seeded: 429 with Retry-After, 412, 500, 502, 503, 504) while a question goes through its
whole chain; every message still arrives, none twice, none after its request closed."""

from __future__ import annotations

import random

import pytest

from bot.demo import CHAIN_QUESTION
from tests.teams import activities as teams
from tests.teams.double import PASS, Answer
from tests.teams.test_retries import install_everyone, key_of, user
from tests.teams.world import TeamsWorld

SOFIA = "sofia.lindqvist"
FAULTS = [Answer(429, "0.05"), Answer(412), 500, 502, 503, 504]


def chaos(world: TeamsWorld, rng: random.Random, calls: int = 80, rate: float = 0.3) -> None:
    for kind in ("post", "put"):
        world.double.script(
            kind, *(rng.choice(FAULTS) if rng.random() < rate else PASS for _ in range(calls))
        )


@pytest.mark.parametrize("seed", [3, 8, 21])
def test_random_connector_faults_lose_and_double_nothing(world: TeamsWorld, seed: int) -> None:
    rng = random.Random(seed)
    install_everyone(world)
    chaos(world, rng)
    status, _ = world.post(
        teams.personal_message(world.service_url, user(world, SOFIA), CHAIN_QUESTION)
    )
    assert status == 202
    [question] = world.flow.questions_of(SOFIA)
    for _ in range(30):  # the scheduler's rounds, with time for its own retries
        world.advance(minutes=2)
    asks = world.flow.lc.asks_of_question(question.id)
    assert asks, "nobody was asked"
    # The first expert answers; the others' requests close.
    first = asks[0]
    expert = world.store.get_person(first.person_id)
    assert expert is not None
    answer = world.flow.answer(first.id, expert.id, "Roll back with helm rollback <release>.")
    assert answer.ok
    for _ in range(30):
        world.advance(minutes=2)
    outbox = world.flow.lc.outbox(question.id)
    assert all(row.sent_at is not None for row in outbox), "messages left undelivered"
    assert not [row for row in outbox if row.dead_at], "messages given up on"
    delivered = [key_of(c) for c in world.double.delivered()]
    assert len(delivered) == len(set(delivered)), "a message was posted twice"
    assert world.flow.question(question.id).state == "answered"
    failed = [c for c in world.double.posts() if c.status and c.status >= 400]
    assert failed, "the double failed no call: the test proved nothing"
    closed = {a.id: a.closed_at for a in world.flow.lc.asks_of_question(question.id)}
    late = [
        row
        for row in outbox
        if row.kind == "ask_expert"
        and not row.skipped
        and closed.get(row.ask_id)
        and row.sent_at > closed[row.ask_id]
    ]
    assert not late, "a request went out after its ask had closed"
