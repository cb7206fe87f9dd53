"""`whoknows eval slack-export`: replay an export, score the router and the baselines of
EVAL-CHAT.md in the same run, write the router's rankings."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bot.encoding import encoder_from_settings
from bot.evaluation.chat_baselines import BASELINE_NAMES
from bot.evaluation.chat_protocol import read_timeline
from bot.evaluation.chat_replay import ChatMoment, ChatReplay
from bot.evaluation.metrics import (
    CHAT_METRIC_NAMES,
    MetricSummary,
    chat_question_metrics,
    format_table,
    paired_ratio_interval,
)
from bot.evaluation.systems import top_ranking
from bot.features import FEATURE_GROUPS
from bot.ranking import LinearRanker
from bot.settings import Settings
from bot.training import OnlineLearner, make_example
from embeddings.encoder import Encoder

ROUTER = "whoknows router"
ROUTER_DEFAULT = "whoknows router, default weights"
TOP_K = 100


@dataclass
class ChatEvalReport:
    """Metric summaries per system, and the router's MRR against the strongest peer."""

    name: str
    rows: dict[str, MetricSummary]
    ablation: dict[str, MetricSummary] = field(default_factory=dict)
    questions: int = 0  # answered questions found (evaluable or not)
    fits: int = 0
    weights: dict[str, float] = field(default_factory=dict)

    def strongest_peer(self) -> str:
        """The baseline with the best MRR."""
        return max(BASELINE_NAMES, key=lambda n: self.rows[n].mean("MRR"))

    def ratio(self) -> tuple[float, float, float]:
        """The router's MRR / the strongest peer's, with a paired 95% bootstrap interval."""
        peer = self.strongest_peer()
        return paired_ratio_interval(self.rows[ROUTER].values["MRR"], self.rows[peer].values["MRR"])

    def __str__(self) -> str:
        n = self.rows[ROUTER].count if ROUTER in self.rows else 0
        ratio, low, high = self.ratio()
        text = (
            f"{self.name}: {n} questions scored of {self.questions} answered, replayed in "
            "time order (EVAL-CHAT.md)\n"
            "The router ranks each question with weights learned only from replies given "
            f"before it was asked ({self.fits} refits).\n\n"
            f"{format_table(self.rows, interval='MRR')}\n\n"
            f"MRR of the router / the strongest peer ({self.strongest_peer()}): "
            f"{ratio:.2f}x (95% CI {low:.2f}-{high:.2f}x, paired bootstrap over questions)\n"
        )
        if self.ablation:
            text += (
                "\nAblation: each signal group removed in turn\n"
                f"{format_table(self.ablation, interval='MRR')}\n"
            )
        if self.weights:
            shown = ", ".join(f"{k} {v:+.2f}" for k, v in self.weights.items() if v)
            text += f"\nWeights learned from the whole timeline: {shown}\n"
        return text


def without(ranker: LinearRanker, features: tuple[str, ...]) -> LinearRanker:
    """The same ranker with `features` weighted 0."""
    weights = ranker.as_mapping()
    return LinearRanker.from_mapping({f: 0.0 if f in features else w for f, w in weights.items()})


def evaluate_slack_export(
    path: Path,
    settings: Settings,
    out_file: Path | None,
    progress_console: Console | None = None,
    encoder: Encoder | None = None,
    ablation: bool = False,
    seed: int = 0,
) -> ChatEvalReport:
    """Replay the export at `path` (folder or zip), rank every evaluable question with the
    router and the baselines, write the router's rankings to `out_file` (JSONL) and return
    the metrics.

    The router learns as the replay goes (prequential): every answered question becomes a
    training example once its first reply exists, and each question is ranked by a model
    fitted only on examples known before it was asked.
    """
    timeline = read_timeline(path)
    encoder = encoder or encoder_from_settings(settings)
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
    names = [*BASELINE_NAMES, ROUTER_DEFAULT, ROUTER]
    rows = {name: MetricSummary(CHAT_METRIC_NAMES) for name in names}
    ablation_rows = {name: MetricSummary(CHAT_METRIC_NAMES) for name in [ROUTER, *ablated]}
    rng = np.random.default_rng(seed)
    lines: list[str] = []
    with _progress(progress_console) as progress:
        replay = ChatReplay(timeline, encoder, settings, progress=progress)
        for moment in replay.walk():
            question = moment.question
            now = question.root.ts
            if moment.evaluable:
                rankings = dict(moment.baselines)
                scorers = {ROUTER_DEFAULT: default, ROUTER: learner.model(now)}
                scorers.update({name: lrn.model(now) for name, lrn in ablated.items()})
                for name, ranker in scorers.items():
                    scores = ranker.score(moment.table, moment.eligible)
                    rankings[name] = top_ranking(moment.table, scores, moment.ids, TOP_K)
                for name, ranking in rankings.items():
                    values = chat_question_metrics(ranking, question.gold, question.repliers)
                    if name in rows:
                        rows[name].add_values(values)
                    if ablated and name in ablation_rows:
                        ablation_rows[name].add_values(values)
                lines.append(json.dumps({"question_id": question.id, "ranking": rankings[ROUTER]}))
            _learn(moment, [learner, *ablated.values()], rng)
    if out_file is not None:
        out_file.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
    return ChatEvalReport(
        Path(path).name,
        rows,
        ablation_rows if ablated else {},
        questions=len(timeline.questions),
        fits=learner.fits,
        weights=learner.model().as_mapping() if learner.examples else {},
    )


def _learn(moment: ChatMoment, learners: list[OnlineLearner], rng: np.random.Generator) -> None:
    """The question as a training example, known from its first reply: the gold (the
    first other person to reply) is the positive, as the metric scores."""
    index = {pid: i for i, pid in enumerate(moment.ids)}
    gold = index.get(moment.question.gold)
    if gold is None:
        return
    example = make_example(moment.table, moment.eligible, [gold], moment.question.answered_at, rng)
    if example is not None:
        for learner in learners:
            learner.add(example)


class _progress:
    """A progress bar on stderr for each stage, or nothing without a console."""

    def __init__(self, console: Console | None) -> None:
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
            transient=True,
            disable=console is None,
        )
        self._tasks: dict[str, int] = {}

    def __enter__(self):
        self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(*exc)

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage not in self._tasks:
            self._tasks[stage] = self._bar.add_task(stage, total=total)
        self._bar.update(self._tasks[stage], completed=done)
