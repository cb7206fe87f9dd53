"""`whoknows eval stackexchange`: replay a site, score every system, write the rankings."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bot.evaluation.metrics import MetricSummary, format_table
from bot.evaluation.replay import Replay
from bot.evaluation.systems import BASELINES, Scorer, ranker_scorer
from bot.settings import Settings
from data.importers.stackexchange import read_dump, relevance_of
from embeddings.encoder import Encoder

ROUTER = "whoknows router"


@dataclass
class EvalReport:
    """Metric summaries per system, for the whole timeline and its second half."""

    site: str
    whole: dict[str, MetricSummary]
    second_half: dict[str, MetricSummary]

    def __str__(self) -> str:
        n = next(iter(self.whole.values())).count if self.whole else 0
        return (
            f"{self.site}: {n} questions, replayed in time order (EVAL.md)\n\n"
            f"Whole timeline\n{format_table(self.whole)}\n\n"
            f"Second half of the timeline\n{format_table(self.second_half)}\n"
        )


def evaluate_stackexchange(
    folder: Path,
    settings: Settings,
    out_file: Path | None,
    progress_console: Console | None = None,
    encoder: Encoder | None = None,
) -> EvalReport:
    """Replay the dump in `folder`, rank every evaluated question with the router and the
    baselines, write the router's rankings to `out_file` (JSONL) and return the metrics."""
    dump = read_dump(folder)
    encoder = encoder or Encoder(
        settings.model_path, settings.embed_batch_size, settings.max_seq_length
    )
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
        systems: dict[str, Scorer] = {**BASELINES, ROUTER: ranker_scorer(replay.router.ranker)}
        whole = {name: MetricSummary() for name in systems}
        second = {name: MetricSummary() for name in systems}
        half = len(replay.questions) // 2
        lines = []
        for n, result in enumerate(replay.rank_all(systems)):
            question = result.question
            accepted = dump.posts[question.accepted_answer_id or ""]
            target = accepted.owner_id or ""
            gains = relevance_of(dump, question)
            for name, ranking in result.rankings.items():
                values = whole[name].add(ranking, target, gains)
                if n >= half:
                    second[name].add_values(values)
            lines.append(
                json.dumps({"question_id": question.id, "ranking": result.rankings[ROUTER]})
            )
    if out_file is not None:
        out_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return EvalReport(folder.name, whole, second)
