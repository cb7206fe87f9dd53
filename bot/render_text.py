"""Plain-terminal rendering of routing results (used by the CLI, the demo and the console)."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from bot.router import Candidate


def candidates_table(question: str, asker_name: str, candidates: list[Candidate]) -> Group:
    """A titled table: who the router would ask, best first, and why."""
    table = Table(show_header=True, header_style="bold", expand=True, show_lines=True)
    table.add_column("#", justify="right", width=2)
    table.add_column("who", ratio=2)
    table.add_column("why", ratio=5)
    table.add_column("score", justify="right", width=6)
    for n, c in enumerate(candidates, start=1):
        who = Text(c.person.name, style="bold")
        role = " · ".join(x for x in (c.person.title, c.person.team) if x)
        if role:
            who.append(f"\n{role}", style="dim")
        why = Text()
        for reason in c.reasons:
            why.append(f"• {reason}\n")
        table.add_row(str(n), who, why, f"{c.score:.2f}")
    header = Text.assemble(
        ("Q ", "bold cyan"), (question, "italic"), ("  — asked by ", "dim"), (asker_name, "bold")
    )
    if not candidates:
        return Group(header, Text("Nobody in the directory can be asked.", style="yellow"))
    return Group(header, table)


def candidate_lines(candidates: list[Candidate]) -> list[str]:
    """One plain line per candidate: name, then the reasons."""
    return [
        f"{n}. {c.person.name} — " + "; ".join(c.reasons) for n, c in enumerate(candidates, start=1)
    ]
