"""Learning the router's weights from the org's own answered questions.

Every answered question is one training example: the feature table of the people who
could have been asked, as it was when the question was asked, and who answered. The model
is a conditional logit (a softmax over the candidates of each question, the listwise
form of learning to rank): it learns the weights under which the people who answered
score highest among those who could have. It is linear in the router's per-question
scaled features, so the learned model is an ordinary `LinearRanker`; no other model code
runs in the live bot.

`OnlineLearner` keeps examples as answers arrive and refits now and then: the evaluation
uses it to rank each question with a model trained only on answers given before that
question was asked, and the live bot with `Router.record_answer`. `whoknows train`
refits from a whole history at once (`train_from_history`).
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from bot.features import FEATURES, FeatureTable, ask_outcomes, to_epoch
from bot.ranking import LinearRanker, scale_per_question
from bot.settings import Settings
from data.store import Store
from embeddings.encoder import Encoder

# Until this many answered questions are known, the default weights rank.
MIN_EXAMPLES = 10
# Candidates kept per example besides those who answered: a random sample of the rest.
NEGATIVES = 100
# L2 pull of the (standardised) weights towards the prior, in units of "questions' worth".
L2 = 10.0
# Refit when this many new examples arrived, or the examples grew by this fraction.
REFIT_EVERY = 10
REFIT_GROWTH = 0.2
# Only the most recent examples are fitted: habits and people change.
MAX_EXAMPLES = 3000

META_KEY = "ranker"
SEEN_KEY = "ranker_questions_seen"


@dataclass(frozen=True)
class AnsweredQuestion:
    """One question from the org's history and who answered it: what `train` learns from.

    The lifecycle of the live bot produces these, and so does a replayed site.
    """

    question: str
    asker_id: str | None
    answerer_ids: tuple[str, ...]
    asked_at: str  # ISO time the question was asked
    answered_at: str | None = None  # ISO time of the (first useful) answer
    tags: tuple[str, ...] = ()


@dataclass
class Example:
    """The scaled features of a question's candidates, who answered, and from when the
    answer was known (a model may use the example only for questions asked later)."""

    rows: np.ndarray  # (k, len(FEATURES)) float32, scaled per question as the ranker does
    positive: np.ndarray  # (k,) bool
    known_at: float  # epoch seconds


def make_example(
    table: FeatureTable,
    eligible: np.ndarray,
    answerers: Sequence[int],
    known_at: float,
    rng: np.random.Generator,
    negatives: int = NEGATIVES,
) -> Example | None:
    """An example from one question's feature table, or None if nobody who answered was a
    candidate (they were new, say) or there is nobody to compare them with."""
    positive = np.zeros(len(eligible), dtype=bool)
    for i in answerers:
        if 0 <= i < len(eligible) and eligible[i]:
            positive[i] = True
    others = np.flatnonzero(eligible & ~positive)
    if not positive.any() or len(others) == 0:
        return None
    if len(others) > negatives:
        others = rng.choice(others, negatives, replace=False)
    keep = np.r_[np.flatnonzero(positive), np.sort(others)]
    scaled = scale_per_question(table.matrix, eligible)[keep]
    return Example(scaled.astype(np.float32), positive[keep], known_at)


def fit(
    examples: Sequence[Example],
    l2: float = L2,
    prior: LinearRanker | None = None,
    drop: Iterable[str] = (),
    fallback: LinearRanker | None = None,
) -> LinearRanker:
    """Fit a conditional logit: maximise, over examples, the mean log-probability of the
    people who answered under a softmax of the scores of all candidates.

    Features are standardised for the fit (so one L2 strength suits all) and the weights
    mapped back; `prior` is what the weights shrink towards (zero if None); features in
    `drop` are left out (weight 0), which is how the ablation removes a signal. A feature
    that never varies in the examples says nothing about its weight: it keeps its weight
    in `fallback` (0 without one), so a signal the history lacks (nobody was ever
    @mentioned in it, say) is not switched off by learning.
    """
    if not examples:
        raise ValueError("nothing to learn from")
    dropped = set(drop)
    cols = np.array([f not in dropped for f in FEATURES])
    x = np.vstack([e.rows for e in examples]).astype(np.float64)[:, cols]
    y = np.concatenate([e.positive for e in examples]).astype(np.float64)
    sizes = np.array([len(e.positive) for e in examples])
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    group = np.repeat(np.arange(len(examples)), sizes)
    n_groups = len(examples)
    mean, std = x.mean(axis=0), x.std(axis=0)
    live = std > 1e-9
    z = np.zeros_like(x)
    z[:, live] = (x[:, live] - mean[live]) / std[live]
    w_prior = np.zeros(x.shape[1])
    if prior is not None:
        w_prior = prior.weights[cols] * std
    pos_weight = y / np.add.reduceat(y, starts)[group]

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        s = z @ w
        top = np.maximum.reduceat(s, starts)  # examples are contiguous runs of rows
        e = np.exp(s - top[group])
        total = np.add.reduceat(e, starts)
        lse = top + np.log(total)
        p = e / total[group]
        value = (lse.sum() - pos_weight @ s) / n_groups
        grad = (p - pos_weight) @ z / n_groups
        d = w - w_prior
        return value + 0.5 * l2 * (d @ d) / n_groups, grad + l2 * d / n_groups

    with _one_blas_thread():  # tiny products: threads only fight over the cores
        result = minimize(loss, w_prior.copy(), jac=True, method="L-BFGS-B")
    kept = fallback.weights[cols] if fallback is not None else np.zeros(len(live))
    w = np.where(live, result.x / np.where(live, std, 1.0), kept)
    weights = np.zeros(len(FEATURES))
    weights[cols] = w
    return LinearRanker(weights)


def _known_at(example: Example) -> float:
    return example.known_at


def _one_blas_thread() -> AbstractContextManager[object]:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - it comes with scikit-learn
        return nullcontext()
    return threadpool_limits(1, user_api="blas")


@dataclass
class OnlineLearner:
    """Examples as answers become known, and a model refitted as they accumulate.

    `model(now)` is the ranker to use for a question asked at `now`: fitted only on
    examples known strictly before `now`, or the default ranker while there are fewer than
    `min_examples` of them.
    """

    default: LinearRanker
    drop: tuple[str, ...] = ()
    min_examples: int = MIN_EXAMPLES
    l2: float = L2
    max_examples: int = MAX_EXAMPLES
    examples: list[Example] = field(default_factory=list)
    fitted_on: int = 0  # examples known when last fitted, forgotten ones included
    fits: int = 0
    forgotten: int = 0
    _model: LinearRanker | None = None

    def add(self, example: Example) -> None:
        """Keep an example (it is used once `known_at` has passed)."""
        bisect.insort(self.examples, example, key=_known_at)

    def known_before(self, now: float) -> list[Example]:
        """The examples whose answers were known strictly before `now` (the latest
        `max_examples` of them), oldest first."""
        n = bisect.bisect_left(self.examples, now, key=_known_at)
        return self.examples[max(0, n - self.max_examples) : n]

    def model(self, now: float = math.inf) -> LinearRanker:
        """The ranker for a question asked at `now` (refitting first if it is due).

        Examples too old to be fitted again are forgotten, so ask in time order."""
        known = bisect.bisect_left(self.examples, now, key=_known_at)
        if known > 2 * self.max_examples:
            del self.examples[: known - self.max_examples]
            self.forgotten += known - self.max_examples
            known = self.max_examples
        n = known + self.forgotten
        if n < self.min_examples:
            return self.default
        # Never reuse a model fitted on answers from after `now` (asked about the past).
        due = (
            self._model is None
            or n < self.fitted_on
            or n - self.fitted_on >= max(REFIT_EVERY, REFIT_GROWTH * self.fitted_on)
        )
        if due:
            self._model = fit(
                self.known_before(now), self.l2, drop=self.drop, fallback=self.default
            )
            self.fitted_on = n
            self.fits += 1
        assert self._model is not None
        return self._model


# ------------------------------------------------------------------------ persistence


def model_json(ranker: LinearRanker, trained_on: int) -> str:
    """A learned ranker as JSON for the store's meta table."""
    return json.dumps(
        {
            "features": list(FEATURES),
            "weights": ranker.as_mapping(),
            "trained_on": trained_on,
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
        sort_keys=True,
    )


def ranker_from_json(text: str | None) -> tuple[LinearRanker | None, int]:
    """The ranker stored by `model_json` and how many questions it learned from; None if
    there is none, or it was learned on a different feature set (then defaults apply until
    `whoknows train` runs again)."""
    if not text:
        return None, 0
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None, 0
    if data.get("features") != list(FEATURES):
        return None, 0
    return LinearRanker.from_mapping(data["weights"]), int(data.get("trained_on", 0))


def load_ranker(store: Store) -> LinearRanker | None:
    """The learned ranker saved in the store by `whoknows train`, if any (and current)."""
    return ranker_from_json(store.get_meta(META_KEY))[0]


def save_ranker(store: Store, ranker: LinearRanker, trained_on: int) -> None:
    """Persist a learned ranker; routers pick it up on their next sync."""
    store.set_meta(META_KEY, model_json(ranker, trained_on))


# --------------------------------------------------------------------------- history


def lifecycle_history(store: Store) -> list[AnsweredQuestion]:
    """Questions asked through the bot and who answered them (the lifecycle's tables), or
    nothing if this database has no lifecycle yet."""
    tables = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if not {"questions", "answers"} <= tables:
        return []
    rows = store.db.execute(
        "SELECT q.id, q.text, q.asker_id, q.created_at, a.person_id, a.created_at "
        "FROM questions q JOIN answers a ON a.question_id = q.id "
        "WHERE a.person_id <> q.asker_id ORDER BY q.id, a.created_at"
    ).fetchall()
    grouped: dict[int, list[tuple]] = {}
    for row in rows:
        grouped.setdefault(row[0], []).append(row)
    history = []
    for answers in grouped.values():
        _, text, asker, asked_at, _, first_answer = answers[0]
        people = tuple(dict.fromkeys(a[4] for a in answers))
        history.append(AnsweredQuestion(text, asker, people, asked_at, first_answer))
    return history


def read_history(path: Path) -> list[AnsweredQuestion]:
    """Answered questions from a JSONL file: one object per line with `question`,
    `asker`, `answerer` (an id or a list of ids), `asked_at` and optional `answered_at`
    and `tags`."""
    history = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            answerers = record["answerer"]
            if isinstance(answerers, str):
                answerers = [answerers]
            history.append(
                AnsweredQuestion(
                    question=str(record["question"]),
                    asker_id=record.get("asker"),
                    answerer_ids=tuple(str(a) for a in answerers),
                    asked_at=str(record["asked_at"]),
                    answered_at=record.get("answered_at"),
                    tags=tuple(record.get("tags") or ()),
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError) as problem:
            raise ValueError(f"{path}:{number}: not an answered question ({problem})") from None
    return history


# -------------------------------------------------------------------------- training


@dataclass
class TrainResult:
    """What `train` did."""

    ranker: LinearRanker | None  # None: too little history, defaults stay
    questions: int  # answered questions offered
    examples: int  # of them, those whose answerer was a candidate


def history_examples(
    store: Store,
    encoder: Encoder,
    settings: Settings,
    history: Sequence[AnsweredQuestion],
    seed: int = 0,
) -> list[Example]:
    """One example per answered question, with features as they were when it was asked.

    The store's dated knowledge and ties are replayed in time order into a scratch store
    (undated ones count as always known; the directory is taken as it is now), so an
    answer never helps its own question: the same rule as the evaluation.
    """
    from bot.router import Router

    rng = np.random.default_rng(seed)
    ordered = sorted(history, key=lambda h: to_epoch(h.asked_at))
    if not ordered:
        return []
    scratch = Store(":memory:")
    scratch.upsert_people(store.people())
    router = Router(scratch, encoder, settings, ranker=LinearRanker(np.zeros(len(FEATURES))))
    items = sorted(store.knowledge(), key=lambda i: _when(i.created_at))
    contacts = sorted(store.contacts(), key=lambda c: _when(c.created_at))
    ids, _, matrix = store.vectors(encoder.model_id)
    vectors = dict(zip(ids, matrix, strict=True))
    questions = encoder.encode([h.question for h in ordered])
    asks = sorted(ask_outcomes(store), key=lambda a: _when(a.closed_at))
    ask_times = np.array([_when(a.closed_at) for a in asks])
    next_item = next_contact = 0
    examples = []
    for h, vector in zip(ordered, questions, strict=True):
        asked = to_epoch(h.asked_at)
        new_items = []
        while next_item < len(items) and _when(items[next_item].created_at) < asked:
            new_items.append(items[next_item])
            next_item += 1
        new_contacts = []
        while next_contact < len(contacts) and _when(contacts[next_contact].created_at) < asked:
            new_contacts.append(contacts[next_contact])
            next_contact += 1
        if new_items or new_contacts:
            with scratch.transaction():
                scratch.upsert_knowledge(new_items)
                scratch.upsert_contacts(new_contacts)
                scratch.save_vectors(
                    encoder.model_id,
                    ((i.id, i.content_hash(), vectors[i.id]) for i in new_items if i.id in vectors),
                )
            router.sync()
        if not h.question.strip():
            continue
        router.activity.set_ask_outcomes(asks[: int(np.searchsorted(ask_times, asked, "left"))])
        table = router.features(h.question, h.asker_id, now=asked, query_vector=vector, tags=h.tags)
        answerers = [router.people.get(a) for a in h.answerer_ids]
        known_at = to_epoch(h.answered_at) if h.answered_at else asked
        example = make_example(
            table,
            router.eligible(h.asker_id),
            [i for i in answerers if i is not None],
            known_at,
            rng,
        )
        if example is not None:
            examples.append(example)
    return examples


def train(
    store: Store,
    encoder: Encoder,
    settings: Settings,
    history: Sequence[AnsweredQuestion],
    save: bool = True,
) -> TrainResult:
    """Learn the router's weights from answered questions and (if `save`) persist them.

    With fewer than MIN_EXAMPLES usable examples nothing is saved: the defaults stay.
    """
    examples = history_examples(store, encoder, settings, history)
    if len(examples) < MIN_EXAMPLES:
        return TrainResult(None, len(history), len(examples))
    examples.sort(key=lambda e: e.known_at)
    ranker = fit(examples[-MAX_EXAMPLES:])
    if save:
        save_ranker(store, ranker, len(examples))
    return TrainResult(ranker, len(history), len(examples))


def retrain_if_due(store: Store, encoder: Encoder, settings: Settings) -> TrainResult | None:
    """Retrain from the lifecycle's answered questions when enough new ones arrived since
    the saved model (the same schedule as the eval's online learner); None if not due.

    Meant for the running bot's scheduler, so weights follow answers as they arrive.
    """
    history = lifecycle_history(store)
    seen = int(store.get_meta(SEEN_KEY) or 0)  # answered questions at the last training
    due = max(MIN_EXAMPLES, seen + max(REFIT_EVERY, REFIT_GROWTH * seen))
    if len(history) < due:
        return None
    result = train(store, encoder, settings, history)
    store.set_meta(SEEN_KEY, str(len(history)))
    return result


def _when(timestamp: str | None) -> float:
    """Epoch seconds; undated records sort first (they are always known)."""
    value = to_epoch(timestamp)
    return -math.inf if math.isnan(value) else value
