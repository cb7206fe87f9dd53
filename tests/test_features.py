"""The non-text features: counts, tags, recency, help given and asks answered."""

from __future__ import annotations

import numpy as np
import pytest

from bot.features import FEATURES, ActivityStats, build_features, to_epoch
from data.models import Contact, KnowledgeItem
from data.person_index import PersonIndex
from embeddings.expertise import ExpertiseScores, soft_max_by_group
from graph.contact_graph import Proximity


def _item(item_id, person, kind="answer", day=1, tags=()):
    return KnowledgeItem(
        id=item_id,
        person_id=person,
        text="x",
        kind=kind,
        tags=list(tags),
        created_at=f"2024-01-{day:02d}T00:00:00",
    )


@pytest.fixture
def stats() -> ActivityStats:
    s = ActivityStats(PersonIndex())
    s.observe_item(_item("a1", "ann", tags=["india-pale-ale", "hops"]))
    s.observe_item(_item("a2", "ann", tags=["hops"]))
    s.observe_item(_item("b1", "bo", tags=["wine"], day=20))
    s.observe_item(_item("b2", "bo", kind="question", tags=["hops"], day=21))
    return s


def _table(stats: ActivityStats, now: str, tags=(), asker=None):
    n = len(stats.people)
    zeros = np.zeros(n)
    expertise = ExpertiseScores(zeros, zeros, zeros, zeros)
    proximity = Proximity(zeros, zeros, zeros)
    return build_features(expertise, proximity, stats, to_epoch(now), tags=tags, asker=asker)


def test_question_tags_are_found_in_its_words(stats):
    assert stats.question_tags("Best hops for an India Pale Ale?") == ["hops", "india-pale-ale"]
    assert stats.question_tags("anything", tags=["Wine"]) == ["wine"]


def test_tag_features_count_answers_on_the_question_tags(stats):
    table = _table(stats, "2024-02-01", tags=["hops"])
    ann, bo = stats.people.get("ann"), stats.people.get("bo")
    answers = table.column("tag_answers")
    assert answers[ann] > 0 and answers[bo] == 0  # bo only asked about hops
    assert table.column("tag_items")[bo] > 0
    assert table.column("tag_focus")[ann] == 1.0
    assert table.column("resp_answer_share")[ann] > table.column("resp_answer_share")[bo]


def test_a_changed_item_replaces_its_old_counts(stats):
    stats.observe_item(_item("a2", "ann", kind="comment", tags=["wine"]))
    ann = stats.people.get("ann")
    assert stats.answers[ann] == 1 and stats.items[ann] == 2
    table = _table(stats, "2024-02-01", tags=["wine"])
    assert table.column("tag_items")[ann] > 0


def test_recent_answers_weigh_more_than_old_ones(stats):
    stats.observe_item(_item("b3", "bo", day=25))
    ann, bo = stats.people.get("ann"), stats.people.get("bo")
    soon = _table(stats, "2024-01-26").column("act_recent_answers")
    later = _table(stats, "2024-12-26").column("act_recent_answers")
    # Two old answers against one recent one: close now, both fade with time.
    assert soon[bo] > 0 and later[bo] < soon[bo] and later[ann] < soon[ann]


def test_help_given_to_this_asker_counts(stats):
    stats.observe_contact(Contact(a="bo", b="ann", kind="helped", weight=3))
    stats.observe_contact(Contact(a="ann", b="bo", kind="contact"))
    ann, bo = stats.people.get("ann"), stats.people.get("bo")
    helped = _table(stats, "2024-02-01", asker=ann).column("net_helped")
    assert helped[bo] == pytest.approx(np.log1p(3)) and helped[ann] == 0
    assert not _table(stats, "2024-02-01", asker=bo).column("net_helped").any()


def test_every_feature_is_a_column():
    stats = ActivityStats(PersonIndex())
    stats.observe_item(_item("a1", "ann"))
    assert _table(stats, "2024-02-01").matrix.shape == (1, len(FEATURES))


def test_the_soft_maximum_rewards_several_good_items():
    groups = np.array([0, 1, 1, 1])
    scores = np.array([0.6, 0.6, 0.55, 0.55])
    soft = soft_max_by_group(groups, scores, 3, 20.0)
    assert soft[0] == pytest.approx(0.6)  # one item: its own similarity
    assert soft[1] > 0.6 and soft[2] == 0.0
