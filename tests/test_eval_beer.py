"""The real thing: EVAL.md on the Beer StackExchange dump, router against every baseline.

A few minutes: it embeds the whole site once with the real model, and the router learns
its weights as the replay goes, only from answers given before each question.
"""

from __future__ import annotations

import pytest

from bot.evaluation.run import ROUTER, ROUTER_FROZEN, evaluate_stackexchange
from bot.evaluation.systems import BASELINES
from tests.conftest import SHARED_DATA

BEER = SHARED_DATA / "stackexchange-beer"


@pytest.mark.skipif(not BEER.is_dir(), reason=f"beer dump not found at {BEER}")
def test_the_router_beats_every_baseline_on_beer(tmp_path, encoder, settings):
    out = tmp_path / "rankings.jsonl"
    report = evaluate_stackexchange(BEER, settings, out, encoder=encoder)
    router = report.whole[ROUTER].means()
    assert report.whole[ROUTER].count == 250
    # Issue 6's bar, on the whole timeline.
    assert router["MRR"] >= 0.28
    assert router["Hit@5"] >= 0.45
    for name in BASELINES:
        baseline = report.whole[name].means()
        assert router["MRR"] > baseline["MRR"], name
        assert router["Hit@5"] > baseline["Hit@5"], name
        # Weights learned on the first half alone still beat every baseline on the second.
        frozen = report.second_half[ROUTER_FROZEN].means()
        assert frozen["MRR"] > report.second_half[name].means()["MRR"], name
    assert report.second_half[ROUTER_FROZEN].count == 125
    assert len(out.read_text().splitlines()) == 250
