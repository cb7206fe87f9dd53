"""`whoknows eval stackexchange`: replay a site, score every system, write the rankings."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bot.encoding import encoder_from_settings
from bot.evaluation.metrics import MetricSummary, format_table
from bot.evaluation.replay import Moment, Replay
from bot.evaluation.systems import BASELINES, top_ranking
from bot.features import FEATURE_GROUPS, to_epoch
from bot.ranking import LinearRanker
from bot.settings import Settings
from bot.training import OnlineLearner, make_example
from data.importers.stackexchange import read_dump, relevance_of
from embeddings.encoder import Encoder

ROUTER = "whoknows router"
ROUTER_DEFAULT = "whoknows router, default weights"
ROUTER_FROZEN = "whoknows router, weights frozen at half-time"


@dataclass
class EvalReport:
    """Metric summaries per system, for the whole timeline and its second half, and the
    router with each signal group removed in turn (if asked for)."""

    site: str
    whole: dict[str, MetricSummary]
    second_half: dict[str, MetricSummary]
    ablation: dict[str, MetricSummary] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    fits: int = 0
    cold_start: dict[str, dict[str, MetricSummary]] = field(default_factory=dict)

    def __str__(self) -> str:
        n = next(iter(self.whole.values())).count if self.whole else 0
        text = (
            f"{self.site}: {n} questions, replayed in time order (EVAL.md)\n"
            "The router ranks each question with weights learned only from answers given "
            f"before it was asked ({self.fits} refits).\n\n"
            f"Whole timeline\n{format_table(self.whole)}\n\n"
            f"Second half of the timeline\n{format_table(self.second_half)}\n"
        )
        for subset, rows in self.cold_start.items():
            text += f"\nCold start: {subset}\n{format_table(rows)}\n"
        if self.ablation:
            text += f"\nAblation: each signal removed in turn\n{format_table(self.ablation)}\n"
        if not self.fits:
            text += "\nToo few answered questions to learn from: the default weights ranked.\n"
        elif self.weights:
            shown = ", ".join(f"{k} {v:+.2f}" for k, v in self.weights.items() if v)
            text += f"\nWeights learned from the whole timeline: {shown}\n"
        return text


def without(ranker: LinearRanker, features: tuple[str, ...]) -> LinearRanker:
    """The same ranker with `features` weighted 0."""
    weights = ranker.as_mapping()
    return LinearRanker.from_mapping({f: 0.0 if f in features else w for f, w in weights.items()})


def evaluate_stackexchange(
    folder: Path,
    settings: Settings,
    out_file: Path | None,
    progress_console: Console | None = None,
    encoder: Encoder | None = None,
    ablation: bool = False,
    seed: int = 0,
) -> EvalReport:
    """Replay the dump in `folder`, rank every evaluated question with the router and the
    baselines, write the router's rankings to `out_file` (JSONL) and return the metrics.

    The router learns as the replay goes (prequential): each answered question becomes a
    training example once its answer exists, and each evaluated question is ranked by a
    model fitted only on examples known before it was asked. For the second half, the
    model as it stood at half-time is also reported, frozen.
    """
    dump = read_dump(folder)
    encoder = encoder or encoder_from_settings(settings)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=progress_console or Console(stderr=True),
        transient=True,
        disable=progress_console is None,
    ) as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done)

        replay = Replay(dump, encoder, settings, progress=progress)
        default = LinearRanker.from_groups(settings.weights)
        learner = OnlineLearner(default)
        ablated = (
            {
                f"without {group}": OnlineLearner(without(default, features), drop=features)
                for group, features in FEATURE_GROUPS.items()
            }
            if ablation
            else {}
        )
        names = [*BASELINES, ROUTER_DEFAULT, ROUTER]
        whole = {name: MetricSummary() for name in names}
        second = {name: MetricSummary() for name in [*names, ROUTER_FROZEN]}
        ablation_rows = {name: MetricSummary() for name in [ROUTER, *ablated]}
        cold = {subset: {name: MetricSummary() for name in names} for subset in COLD_SUBSETS}
        half = len(replay.questions) // 2
        frozen: LinearRanker | None = None
        rng = np.random.default_rng(seed)
        lines = []
        n = 0
        for moment in replay.walk():
            question = moment.question
            now = to_epoch(question.created_at)
            if moment.evaluated:
                if n == half:
                    frozen = learner.model(now)
                scorers = {
                    **BASELINES,
                    ROUTER_DEFAULT: default.score,
                    ROUTER: learner.model(now).score,
                }
                scorers.update({name: lrn.model(now).score for name, lrn in ablated.items()})
                if frozen is not None:
                    scorers[ROUTER_FROZEN] = frozen.score
                rankings = _rank(moment, scorers)
                accepted = dump.posts[question.accepted_answer_id or ""]
                target = accepted.owner_id or ""
                gains = relevance_of(dump, question)
                for name, ranking in rankings.items():
                    values = MetricSummary().add(ranking, target, gains)
                    if name in whole:
                        whole[name].add_values(values)
                    if n >= half and name in second:
                        second[name].add_values(values)
                    if name in ablation_rows and ablated:
                        ablation_rows[name].add_values(values)
                    for subset in _cold_subsets(moment, target):
                        if name in cold[subset]:
                            cold[subset][name].add_values(values)
                lines.append(json.dumps({"question_id": question.id, "ranking": rankings[ROUTER]}))
                n += 1
            _learn(moment, [learner, *ablated.values()], rng)
    if out_file is not None:
        out_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    final = learner.model()
    return EvalReport(
        folder.name,
        whole,
        second,
        ablation_rows if ablated else {},
        final.as_mapping(),
        learner.fits,
        cold,
    )


COLD_SUBSETS = (
    "askers with no ties yet (network signals are all 0)",
    "answerers who had never answered before (activity signals near 0)",
)


def _cold_subsets(moment: Moment, target: str) -> list[str]:
    found = []
    if not moment.table.asker_connected:
        found.append(COLD_SUBSETS[0])
    if target in moment.ids and moment.table.column("act_answers")[moment.ids.index(target)] == 0:
        found.append(COLD_SUBSETS[1])
    return found


def _rank(moment: Moment, scorers: dict) -> dict[str, list[str]]:
    return {
        name: top_ranking(moment.table, score(moment.table, moment.eligible), moment.ids, 100)
        for name, score in scorers.items()
    }


def _learn(moment: Moment, learners: list[OnlineLearner], rng: np.random.Generator) -> None:
    """Add the question as a training example, known from its first answer by someone who
    was a candidate (their answers, and any later ones, are the positives)."""
    index = {pid: i for i, pid in enumerate(moment.ids)}
    answered = [a for a in moment.answers if a.owner_id in index]
    if not answered:
        return
    known_at = max(to_epoch(a.created_at) for a in answered)
    example = make_example(
        moment.table,
        moment.eligible,
        [index[a.owner_id] for a in answered if a.owner_id],
        known_at,
        rng,
    )
    if example is not None:
        for learner in learners:
            learner.add(example)
