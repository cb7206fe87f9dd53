"""Teams activities are written to the intake table before their turn runs: one that was
accepted when the process died is run again on the next start, exactly once."""

from __future__ import annotations

import json

from bot.demo import CHAIN_QUESTION
from tests.teams import activities as teams
from tests.teams.world import TeamsWorld

SOFIA = "sofia.lindqvist"


def intake_rows(world: TeamsWorld) -> list[tuple[str, str]]:
    return world.store.db.execute(
        "SELECT dedup_key, state FROM intake WHERE platform = 'teams' ORDER BY id"
    ).fetchall()


def test_every_activity_is_on_disk_and_marked_done_once_handled(world: TeamsWorld) -> None:
    sofia = teams.user(world.person(SOFIA))
    status, _ = world.post(teams.personal_message(world.service_url, sofia, CHAIN_QUESTION))
    assert status == 202
    rows = intake_rows(world)
    assert len(rows) == 1 and rows[0][1] == "done"
    assert len(world.flow.questions_of(SOFIA)) == 1


def test_an_activity_accepted_before_a_crash_is_replayed_on_start(world: TeamsWorld) -> None:
    sofia = teams.user(world.person(SOFIA))
    body = teams.personal_message(world.service_url, sofia, CHAIN_QUESTION)
    # What the handler writes before the turn runs, then the process dies: no turn ran.
    from microsoft_agents.hosting.core import ClaimsIdentity

    identity = ClaimsIdentity({}, False, authentication_type="Anonymous")
    intake_id = world.bot._accept(json.loads(json.dumps(body)), identity)
    assert intake_id is not None and world.flow.questions_of(SOFIA) == []
    replayed = world._server.run(world.bot.replay())
    assert replayed == 1
    assert len(world.flow.questions_of(SOFIA)) == 1
    assert intake_rows(world)[-1][1] == "done"
    # A second start finds nothing left, and the same activity posted again by Teams
    # is not asked twice.
    assert world._server.run(world.bot.replay()) == 0
    world.post(body)
    assert len(world.flow.questions_of(SOFIA)) == 1
