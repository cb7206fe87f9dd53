"""The contact graph: derived and explicit ties, closeness to an asker, and words for ties."""

from __future__ import annotations

import math

import numpy as np
import pytest

from data.models import Person
from data.person_index import PersonIndex
from graph.contact_graph import MAX_TEAM_CLIQUE, ContactGraph, Tie
from graph.relations import describe_tie, relation_to

# The default edge weights (bot.settings.EdgeWeights), spelled out so the numbers below add up.
KIND_WEIGHTS = {"manager": 1.0, "team": 0.6, "contact": 1.0, "helped": 1.5, "interacted": 1.0}


def graph(*ties: tuple) -> ContactGraph:
    """A graph from (a, b) contacts or (a, b, kind) / (a, b, kind, weight) ties."""
    g = ContactGraph(PersonIndex(), KIND_WEIGHTS)
    for a, b, *kind_and_weight in ties:
        g.add_tie(a, b, *(kind_and_weight or ["contact"]))
    return g


def by_id(g: ContactGraph, values: np.ndarray) -> dict[str, float]:
    """An array indexed like the graph's PersonIndex, as {person id: value} for non-zeros."""
    return {pid: float(values[i]) for i, pid in enumerate(g.people.ids) if values[i]}


def kinds(g: ContactGraph, a: str, b: str) -> list[str]:
    return [t.kind for t in g.ties(a, b)]


def org(**changes: dict) -> list[Person]:
    """A small org: Maya leads; Ann manages Bob and Cat on Platform. `changes` edit people."""
    people = {
        "maya": {"team": "Leadership"},
        "ann": {"team": "Platform", "manager_id": "maya"},
        "bob": {"team": "Platform", "manager_id": "ann"},
        "cat": {"team": "Platform", "manager_id": "ann"},
    }
    for pid, fields in changes.items():
        people[pid] = {**people[pid], **fields}
    return [Person(id=pid, name=pid.capitalize(), **fields) for pid, fields in people.items()]


# ----------------------------------------------------------------- the directory


def test_the_directory_gives_manager_and_same_team_ties():
    g = graph()

    derived = g.derive_from_directory(org())

    assert derived == 3 + 3  # three people have a manager; Platform has three pairs
    assert kinds(g, "bob", "ann") == ["manager", "team"]
    assert g.ties("bob", "ann")[0] == Tie("bob", "ann", "manager", 1.0)
    assert kinds(g, "bob", "cat") == ["team"]
    assert kinds(g, "ann", "maya") == ["manager"]
    assert kinds(g, "bob", "maya") == []
    assert g.tie_count() == 4


def test_rederiving_after_a_change_replaces_the_old_manager_and_team_ties():
    g = graph(("bob", "cat", "contact"))
    g.derive_from_directory(org())
    assert by_id(g, g.proximity("bob").direct).keys() == {"ann", "cat"}

    g.derive_from_directory(org(bob={"team": "Leadership", "manager_id": "maya"}))

    assert kinds(g, "bob", "ann") == []
    assert kinds(g, "bob", "maya") == ["manager", "team"]
    assert kinds(g, "bob", "cat") == ["contact"]  # explicit ties survive
    assert kinds(g, "cat", "ann") == ["manager", "team"]
    assert by_id(g, g.proximity("bob").direct).keys() == {"maya", "cat"}


def test_teams_larger_than_the_clique_limit_are_not_linked_member_to_member():
    big = [f"big{n:02}" for n in range(MAX_TEAM_CLIQUE + 1)]
    small = [f"small{n:02}" for n in range(MAX_TEAM_CLIQUE)]
    people = [Person(id="boss", name="Boss")]
    people += [Person(id=p, name=p, team="Everyone", manager_id="boss") for p in big]
    people += [Person(id=p, name=p, team="Squad") for p in small]
    g = graph()

    derived = g.derive_from_directory(people)

    assert derived == len(big) + len(small) * (len(small) - 1) // 2
    assert kinds(g, "big00", "big01") == []
    assert kinds(g, "big00", "boss") == ["manager"]
    assert kinds(g, "small00", "small49") == ["team"]


# --------------------------------------------------------------------- closeness


def test_proximity_scores_direct_contacts_contacts_of_contacts_and_shared_contacts():
    #   ann - bob - dan - eve        fay knows nobody
    #     \        /
    #      - cat -
    g = graph(("ann", "bob"), ("ann", "cat"), ("bob", "dan"), ("cat", "dan"), ("dan", "eve"))
    g.people.add("fay")

    near = g.proximity("ann")

    assert by_id(g, near.direct) == {"bob": 1.0, "cat": 1.0}
    assert by_id(g, near.two_hop).keys() == {"dan"}
    assert by_id(g, near.shared) == {"dan": 2.0}
    assert dict(zip(g.people.ids, near.hops().tolist(), strict=True)) == {
        "ann": 0, "bob": 1, "cat": 1, "dan": 2, "eve": 0, "fay": 0,
    }  # fmt: skip


def test_the_asker_is_not_close_to_themself():
    g = graph(("ann", "bob"), ("bob", "cat"), ("cat", "ann"))

    near = g.proximity("ann")
    ann = g.people.get("ann")

    assert near.direct[ann] == near.two_hop[ann] == near.shared[ann] == 0


def test_tie_strength_adds_up_over_kinds_with_diminishing_returns_on_weight():
    g = graph(("ann", "bob", "contact", 1.0), ("ann", "cat", "contact", 3.0))
    g.add_tie("ann", "cat", "helped", 1.0)

    assert by_id(g, g.proximity("ann").direct) == {
        "bob": 1.0,  # log2(1 + 1)
        "cat": pytest.approx(2.0 + 1.5),  # log2(1 + 3), plus 1.5 for having helped
    }


def test_a_hub_in_between_counts_for_less_than_a_low_degree_contact():
    # ann knows lou (who knows only tom) and hub (who knows sue and eight others).
    g = graph(("ann", "lou"), ("lou", "tom"), ("ann", "hub"), ("hub", "sue"))
    for n in range(8):
        g.add_tie("hub", f"other{n}", "contact")

    two_hop = by_id(g, g.proximity("ann").two_hop)

    assert two_hop["tom"] == pytest.approx(1 / math.log(2 + 2))
    assert two_hop["sue"] == pytest.approx(1 / math.log(2 + 10))
    assert two_hop["tom"] > two_hop["sue"]


@pytest.mark.parametrize("asker", ["ghost", None])
def test_an_unknown_asker_is_close_to_nobody(asker):
    g = graph(("ann", "bob"), ("bob", "cat"))

    near = g.proximity(asker)

    for values in (near.direct, near.two_hop, near.shared):
        assert values.shape == (3,) and not values.any()
    assert "ghost" not in g.people


def test_best_intermediary_is_the_contact_on_the_strongest_path():
    g = graph(
        ("ann", "max", "contact", 1.0), ("max", "tom", "contact", 1.0),
        ("ann", "liv", "helped", 3.0), ("liv", "tom", "contact", 3.0),
        ("ann", "bob"),
    )  # fmt: skip

    assert g.best_intermediary("ann", "tom") == "liv"
    assert g.best_intermediary("tom", "ann") == "liv"
    assert g.best_intermediary("ann", "bob") is None  # a direct contact, nobody in between
    assert g.best_intermediary("ann", "ghost") is None


def test_shortest_paths_reach_no_further_than_max_hops():
    g = graph(("ann", "bob"), ("bob", "cat"), ("cat", "dan"), ("dan", "eve"), ("ann", "cat"))

    def paths(max_hops: int) -> dict[str, list[str]]:
        found = g.shortest_paths_from("ann", max_hops)
        return {g.people.ids[k]: [g.people.ids[i] for i in p] for k, p in found.items()}

    assert paths(1) == {"ann": ["ann"], "bob": ["ann", "bob"], "cat": ["ann", "cat"]}
    assert paths(2)["dan"] == ["ann", "cat", "dan"]
    assert "eve" not in paths(2)
    assert paths(3)["eve"] == ["ann", "cat", "dan", "eve"]
    assert g.shortest_paths_from("ghost", 3) == {}


# ------------------------------------------------------------------------- ties


def test_ties_come_strongest_kind_first_and_helping_each_way_is_two_ties():
    g = graph(
        ("ann", "bob", "team"),
        ("ann", "bob", "contact", 1.0),
        ("ann", "bob", "helped", 3.0),
        ("bob", "ann", "helped", 1.0),
    )

    assert g.ties("bob", "ann") == [
        Tie("ann", "bob", "helped", 3.0),  # 1.5 * log2(4) = 3.0
        Tie("bob", "ann", "helped", 1.0),  # 1.5
        Tie("ann", "bob", "contact", 1.0),  # 1.0
        Tie("ann", "bob", "team", 1.0),  # 0.6
    ]
    assert g.tie_count() == 1


def test_a_symmetric_tie_written_the_other_way_round_replaces_the_first():
    g = graph(("ann", "bob", "contact", 1.0), ("bob", "ann", "contact", 3.0))

    assert [(t.kind, t.weight) for t in g.ties("ann", "bob")] == [("contact", 3.0)]


def test_ties_with_someone_unknown_are_empty():
    g = graph(("ann", "bob"))

    assert g.ties("ann", "ghost") == []
    assert g.ties("ann", "ann") == []


# ------------------------------------------------------------------------ words


@pytest.mark.parametrize(
    ("tie", "phrase"),
    [
        (Tie("ann", "bob", "manager", 1.0), "your manager"),
        (Tie("bob", "ann", "manager", 1.0), "who reports to you"),
        (Tie("ann", "bob", "team", 1.0), "on your team"),
        (Tie("bob", "ann", "team", 1.0), "on your team"),
        (Tie("ann", "bob", "helped", 1.0), "whom you have helped"),
        (Tie("bob", "ann", "helped", 1.0), "who has helped you before"),
        (Tie("bob", "ann", "interacted", 1.0), "who has worked with you"),
        (Tie("ann", "bob", "contact", 1.0), "a contact of yours"),
    ],
)
def test_relation_to_says_what_the_other_person_is_to_me(tie, phrase):
    assert relation_to("ann", tie) == phrase


@pytest.mark.parametrize(
    ("kind", "sentence"),
    [
        ("manager", "Tariq reports to Ingrid"),
        ("team", "Tariq and Ingrid are on the same team"),
        ("helped", "Tariq has helped Ingrid"),
        ("interacted", "Tariq has worked with Ingrid"),
        ("contact", "Tariq knows Ingrid"),
    ],
)
def test_describe_tie_says_how_two_other_people_are_connected(kind, sentence):
    names = {"tariq.hussain": "Tariq", "ingrid.larsen": "Ingrid"}

    assert describe_tie(Tie("tariq.hussain", "ingrid.larsen", kind, 1.0), names) == sentence


def test_describe_tie_falls_back_to_ids_without_names():
    assert describe_tie(Tie("tariq", "ingrid", "helped", 2.0), {}) == "tariq has helped ingrid"


def test_derived_manager_ties_read_right_from_both_sides():
    g = graph()
    g.derive_from_directory(org())
    manager_tie = g.ties("ann", "bob")[0]

    assert relation_to("bob", manager_tie) == "your manager"
    assert relation_to("ann", manager_tie) == "who reports to you"
    assert describe_tie(manager_tie, {"bob": "Bob", "ann": "Ann"}) == "Bob reports to Ann"


# ------------------------------------------------------------------- at org scale


def test_adding_ties_in_bulk_is_the_same_as_one_by_one():
    rows = [
        ("ann", "bob", "contact", 1.0),
        ("cat", "bob", "helped", 2.0),
        ("bob", "ann", "contact", 3.0),  # replaces the first row: later rows win
        ("bob", "cat", "helped", 1.0),  # the other direction: a second tie
        ("dan", "dan", "contact", 1.0),  # a self tie is ignored
    ]
    one_by_one = graph(*rows)
    bulk = ContactGraph(PersonIndex(), KIND_WEIGHTS)

    bulk.add_ties(*(list(column) for column in zip(*rows, strict=True)))

    for a, b in [("ann", "bob"), ("bob", "cat"), ("ann", "cat")]:
        assert bulk.ties(a, b) == one_by_one.ties(a, b)
    assert (bulk.adjacency() != one_by_one.adjacency()).nnz == 0
    assert bulk.tie_count() == 2


def test_deriving_from_columns_matches_deriving_from_people():
    people = org()
    from_people, from_columns = graph(), graph()

    from_people.derive_from_directory(people)
    derived = from_columns.derive_from_columns(
        [p.id for p in people], [p.manager_id for p in people], [p.team for p in people]
    )

    assert derived == 6 and from_columns.people.ids == from_people.people.ids
    assert (from_columns.adjacency() != from_people.adjacency()).nnz == 0


def test_shortest_paths_can_be_asked_for_a_few_targets_only():
    g = graph(("ann", "bob"), ("bob", "cat"), ("cat", "dan"), ("dan", "eve"))
    dan, eve = g.people.get("dan"), g.people.get("eve")

    found = g.shortest_paths_from("ann", 3, targets=[dan, eve])

    assert found == {dan: [g.people.get(p) for p in ("ann", "bob", "cat", "dan")]}


def test_proximity_on_a_graph_grown_from_many_rows():
    rng = np.random.default_rng(0)
    n = 2000
    a, b = rng.integers(0, n, 20_000), rng.integers(0, n, 20_000)
    g = ContactGraph(PersonIndex(), KIND_WEIGHTS)
    g.add_ties([f"p{x}" for x in a], [f"p{y}" for y in b], ["contact"] * len(a), [1.0] * len(a))
    adj = g.adjacency()
    asker = g.people.get("p0")

    near = g.proximity("p0")

    assert np.allclose(near.direct, adj[asker].toarray().ravel())
    binary = (adj > 0).astype(float)
    shared = (binary[asker] @ binary).toarray().ravel()
    shared[asker] = 0
    assert np.allclose(near.shared, shared)


def test_paths_to_a_few_targets_are_as_short_as_the_full_search_finds():
    rng = np.random.default_rng(1)
    n = 300
    a, b = rng.integers(0, n, 450), rng.integers(0, n, 450)
    g = ContactGraph(PersonIndex(), KIND_WEIGHTS)
    g.add_ties([f"p{x}" for x in a], [f"p{y}" for y in b], ["contact"] * len(a), [1.0] * len(a))
    asker = g.people.ids[0]
    for max_hops in (1, 2, 3, 4):
        everyone = g.shortest_paths_from(asker, max_hops)
        targets = list(range(len(g.people)))

        some = g.shortest_paths_from(asker, max_hops, targets=targets)

        assert some.keys() == everyone.keys()
        for t, path in some.items():
            assert len(path) == len(everyone[t]) and path[0] == 0 and path[-1] == t
            ids = [g.people.ids[k] for k in path]
            assert all(g.ties(ids[k], ids[k + 1]) for k in range(len(ids) - 1))
