"""Run each evaluation replay once and save every question's feature table as .npz.

    .venv/bin/python -m benchmarks.ranking_lab.dump stackexchange ../shared/data/stackexchange-beer
    .venv/bin/python -m benchmarks.ranking_lab.dump slack ../shared/data/slack-racket/2017.zip
    .venv/bin/python -m benchmarks.ranking_lab.dump slack ../shared/data/slack-racket/2018.zip

The replays are the product's own (`ChatReplay.walk`, `Replay.walk`), so the tables are
exactly what `whoknows eval` ranks. Per question, in time order, the file holds:

- `X`: the dense feature matrix of everyone known at that moment (float32, rows of all
  questions stacked; question q owns rows `offsets[q]:offsets[q + 1]`), `eligible` alike;
- `evaluable`, `gold` (row index of the scored person, -1 if none), `asked_at`;
- `learn_*`: the positives and `learn_known_at` exactly as the eval's learner uses them
  (chat: the gold, known at its first reply; SE: every candidate who answered, known at
  the last of those answers);
- `pos_*`: every other-person replier / answerer with the time their reply became known
  (chat: gold first; SE: in answer order) and their nDCG gain (`pos_gain`);
- `base_<i>`: each baseline's top-100 as row indexes (-1 padded), named in `baselines`.

Row indexes are person indexes of the router's PersonIndex, which only grows, so the
people of question q are `ids[:n_people[q]]`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bot.encoding import encoder_from_settings
from bot.features import FEATURES, to_epoch
from bot.ranking import LinearRanker
from bot.settings import get_settings
from bot.training import OnlineLearner

OUT = Path("/tmp/ranking_lab")
TOP_K = 100


@dataclass
class DumpWriter:
    """Accumulates per-question arrays and writes them as one .npz."""

    blocks: list[np.ndarray] = field(default_factory=list)
    masks: list[np.ndarray] = field(default_factory=list)
    n_people: list[int] = field(default_factory=list)
    evaluable: list[bool] = field(default_factory=list)
    gold: list[int] = field(default_factory=list)
    asked_at: list[float] = field(default_factory=list)
    qid: list[str] = field(default_factory=list)
    learn_rows: list[list[int]] = field(default_factory=list)
    learn_known_at: list[float] = field(default_factory=list)
    pos_rows: list[list[int]] = field(default_factory=list)
    pos_times: list[list[float]] = field(default_factory=list)
    pos_gain: list[list[int]] = field(default_factory=list)
    baselines: dict[str, list[np.ndarray]] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)

    def add(
        self,
        qid: str,
        matrix: np.ndarray,
        eligible: np.ndarray,
        ids: Sequence[str],
        evaluable: bool,
        gold: int,
        asked_at: float,
        learn_rows: Sequence[int],
        learn_known_at: float,
        positives: Sequence[tuple[int, float, int]],
        baselines: dict[str, list[str]],
    ) -> None:
        """One question: its table, who is scored and learned from, the baselines' lists."""
        if list(ids[: len(self.ids)]) != self.ids:
            raise AssertionError("person index is not append-only")
        self.ids = list(ids)
        index = {pid: i for i, pid in enumerate(ids)}
        self.qid.append(qid)
        self.blocks.append(np.asarray(matrix, dtype=np.float32))
        self.masks.append(np.asarray(eligible, dtype=bool))
        self.n_people.append(len(ids))
        self.evaluable.append(evaluable)
        self.gold.append(gold)
        self.asked_at.append(asked_at)
        self.learn_rows.append(list(learn_rows))
        self.learn_known_at.append(learn_known_at)
        self.pos_rows.append([p[0] for p in positives])
        self.pos_times.append([p[1] for p in positives])
        self.pos_gain.append([p[2] for p in positives])
        for name, ranking in baselines.items():
            rows = np.full(TOP_K, -1, dtype=np.int32)
            found = [index.get(pid, -1) for pid in ranking[:TOP_K]]
            rows[: len(found)] = found
            self.baselines.setdefault(name, []).append(rows)

    def save(self, path: Path, meta: dict[str, str]) -> None:
        """Write everything as one compressed .npz."""
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {
            "X": np.vstack(self.blocks),
            "eligible": np.concatenate(self.masks),
            "offsets": np.r_[0, np.cumsum(self.n_people)].astype(np.int64),
            "n_people": np.array(self.n_people, dtype=np.int64),
            "evaluable": np.array(self.evaluable, dtype=bool),
            "gold": np.array(self.gold, dtype=np.int64),
            "asked_at": np.array(self.asked_at),
            "qid": np.array(self.qid),
            "ids": np.array(self.ids),
            "features": np.array(FEATURES),
            "learn_known_at": np.array(self.learn_known_at),
            "baselines": np.array(list(self.baselines)),
            "meta": np.array([f"{k}={v}" for k, v in meta.items()]),
        }
        for name, lists in (
            ("learn_rows", self.learn_rows),
            ("pos_rows", self.pos_rows),
            ("pos_times", self.pos_times),
            ("pos_gain", self.pos_gain),
        ):
            arrays[name] = np.array([x for xs in lists for x in xs])
            arrays[name.split("_")[0] + "_offsets"] = np.r_[
                0, np.cumsum([len(xs) for xs in lists])
            ].astype(np.int64)
        for i, lists in enumerate(self.baselines.values()):
            arrays[f"base_{i}"] = np.vstack(lists)
        np.savez_compressed(path, **arrays)


def _metric_row(ranking: list[str], target: str) -> float:
    for i, pid in enumerate(ranking):
        if pid == target:
            return 1.0 / (i + 1)
    return 0.0


def dump_slack(path: Path, out: Path) -> dict[str, float]:
    """Replay a Slack export once, write its .npz; return the router's MRRs (a check)."""
    from bot.evaluation.chat_protocol import read_timeline
    from bot.evaluation.chat_replay import ChatReplay
    from bot.evaluation.chat_run import TOP_K as EVAL_TOP_K
    from bot.evaluation.chat_run import _learn
    from bot.evaluation.systems import top_ranking

    settings = get_settings()
    timeline = read_timeline(path)
    # When did each person first reply in each thread (for multi-positive examples)?
    first_reply: dict[tuple[tuple[str, str], str], float] = {}
    for line in timeline.lines:
        if line.is_reply:
            first_reply.setdefault((line.thread_key, line.user), line.ts)
    encoder = encoder_from_settings(settings)
    default = LinearRanker.from_groups(settings.weights)
    learner = OnlineLearner(default)
    rng = np.random.default_rng(0)  # as evaluate_slack_export
    writer = DumpWriter()
    rr: dict[str, list[float]] = {"default": [], "learned": []}
    replay = ChatReplay(timeline, encoder, settings)
    started = time.monotonic()
    for n, moment in enumerate(replay.walk()):
        q = moment.question
        now = q.root.ts
        index = {pid: i for i, pid in enumerate(moment.ids)}
        if moment.evaluable:
            for name, ranker in (("default", default), ("learned", learner.model(now))):
                ranking = top_ranking(
                    moment.table,
                    ranker.score(moment.table, moment.eligible),
                    moment.ids,
                    EVAL_TOP_K,
                )
                rr[name].append(_metric_row(ranking, q.gold))
        gold = index.get(q.gold, -1)
        positives = [
            (index[p], first_reply[(q.root.thread_key, p)], 2 if p == q.gold else 1)
            for p in q.repliers
            if p in index
        ]
        writer.add(
            q.id,
            moment.table.matrix,
            moment.eligible,
            moment.ids,
            moment.evaluable,
            gold,
            now,
            [gold] if gold >= 0 else [],
            q.answered_at,
            positives,
            moment.baselines if moment.evaluable else {},
        )
        _learn(moment, [learner], rng)
        if n % 100 == 0:
            print(
                f"  {n}/{len(timeline.questions)} {time.monotonic() - started:.0f}s",
                file=sys.stderr,
            )
    writer.save(out, {"kind": "slack", "source": str(path)})
    return {k: float(np.mean(v)) for k, v in rr.items()}


def dump_stackexchange(folder: Path, out: Path) -> dict[str, float]:
    """Replay a StackExchange dump once, write its .npz; return the router's MRRs."""
    from bot.evaluation.replay import Replay
    from bot.evaluation.run import _learn
    from bot.evaluation.systems import BASELINES, top_ranking
    from data.importers.stackexchange import read_dump, relevance_of

    settings = get_settings()
    dump = read_dump(folder)
    encoder = encoder_from_settings(settings)
    default = LinearRanker.from_groups(settings.weights)
    learner = OnlineLearner(default)
    rng = np.random.default_rng(0)  # as evaluate_stackexchange
    writer = DumpWriter()
    rr: dict[str, list[float]] = {"default": [], "learned": []}
    replay = Replay(dump, encoder, settings)
    started = time.monotonic()
    for n, moment in enumerate(replay.walk()):
        q = moment.question
        now = to_epoch(q.created_at)
        index = {pid: i for i, pid in enumerate(moment.ids)}
        gold = -1
        rankings: dict[str, list[str]] = {}
        if moment.evaluated:
            target = dump.posts[q.accepted_answer_id or ""].owner_id or ""
            gold = index.get(target, -1)
            for name, ranker in (("default", default), ("learned", learner.model(now))):
                ranking = top_ranking(
                    moment.table, ranker.score(moment.table, moment.eligible), moment.ids, 100
                )
                rr[name].append(_metric_row(ranking, target))
            rankings = {
                name: top_ranking(moment.table, score(moment.table, moment.eligible), moment.ids)
                for name, score in BASELINES.items()
            }
        answered = [a for a in moment.answers if a.owner_id in index]
        known_at = max((to_epoch(a.created_at) for a in answered), default=float("nan"))
        gains = relevance_of(dump, q) if moment.evaluated else {}
        positives: list[tuple[int, float, int]] = []
        for a in answered:
            row = index[a.owner_id or ""]
            if row not in [p[0] for p in positives]:
                positives.append((row, to_epoch(a.created_at), gains.get(a.owner_id or "", 0)))
        writer.add(
            q.id,
            moment.table.matrix,
            moment.eligible,
            moment.ids,
            moment.evaluated,
            gold,
            now,
            [index[a.owner_id or ""] for a in answered],
            known_at,
            positives,
            rankings,
        )
        _learn(moment, [learner], rng)
        if n % 200 == 0:
            print(f"  {n}/{len(replay.moments)} {time.monotonic() - started:.0f}s", file=sys.stderr)
    writer.save(out, {"kind": "stackexchange", "source": str(folder)})
    return {k: float(np.mean(v)) for k, v in rr.items()}


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: dump one dataset."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("kind", choices=["slack", "stackexchange"])
    parser.add_argument("path", type=Path)
    parser.add_argument("--name", help="output name (default: from the path)")
    args = parser.parse_args(argv)
    name = args.name or ("beer" if args.kind == "stackexchange" else f"racket{args.path.stem}")
    out = OUT / f"{name}.npz"
    started = time.monotonic()
    dumper = dump_slack if args.kind == "slack" else dump_stackexchange
    mrr = dumper(args.path, out)
    print(
        f"{name}: wrote {out} in {time.monotonic() - started:.0f}s; in-replay router MRR "
        f"default {mrr['default']:.3f}, learned {mrr['learned']:.3f}"
    )


if __name__ == "__main__":
    main()
