"""Learning to rank from answered questions: the model, the online learner, persistence,
and `train` replaying a live store's own history."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bot.features import FEATURE_GROUPS, FEATURES
from bot.ranking import LinearRanker
from bot.router import Router
from bot.settings import Settings
from bot.training import (
    MIN_EXAMPLES,
    REFIT_EVERY,
    AnsweredQuestion,
    Example,
    OnlineLearner,
    fit,
    history_examples,
    load_ranker,
    model_json,
    ranker_from_json,
    read_history,
    retrain_if_due,
    save_ranker,
    train,
)
from data.models import Contact, KnowledgeItem, Person
from data.store import Store
from embeddings.indexer import index_pending


def _synthetic(n_questions: int, true: np.ndarray, rng: np.random.Generator, when: float = 0.0):
    """Questions whose answerer is drawn from a softmax of `true` weights."""
    examples = []
    for q in range(n_questions):
        rows = rng.random((40, len(FEATURES)))
        p = np.exp(rows @ true)
        p /= p.sum()
        positive = np.zeros(40, dtype=bool)
        positive[rng.choice(40, p=p)] = True
        examples.append(Example(rows.astype(np.float32), positive, when + q))
    return examples


def test_fit_recovers_which_features_matter():
    rng = np.random.default_rng(1)
    true = np.zeros(len(FEATURES))
    true[FEATURES.index("act_recent_answers")] = 4.0
    true[FEATURES.index("lex_top5")] = 2.0
    learned = fit(_synthetic(400, true, rng), l2=1.0).as_mapping()
    best = sorted(learned, key=lambda f: -learned[f])[:2]
    assert set(best) == {"act_recent_answers", "lex_top5"}
    assert learned["act_recent_answers"] > learned["lex_top5"] > 0


def test_dropped_features_weigh_nothing():
    rng = np.random.default_rng(2)
    true = np.ones(len(FEATURES))
    learned = fit(_synthetic(50, true, rng), drop=FEATURE_GROUPS["network"]).as_mapping()
    assert all(learned[f] == 0.0 for f in FEATURE_GROUPS["network"])
    assert learned["sem_max"] != 0.0


def test_the_online_learner_uses_only_answers_known_before_the_question():
    rng = np.random.default_rng(3)
    default = LinearRanker(np.zeros(len(FEATURES)))
    learner = OnlineLearner(default)
    for example in _synthetic(MIN_EXAMPLES + REFIT_EVERY, np.ones(len(FEATURES)), rng, 100.0):
        learner.add(example)
    # Examples are known at 100, 101, ...: before 100 + MIN_EXAMPLES there are too few.
    assert learner.model(now=100.0 + MIN_EXAMPLES - 1) is default
    assert learner.model(now=100.0 + MIN_EXAMPLES) is not default
    assert learner.fitted_on == MIN_EXAMPLES
    later = learner.model(now=1000.0)
    assert learner.fitted_on == MIN_EXAMPLES + REFIT_EVERY
    # Asking about an earlier moment never reuses a model fitted on later answers.
    assert learner.model(now=50.0) is default
    assert learner.model(now=100.0 + MIN_EXAMPLES) is not later
    assert learner.fitted_on == MIN_EXAMPLES


def test_a_learned_model_round_trips_through_the_store():
    store = Store(":memory:")
    assert load_ranker(store) is None
    ranker = LinearRanker.from_mapping({"act_recency": 2.0, "lex_top5": 0.5})
    save_ranker(store, ranker, trained_on=42)
    loaded = load_ranker(store)
    assert loaded is not None
    assert loaded.as_mapping() == ranker.as_mapping()
    assert ranker_from_json(store.get_meta("ranker"))[1] == 42


def test_a_model_of_another_feature_set_is_ignored():
    text = json.loads(model_json(LinearRanker.from_mapping({"lex_max": 1.0}), 3))
    text["features"] = ["lex_max", "something_else"]
    assert ranker_from_json(json.dumps(text)) == (None, 0)
    assert ranker_from_json("not json") == (None, 0)


def test_history_file_is_read_and_checked(tmp_path):
    path = tmp_path / "history.jsonl"
    path.write_text(
        json.dumps(
            {"question": "q?", "asker": "a", "answerer": "b", "asked_at": "2024-01-01T10:00:00"}
        )
        + "\n"
        + json.dumps(
            {"question": "r?", "asker": "a", "answerer": ["b", "c"], "asked_at": "2024-01-02"}
        )
        + "\n"
    )
    history = read_history(path)
    assert [h.answerer_ids for h in history] == [("b",), ("b", "c")]
    path.write_text('{"question": "no answerer"}\n')
    with pytest.raises(ValueError, match=r"history\.jsonl:1"):
        read_history(path)


# ------------------------------------------------------------- a small org with history

TOPICS = {
    "ana": "kubernetes helm pods deployment rollout",
    "ben": "postgres database index vacuum query plan",
    "cy": "react frontend css components hooks",
}


@pytest.fixture
def org(encoder, tmp_path) -> Store:
    store = Store(tmp_path / "org.db")
    people = [Person(id=p, name=p.title()) for p in [*TOPICS, "dee", "eve"]]
    store.upsert_people(people)
    items = []
    for day in range(1, 25):
        for person, topic in TOPICS.items():
            items.append(
                KnowledgeItem(
                    id=f"{person}-{day}",
                    person_id=person,
                    text=f"Notes on {topic}, part {day}",
                    kind="answer",
                    created_at=f"2024-03-{day:02d}T12:00:00",
                )
            )
    store.upsert_knowledge(items)
    store.upsert_contacts([Contact(a="dee", b="ana", created_at="2024-03-01")])
    index_pending(store, encoder)
    return store


def _history() -> list[AnsweredQuestion]:
    history = []
    for day in range(2, 25):
        for person, topic in TOPICS.items():
            history.append(
                AnsweredQuestion(
                    question=f"question about {topic.split()[day % 3]}",
                    asker_id="dee" if day % 2 else "eve",
                    answerer_ids=(person,),
                    asked_at=f"2024-03-{day:02d}T09:00:00",
                    answered_at=f"2024-03-{day:02d}T10:00:00",
                )
            )
    return history


def test_history_features_are_those_of_the_moment_the_question_was_asked(org, encoder):
    settings = Settings(_env_file=None)
    first = [h for h in _history() if h.asked_at.startswith("2024-03-02")]
    examples = history_examples(org, encoder, settings, first)
    assert len(examples) == 3
    items = FEATURES.index("act_items")
    for example in examples:
        # On March 2nd at 9:00 each expert had written one item (March 1st), not 24; the
        # scaled count of the best candidate is 1 and nobody has more.
        assert example.rows[:, items].max() == pytest.approx(1.0)
        assert example.positive.sum() == 1


def test_train_learns_saves_and_the_router_picks_it_up(org, encoder):
    settings = Settings(_env_file=None)
    router = Router(org, encoder, settings)
    default = router.ranker.as_mapping()
    result = train(org, encoder, settings, _history())
    assert result.ranker is not None
    assert result.examples == len(_history())
    assert load_ranker(org) is not None
    router.sync()
    assert router.ranker.as_mapping() == result.ranker.as_mapping() != default
    top = router.rank("how do I roll back a helm deployment", "eve", limit=1)[0]
    assert top.person.id == "ana"


def test_too_little_history_keeps_the_defaults(org, encoder):
    settings = Settings(_env_file=None)
    result = train(org, encoder, settings, _history()[:3])
    assert result.ranker is None
    assert load_ranker(org) is None


def test_a_router_given_a_ranker_keeps_it(org, encoder):
    settings = Settings(_env_file=None)
    save_ranker(org, LinearRanker.from_mapping({"act_items": 1.0}), 10)
    mine = LinearRanker.from_mapping({"lex_max": 1.0})
    assert Router(org, encoder, settings, ranker=mine).ranker is mine
    assert Router(org, encoder, settings).ranker.as_mapping()["act_items"] == 1.0


def test_asks_answered_or_ignored_make_people_more_or_less_responsive(org, encoder):
    # The question lifecycle's asks, one question each (nobody is asked twice for one).
    outcomes = [("ana", "answered")] * 3 + [("ben", "expired")] * 3
    outcomes += [("cy", "passed"), ("cy", "referred"), ("cy", "pending")]
    for n, (person, state) in enumerate(outcomes, 1):
        org.db.execute(
            "INSERT INTO questions(id, asker_id, text, origin, state, created_at, updated_at) "
            "VALUES (?, 'dee', 'q?', 'ask', 'routing', '2024-03-05', '2024-03-05')",
            (n,),
        )
        org.db.execute(
            "INSERT INTO asks(question_id, person_id, hop, state, created_at, send_after, "
            "due_at, closed_at) VALUES (?, ?, 1, ?, '2024-03-05', '2024-03-05', '2024-03-06', "
            "'2024-03-05')",
            (n, person, state),
        )
    router = Router(org, encoder, Settings(_env_file=None))
    rate = router.features("helm rollout", "dee").column("resp_ask_rate")
    ana, ben, cy, dee = (router.people.get(p) for p in ("ana", "ben", "cy", "dee"))
    assert rate[ana] > rate[cy] == rate[dee] > rate[ben]


def test_examples_too_old_to_be_fitted_again_are_forgotten():
    rng = np.random.default_rng(4)
    learner = OnlineLearner(LinearRanker(np.zeros(len(FEATURES))), max_examples=20)
    for example in _synthetic(70, np.ones(len(FEATURES)), rng, 0.0):
        learner.add(example)
    learner.model(now=100.0)
    assert len(learner.examples) == 20 and learner.forgotten == 50
    assert learner.fitted_on == 70
    assert [e.known_at for e in learner.known_before(100.0)] == list(range(50, 70))


Q = (
    "INSERT INTO questions(id, text, asker_id, created_at, origin, state, updated_at) "
    "VALUES (?, ?, ?, ?, 'ask', 'answered', '')"
)
A = "INSERT INTO answers(id, question_id, person_id, created_at, text) VALUES (?, ?, ?, ?, '')"


def test_the_running_bot_retrains_once_enough_new_answers_arrived(org, encoder):
    # The lifecycle's tables, as far as training reads them (one answer below is by
    # someone outside the directory, which the foreign keys would refuse).
    org.db.execute("PRAGMA foreign_keys = OFF")
    settings = Settings(_env_file=None)
    history = _history()
    for n, h in enumerate(history[: MIN_EXAMPLES - 1]):
        org.db.execute(Q, (n, h.question, h.asker_id, h.asked_at))
        org.db.execute(A, (n, n, h.answerer_ids[0], h.answered_at))
    assert retrain_if_due(org, encoder, settings) is None
    h = history[MIN_EXAMPLES]
    org.db.execute(Q, (99, h.question, h.asker_id, h.asked_at))
    org.db.execute(A, (99, 99, h.answerer_ids[0], h.answered_at))
    result = retrain_if_due(org, encoder, settings)
    assert result is not None and result.ranker is not None
    assert ranker_from_json(org.get_meta("ranker"))[1] == MIN_EXAMPLES
    assert retrain_if_due(org, encoder, settings) is None  # nothing new since
    # Answers that teach nothing (by someone outside the directory) are not retried on every
    # call: the next training waits for 10 more answered questions.
    for n in range(100, 100 + REFIT_EVERY):
        org.db.execute(Q, (n, "q?", "dee", "2024-03-30T09:00:00"))
        org.db.execute(A, (n, n, "ghost", "2024-03-30T10:00:00"))
    assert retrain_if_due(org, encoder, settings) is not None
    assert retrain_if_due(org, encoder, settings) is None


def test_whoknows_train_learns_from_a_history_file(org, tmp_path):
    from typer.testing import CliRunner

    from bot.cli import app

    path = tmp_path / "answered.jsonl"
    lines = [
        {
            "question": h.question,
            "asker": h.asker_id,
            "answerer": list(h.answerer_ids),
            "asked_at": h.asked_at,
            "answered_at": h.answered_at,
        }
        for h in _history()
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    db = ["--db", str(tmp_path / "org.db")]
    result = CliRunner().invoke(app, ["train", "--history", str(path), *db])
    assert result.exit_code == 0, result.output
    assert f"learned from {len(lines)} answered question(s)" in result.output
    assert load_ranker(Store(tmp_path / "org.db")) is not None
    path.write_text('{"question": "x"}\n')
    result = CliRunner().invoke(app, ["train", "--history", str(path), *db])
    assert result.exit_code == 1 and "answered.jsonl:1" in result.output
