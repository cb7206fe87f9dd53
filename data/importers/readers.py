"""Low-level reading shared by the importers: formats, encodings, rows with line numbers.

Every reader records what is wrong in a `ProblemList` instead of raising, so an importer can
report every problem in a file at once (`file:line: reason`) and write nothing.
"""

from __future__ import annotations

import bisect
import csv
import gc
import io
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from data.importers.errors import ProblemList
from data.store import WriteCounts

# File formats by extension; "dir" is a folder (of Markdown files).
FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".md": "md"}
_FORMAT_NAMES = {"csv": ".csv", "json": ".json", "jsonl": ".jsonl", "md": ".md", "dir": "a folder"}

_WS = re.compile(r"[ \t\n\r]*")
_TRUE = {"true", "1", "yes", "y"}
_FALSE = {"false", "0", "no", "n"}

# The longest value any field may hold, in characters, in every format (CSV, JSON, JSONL,
# Markdown front matter and body) of every import (directory, contacts, knowledge). It is
# Python's csv default, which the CSV reader is held to (`parse_csv`).
MAX_FIELD_CHARS = 131_072
# The longest record read at all: one JSONL line, one Markdown file. A longer one is refused
# before it is parsed. Room for a few fields at the limit, JSON-escaped.
MAX_RECORD_CHARS = 8 * MAX_FIELD_CHARS

# Control characters: C0 (U+0000-U+001F), DEL (U+007F) and C1 (U+0080-U+009F). One-line
# fields (ids, names, emails, titles, tags...) may hold none; multi-line text (a knowledge
# item's body) may hold tabs and line breaks.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# What CSV text may hold for `parse_csv` to know, without looking at each value, that no
# value holds a control character: anything but those and tabs (line breaks end rows; one
# inside a quoted value makes its row span lines, which `parse_csv` notices).
_CONTROL_IN_CSV = re.compile(r"[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CONTROL_IN_CSV_BYTES = bytes([*range(0x0A), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
_CONTROL_NAMES = {
    "\x00": "NUL",
    "\x07": "BEL",
    "\x08": "backspace",
    "\x09": "tab",
    "\x0a": "line break",
    "\x0b": "vertical tab",
    "\x0c": "form feed",
    "\x0d": "carriage return",
    "\x1b": "ESC",
    "\x7f": "DEL",
    "\x85": "next line",
}


@dataclass(frozen=True)
class ImportResult:
    """What an import wrote: the kind of rows, the store's counts and an optional note."""

    kind: str
    counts: WriteCounts
    derived: str | None = None

    def __str__(self) -> str:
        note = f" ({self.derived})" if self.derived else ""
        return f"{self.kind}: {self.counts}{note}"


@dataclass(frozen=True)
class Record:
    """One input row or object, keyed by lower-case column name, and where it starts."""

    line: int
    values: dict[str, Any]

    def has(self, *names: str) -> bool:
        """Whether any of these columns is present (even if empty)."""
        return any(n in self.values for n in names)


@dataclass
class Table:
    """The records of one file and the columns it has (the CSV header, or for JSON every
    key any object has). `header_line` is where a missing column is reported. `clean`
    means no value can hold a control character or be over MAX_FIELD_CHARS (known for
    CSV text from one scan of the whole file), so `check_fields` has nothing to look at."""

    records: list[Record]
    columns: set[str] = field(default_factory=set)
    header_line: int = 1
    clean: bool = False


@dataclass(frozen=True)
class JsonDocument:
    """A parsed JSON file plus its text, so element line numbers can be found later."""

    text: str
    data: Any

    def records_at(self, path: Sequence[str | int], problems: ProblemList) -> list[Record]:
        """The objects of the array at `path` (keys, indexes) as records with their lines.

        Elements that are not objects are reported and left out."""
        value = self.data
        for step in path:
            value = value[step]
        lines = json_array_lines(self.text, path)
        records: list[Record] = []
        for line, element in zip(lines, value, strict=True):
            if isinstance(element, dict):
                records.append(Record(line, _normalize_keys(element)))
            else:
                problems.add(line, f"expected an object, got {_json_type(element)}")
        return records


# ---------------------------------------------------------------------------- files


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while an import runs.

    A big import makes millions of small objects that nearly all live until it ends, and
    every collection would walk them all again for nothing: that cost about a third of the
    time spent reading a million-row file. Reference counting still frees what is dropped,
    and the collector is switched back on (if it was on) when the import ends, failed or not."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def detect_format(path: Path, problems: ProblemList, allowed: Sequence[str]) -> str | None:
    """The format of `path` ("csv", "json", "jsonl", "md" or "dir") if it is one of
    `allowed`; otherwise record a problem and return None."""
    expected = _expected(allowed)
    if path.is_dir():
        if "dir" in allowed:
            return "dir"
        problems.add(0, f"is a folder (expected {expected})")
        return None
    if not path.exists():
        problems.add(0, "file not found")
        return None
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None or fmt not in allowed:
        shown = path.suffix or "no extension"
        problems.add(0, f"unsupported format {shown!r} (expected {expected})")
        return None
    return fmt


def read_text(path: Path, problems: ProblemList, max_chars: int | None = None) -> str | None:
    """The file decoded as UTF-8 (a leading BOM is dropped), or None after recording why
    it cannot be read: missing, unreadable, not UTF-8 (with the line of the first bad
    byte), empty, or (with `max_chars`) longer than that; a file too big to be that short
    in UTF-8 is not even read."""
    try:
        size = path.stat().st_size if max_chars is not None else 0
        if max_chars is not None and size > 4 * max_chars + 3:  # 4: UTF-8's longest, 3: BOM
            problems.add(0, f"file is {size:,} bytes: {_record_limit()}")
            return None
        raw = path.read_bytes()
    except FileNotFoundError:
        problems.add(0, "file not found")
        return None
    except OSError as exc:
        problems.add(0, f"cannot read file: {exc.strerror or exc}")
        return None
    try:
        text = raw.decode("utf-8-sig")  # -sig: spreadsheets often write a BOM
    except UnicodeDecodeError as exc:
        # Line numbers of the BOM-less text and the raw bytes agree: both count b"\n".
        line = raw.count(b"\n", 0, exc.start) + 1
        problems.add(
            line,
            f"not UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start} "
            "(save the file as UTF-8)",
        )
        return None
    if max_chars is not None and len(text) > max_chars:
        problems.add(0, f"file is {len(text):,} characters long: {_record_limit()}")
        return None
    if not text.strip():
        problems.add(0, "empty file (no records)")
        return None
    return text


def read_table(
    path: Path,
    problems: ProblemList,
    list_keys: Sequence[str] = (),
    what: str = "records",
    single_line: Sequence[str] = (),
    multi_line: Sequence[str] = (),
    drop_refused: bool = False,
) -> Table | None:
    """Read a CSV, JSON or JSONL file into records with line numbers.

    JSON may be a list of objects or an object holding such a list under one of `list_keys`.
    Returns None (with problems recorded) when the file cannot be read at all; a table
    with no records is reported as an empty file. The values of the `single_line` and
    `multi_line` columns are checked by `check_fields`; with `drop_refused`, records with
    a refused value are left out of the table (when nothing else refers to them, so later
    checks have nothing more to say about them)."""
    fmt = detect_format(path, problems, ("csv", "json", "jsonl"))
    if fmt is None:
        return None
    text = read_text(path, problems)
    if text is None:
        return None
    if fmt == "csv":
        table = parse_csv(text, problems)
    elif fmt == "jsonl":
        table = parse_jsonl(text, problems)
    else:
        doc = parse_json(text, problems)
        table = json_table(doc, problems, list_keys, what) if doc else None
    if table is not None and not table.records and not problems:
        problems.add(0, f"empty file (no {what})")
    if table is not None:
        kept = check_fields(table, problems, single_line, multi_line)
        if drop_refused:
            table.records = kept
    return table


# ------------------------------------------------------------------ field checks


def check_fields(
    table: Table,
    problems: ProblemList,
    single_line: Sequence[str] = (),
    multi_line: Sequence[str] = (),
) -> list[Record]:
    """Report each value of these columns that is over MAX_FIELD_CHARS or holds a control
    character (`field_problem`), as `line: column: reason`; return the records without
    such a value. The table is left as it is."""
    if table.clean:
        return table.records
    columns = [(name, False) for name in single_line] + [(name, True) for name in multi_line]
    kept: list[Record] = []
    for record in table.records:
        values = record.values
        refused = False
        for name, multiline in columns:
            value = values.get(name)
            if value is not None:
                reason = field_problem(value, multiline)
                if reason is not None:
                    problems.add(record.line, f"{name}: {reason}")
                    refused = True
        if not refused:
            kept.append(record)
    return kept


def field_problem(value: Any, multiline: bool = False) -> str | None:
    """Why a field's value may not be imported, or None if it may (or is not text: the
    value readers report wrong types).

    Text over MAX_FIELD_CHARS characters (counted as given, surrounding spaces included,
    as the CSV reader counts) is refused, and so is any control character left once the
    text is stripped: C0, DEL or C1; `multiline` text may keep tabs and line breaks. A list
    (of tags, skills) counts as one value: its items together, each of them checked."""
    if isinstance(value, str):
        if len(value) <= MAX_FIELD_CHARS and value.isprintable():
            return None  # nearly every value: one C-speed pass
        if len(value) > MAX_FIELD_CHARS:
            return _field_limit(len(value))
        return _control_problem(value.strip(), multiline)
    if isinstance(value, list):
        total = 0
        for item in value:
            if isinstance(item, str):
                total += len(item)
                reason = field_problem(item, multiline)
                if reason is not None:
                    return reason
        if total > MAX_FIELD_CHARS:
            return _field_limit(total)
    return None


def text_control(text: str) -> tuple[int, str] | None:
    """Where the first control character is that multi-line text may not hold (tabs and
    line breaks it may), as (line, "what it is at column N"); None if there is none. For a
    whole file (Markdown), where a line is more use than a place in one value."""
    found = _CONTROL_IN_TEXT.search(text)
    if found is None:
        return None
    start = found.start()
    line_start = text.rfind("\n", 0, start) + 1
    line = text.count("\n", 0, start) + 1
    return line, f"{_control_name(found.group())} at column {start - line_start + 1}"


def _control_problem(text: str, multiline: bool) -> str | None:
    found = (_CONTROL_IN_TEXT if multiline else _CONTROL).search(text)
    if found is None:
        return None
    char = found.group()
    where = f"at character {found.start() + 1}"
    if char in "\t\n\r":  # only refused in one-line fields
        return f"{_control_name(char)} {where}: this field must be one line"
    return f"{_control_name(char)} {where}"


def _control_name(char: str) -> str:
    code = f"U+{ord(char):04X}"
    name = _CONTROL_NAMES.get(char)
    if char in "\t\n\r":
        return f"{name} ({code})"
    return f"control character {code}" + (f" ({name})" if name else "")


def _field_limit(length: int) -> str:
    return f"{length:,} characters: more than the {MAX_FIELD_CHARS:,} a value may hold"


def _record_limit() -> str:
    return f"more than the {MAX_RECORD_CHARS:,} characters one record may hold (not read)"


# ----------------------------------------------------------------------------- CSV


def parse_csv(text: str, problems: ProblemList) -> Table | None:
    """Parse CSV text whose first row is a header. Each record carries the physical line it
    starts on (a quoted value may span lines). Blank rows are skipped; a row with more
    values than the header is a problem (usually a missing quote)."""
    # The csv module's limit is process-wide; it is set here so that CSV is held to the
    # same limit as every other format (a longer value is a csv.Error, reported below).
    csv.field_size_limit(MAX_FIELD_CHARS)
    # newline="" keeps line breaks inside quoted values intact, as the csv module expects.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except csv.Error as exc:
        problems.add(reader.line_num, f"malformed CSV: {exc}")
        return None
    columns = [c.strip().lower() for c in header]
    seen: set[str] = set()
    for name in columns:
        if name and name in seen:
            problems.add(1, f"duplicate column {name!r}")
        seen.add(name)
    width = len(columns)
    # Usually every column has a name, and a row zips straight into its values (a million
    # rows at a time); unnamed columns are dropped.
    named = all(columns)
    records: list[Record] = []
    append = records.append
    start = reader.line_num + 1
    # Rows the reader returned (blank ones too), to tell whether any spans lines.
    rows = 0
    try:
        for row in reader:
            rows += 1
            # Blank rows are skipped; text in the first cell settles that without the rest.
            if (row and row[0].strip()) or any(cell.strip() for cell in row):
                if len(row) > width:
                    problems.add(
                        start, f"row has {len(row)} values but the header has {width} columns"
                    )
                else:
                    if len(row) < width:  # allowed: some tools drop trailing empty cells
                        row += [""] * (width - len(row))
                    if named:
                        values = dict(zip(columns, row, strict=True))
                    else:
                        values = {c: v for c, v in zip(columns, row, strict=True) if c}
                    append(Record(start, values))
            start = reader.line_num + 1
    except csv.Error as exc:
        # `start` is still the line of the row being read; the reader cannot resynchronise
        # after a broken quote (or in the middle of a huge value), so reading stops here.
        if str(exc).startswith("field larger than field limit"):
            reason = f"a value is longer than the {MAX_FIELD_CHARS:,} characters a value may hold"
            problems.add(start, f"{reason} (reading stopped here)")
        else:
            problems.add(start, f"malformed CSV: {exc}")
        return Table(records, {c for c in columns if c}, header_line=1)
    # Every row on one line (so no value holds a line break) and no other control character
    # anywhere in the text: then no value holds one, and none is over the limit (the csv
    # module refuses those), so the values need no checks one by one.
    clean = reader.line_num == rows + 1 and _no_control_in_csv(text)
    return Table(records, {c for c in columns if c}, header_line=1, clean=clean)


def _no_control_in_csv(text: str) -> bool:
    """Whether CSV text holds no control character but line breaks (see _CONTROL_IN_CSV)."""
    if text.isascii():  # most exports; deleting bytes is a few times faster than a search
        raw = text.encode("ascii")
        return len(raw.translate(None, _CONTROL_IN_CSV_BYTES)) == len(raw)
    return _CONTROL_IN_CSV.search(text) is None


# ---------------------------------------------------------------------------- JSON


def parse_json(text: str, problems: ProblemList) -> JsonDocument | None:
    """Parse a JSON document, recording a syntax error with its line."""
    try:
        return JsonDocument(text, json.loads(text))
    except json.JSONDecodeError as exc:
        problems.add(exc.lineno, f"malformed JSON: {exc.msg} (column {exc.colno})")
        return None
    except RecursionError:
        problems.add(0, "malformed JSON: nested too deeply")
        return None


def json_table(
    doc: JsonDocument, problems: ProblemList, list_keys: Sequence[str] = (), what: str = "records"
) -> Table | None:
    """The records of a JSON list of objects, or of the list under one of `list_keys`."""
    path: tuple[str | int, ...] | None = None
    if isinstance(doc.data, list):
        path = ()
    elif isinstance(doc.data, dict):
        for key in list_keys:
            if isinstance(doc.data.get(key), list):
                path = (key,)
                break
    if path is None:
        wanted = "a JSON list of objects"
        if list_keys:
            wanted += " or an object with a " + " or ".join(f'"{k}"' for k in list_keys) + " list"
        problems.add(1, f"wrong shape: expected {wanted}, got {_json_type(doc.data)}")
        return None
    return _table(doc.records_at(path, problems))


def json_array_lines(text: str, path: Sequence[str | int] = ()) -> list[int]:
    """The line on which each element of the array at `path` starts, in `text`.

    `text` must be valid JSON holding an array at `path`. Values are skipped with
    `json.JSONDecoder.raw_decode`, so this costs about one more parse of the file."""
    decoder = json.JSONDecoder()
    newlines = [m.start() for m in re.finditer("\n", text)]
    idx = _skip_ws(text, 0)
    for step in path:
        idx = _child_start(text, idx, step, decoder)
    if text[idx] != "[":
        raise ValueError(f"no JSON array at {list(path)}")
    lines: list[int] = []
    idx = _skip_ws(text, idx + 1)
    while text[idx] != "]":
        lines.append(bisect.bisect_right(newlines, idx - 1) + 1)
        _, idx = decoder.raw_decode(text, idx)
        idx = _skip_ws(text, idx)
        if text[idx] == ",":
            idx = _skip_ws(text, idx + 1)
    return lines


def _child_start(text: str, idx: int, step: str | int, decoder: json.JSONDecoder) -> int:
    """Index where the value under key `step` (object) or at index `step` (array) starts.
    For a repeated key the last one wins, as in `json.loads`."""
    found = -1
    position = 0
    closing = "}" if text[idx] == "{" else "]"
    idx = _skip_ws(text, idx + 1)
    while text[idx] != closing:
        key: Any = position
        if closing == "}":
            key, idx = decoder.raw_decode(text, idx)
            idx = _skip_ws(text, idx)
            idx = _skip_ws(text, idx + 1)  # past the ":"
        if key == step:
            found = idx
        _, idx = decoder.raw_decode(text, idx)
        idx = _skip_ws(text, idx)
        if text[idx] == ",":
            idx = _skip_ws(text, idx + 1)
        position += 1
    if found < 0:
        raise KeyError(step)
    return found


def parse_jsonl(text: str, problems: ProblemList) -> Table:
    """Parse JSON Lines: one object per line; blank lines are skipped."""
    records: list[Record] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if len(line) > MAX_RECORD_CHARS:  # not parsed: it could build huge objects
            problems.add(number, f"line is {len(line):,} characters long: {_record_limit()}")
            continue
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.add(number, f"malformed JSON: {exc.msg} (column {exc.colno})")
            continue
        if isinstance(value, dict):
            records.append(Record(number, _normalize_keys(value)))
        else:
            problems.add(number, f"expected an object, got {_json_type(value)}")
    return _table(records)


# ------------------------------------------------------------------------- columns


def require_columns(
    table: Table, problems: ProblemList, required: Sequence[Sequence[str]]
) -> set[str]:
    """Report required columns the file lacks entirely, once, on the header line.

    Each entry of `required` lists accepted names for one column, preferred name first.
    Returns the preferred names of the missing ones, so per-row checks can skip them."""
    missing = [names for names in required if not table.columns.intersection(names)]
    if missing and table.records:
        shown = ", ".join(
            n[0] + (f" (or {', '.join(n[1:])})" if len(n) > 1 else "") for n in missing
        )
        plural = "s" if len(missing) > 1 else ""
        problems.add(table.header_line, f"missing required column{plural}: {shown}")
    return {names[0] for names in missing}


def find_duplicates(
    problems: ProblemList, items: Iterable[tuple[int, str | None]], what: str
) -> None:
    """Report every repeated value among (line, value) pairs, pointing at the first one."""
    first: dict[str, int] = {}
    for line, value in items:
        if value is None:
            continue
        if value in first:
            problems.add(line, f"duplicate {what} {value!r} (first on line {first[value]})")
        else:
            first[value] = line


# -------------------------------------------------------------------------- values


def text_value(record: Record, problems: ProblemList, *names: str) -> str | None:
    """The first non-empty value among columns `names`, stripped; empty means None.
    Numbers are accepted as text (JSON ids are often numbers); other types are problems."""
    for name in names:
        value = record.values.get(name)
        if value is None:
            continue
        if type(value) is not str:  # CSV values are all str: they skip the checks
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                problems.add(record.line, f"{name}: expected text, got {_json_type(value)}")
                return None
            value = str(value)
        text = value.strip()
        if text:
            return text
    return None


def list_value(
    record: Record, problems: ProblemList, name: str, separators: str = ";"
) -> list[str] | None:
    """A list column: a JSON list of strings, or text split on any of `separators`.
    Returns None if the column is absent (so callers can keep what is stored)."""
    if name not in record.values:
        return None
    try:
        return split_list(record.values[name], separators)
    except ValueError as exc:
        problems.add(record.line, f"{name}: {exc}")
        return None


def split_list(value: Any, separators: str = ";") -> list[str]:
    """Normalize a list given as a list or as separated text: stripped, no empties, no
    repeats (case-insensitive, first spelling kept)."""
    if value is None:
        parts: list[Any] = []
    elif isinstance(value, str):
        if len(separators) == 1:  # the same split as the pattern, without the regex
            parts = value.split(separators)
        else:
            parts = re.split(f"[{re.escape(separators)}]", value) if separators else [value]
    elif isinstance(value, list):
        parts = value
    else:
        raise ValueError(f"expected a list or text, got {_json_type(value)}")
    seen: set[str] = set()
    out: list[str] = []
    for part in parts:
        if type(part) is not str:  # parts of split text are str: they skip the checks
            if isinstance(part, bool) or not isinstance(part, str | int | float):
                raise ValueError(f"expected a list of text, found {_json_type(part)}")
            part = str(part)
        text = part.strip()
        if text and text.lower() not in seen:
            seen.add(text.lower())
            out.append(text)
    return out


def bool_value(record: Record, problems: ProblemList, name: str) -> bool | None:
    """A yes/no column (true/false/1/0/yes/no); None if absent or empty."""
    value = record.values.get(name)
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if not text:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    problems.add(record.line, f"{name}: expected true/false/yes/no/1/0, got {value!r}")
    return None


def float_value(record: Record, problems: ProblemList, name: str) -> float | None:
    """A number column; None if absent or empty. Must be finite."""
    value = record.values.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(value)
    except (TypeError, ValueError):
        problems.add(record.line, f"{name}: expected a number, got {value!r}")
        return None
    if not math.isfinite(number):
        problems.add(record.line, f"{name}: expected a finite number, got {value!r}")
        return None
    return number


def iso_date(value: Any) -> str:
    """Normalize an ISO date or datetime (text, or a date from YAML) to ISO text.

    A date stays a date ("2024-05-01"); a datetime keeps its time and offset. Raises
    ValueError for anything else."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO date, got {_json_type(value)}")
    text = value.strip()
    if len(text) == 10:
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            pass
    try:
        return datetime.fromisoformat(text).isoformat()
    except ValueError:
        raise ValueError(f"not an ISO date: {value!r}") from None


def date_value(record: Record, problems: ProblemList, *names: str) -> str | None:
    """A date column (first of `names` present), normalized to ISO; None if absent."""
    for name in names:
        value = record.values.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        try:
            return iso_date(value)
        except ValueError as exc:
            problems.add(record.line, f"{name}: {exc}")
            return None
    return None


def validation_reasons(exc: Exception) -> list[str]:
    """Readable `field: message` lines from a pydantic ValidationError."""
    errors = getattr(exc, "errors", None)
    if errors is None:
        return [str(exc)]
    reasons = []
    for err in errors():
        where = ".".join(str(p) for p in err.get("loc", ())) or "value"
        reasons.append(f"{where}: {err.get('msg', 'invalid')}")
    return reasons


def person_ref(refs: Mapping[str, str], ref: str) -> str | None:
    """The person id for an id, email, Slack id or Teams id (emails match any case)."""
    return refs.get(ref) or refs.get(ref.lower())


# ------------------------------------------------------------------------- helpers


def _skip_ws(text: str, idx: int) -> int:
    return _WS.match(text, idx).end()  # type: ignore[union-attr]  # always matches


def _table(records: list[Record]) -> Table:
    columns: set[str] = set()
    for record in records:
        columns.update(record.values)
    return Table(records, columns, header_line=records[0].line if records else 1)


def _normalize_keys(obj: dict[str, Any]) -> dict[str, Any]:
    return {str(k).strip().lower(): v for k, v in obj.items()}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, int | float):
        return "a number"
    return "text"


def _expected(allowed: Sequence[str]) -> str:
    names = [_FORMAT_NAMES[a] for a in allowed]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
