"""Routing-quality evaluation: replaying dumps and scoring rankings (see EVAL.md)."""
