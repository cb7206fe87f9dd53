"""Writing small StackExchange dump files for tests."""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import quoteattr


def row(attrs: dict[str, str]) -> str:
    """One dump row on one line, attributes escaped the way the dump escapes them."""
    return "  <row " + " ".join(f"{k}={quoteattr(v)}" for k, v in attrs.items()) + " />"


def write_xml(path: Path, root: str, rows: list[dict[str, str]]) -> None:
    """A dump file: BOM + declaration on line 1, root on line 2, rows from line 3."""
    lines = ['\ufeff<?xml version="1.0" encoding="utf-8"?>', f"<{root}>"]
    lines += [row(r) for r in rows]
    lines.append(f"</{root}>")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
