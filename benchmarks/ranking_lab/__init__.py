"""Ranking lab: offline, prequential experiments on the router's learner (see RESULTS.md)."""
