"""Words for ties, seen from one person's side: "your manager", "on your team"..."""

from __future__ import annotations

from collections.abc import Mapping

from graph.contact_graph import Tie


def relation_to(me: str, tie: Tie) -> str:
    """What the other person in `tie` is to `me`, as a short phrase.

    >>> relation_to("ann", Tie("ann", "bob", "manager", 1.0))
    'your manager'
    """
    other_is_b = tie.a == me
    if tie.kind == "manager":
        return "your manager" if other_is_b else "who reports to you"
    if tie.kind == "team":
        return "on your team"
    if tie.kind == "helped":
        return "whom you have helped" if other_is_b else "who has helped you before"
    if tie.kind == "interacted":
        return "who has worked with you"
    return "a contact of yours"


def describe_tie(tie: Tie, names: Mapping[str, str]) -> str:
    """A short sentence about a tie between two other people, e.g. "Tariq has helped Ingrid".

    `names` maps ids to the names to use (first names read best).
    """
    a, b = names.get(tie.a, tie.a), names.get(tie.b, tie.b)
    if tie.kind == "manager":
        return f"{a} reports to {b}"
    if tie.kind == "team":
        return f"{a} and {b} are on the same team"
    if tie.kind == "helped":
        return f"{a} has helped {b}"
    if tie.kind == "interacted":
        return f"{a} has worked with {b}"
    return f"{a} knows {b}"
