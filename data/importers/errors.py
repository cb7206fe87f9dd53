"""Problems found while reading an import file, reported as `file:line: reason`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# How many problems an error message lists before it summarises the rest.
MAX_LISTED = 50
# The longest reason kept: a reason quotes values, and a value may be huge.
MAX_REASON_CHARS = 500


@dataclass(frozen=True)
class ImportProblem:
    """One thing wrong with one place in an input file. `line` is 1-based; 0 = whole file."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.reason}"


class ImportFailed(Exception):
    """An import found problems; nothing was written.

    `problems` are grouped by file (in the order each file first appears) and sorted by
    line within a file (whole-file problems first); problems on one line keep their order."""

    def __init__(self, problems: list[ImportProblem]) -> None:
        files: dict[str, int] = {}
        for problem in problems:
            files.setdefault(problem.file, len(files))
        self.problems = sorted(problems, key=lambda p: (files[p.file], p.line))
        super().__init__(self.report())

    def report(self, limit: int = MAX_LISTED) -> str:
        """Every problem on its own line (the first `limit`), then how many more."""
        lines = [str(p) for p in self.problems[:limit]]
        if len(self.problems) > limit:
            lines.append(f"... and {len(self.problems) - limit} more problems")
        return "\n".join(lines)


class ProblemList:
    """Collects problems for one file, then raises them all at once."""

    def __init__(self, path: str | Path) -> None:
        self.file = str(path)
        self.problems: list[ImportProblem] = []

    def add(self, line: int, reason: str) -> None:
        """Record a problem at `line` (0 for the file as a whole). A reason longer than
        MAX_REASON_CHARS (it quotes a huge value) is cut short."""
        if len(reason) > MAX_REASON_CHARS:
            cut = len(reason) - MAX_REASON_CHARS
            reason = f"{reason[:MAX_REASON_CHARS]}… ({cut:,} more characters)"
        self.problems.append(ImportProblem(self.file, line, reason))

    def extend(self, other: ProblemList) -> None:
        """Take over another list's problems."""
        self.problems.extend(other.problems)

    def __bool__(self) -> bool:
        return bool(self.problems)

    def raise_if_any(self) -> None:
        """Raise ImportFailed if anything was recorded."""
        if self.problems:
            raise ImportFailed(self.problems)
