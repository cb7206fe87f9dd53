"""The approximate vector index, saved beside the database between restarts.

At a million knowledge items a router's first sync spends about half its time reading
every float32 vector from SQLite and clustering them into the IVF index (the rest reads
the contacts and the knowledge rows). Saved, the index loads in a few seconds, and a
restart reads from the store only the vectors written since it was saved (vectors carry
the store's change number, `seq`).

Layout, in the folder `<db>.vectors/` next to the database file:

- `header.json`: what the other files hold and which store and settings they match.
- `<generation>.faiss`: the IVF index (`embeddings.ann.IvfIndex`); its ids are rows.
- `<generation>.rows.json`: `{"items": [item id per row, "" for a removed row],
  "people": [distinct author ids]}`.
- `<generation>.people.npy`: per row, the position of its author in that list (int32,
  -1 for a removed row). Authors are kept as ids, not as the router's person numbers,
  which are only valid in the process that assigned them.

A save writes a new generation beside the old one (each file flushed to disk), then
replaces `header.json` by rename, then deletes the old generation. A crash at any point
leaves either the old header naming the old, intact files or the new header naming the
new ones; never a header naming a half-written file.

The header records the format version, the encoder's model id and dimension, the ANN
setting that shapes the index (`lists`), the store seq the vectors cover, the seq up to
which changed knowledge was checked against the index, the row and item counts, each
file's size and CRC-32, and a random token that each save also writes to the store's meta
table. A replaced or restored database holds another token (or none), so its file is not
trusted. A file that fails any check (missing, truncated, corrupt, another model, other
settings, another database) is ignored with a warning and the router builds the index
from the store, as if there were no file.

The store also changes in ways a seq read cannot see: a deleted item leaves no row
behind, and an item whose text or author changed keeps its vector (and that vector's
seq) until it is embedded again. So a loaded index is checked against the store before it
is used: items no longer in the store are dropped (one pass over the knowledge ids), and
items changed since the last check get the author the store has now, or are dropped when
their stored vector no longer matches their text, as a full read would do.

Only approximate indexes are saved. An exact one holds fewer items than the ANN threshold
(100,000 by default), which a first sync reads from the store in a few seconds.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sqlite3
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from data.files import fsync_directory
from data.memory import release_free_memory
from data.store import Store
from embeddings.ann import IvfIndex
from embeddings.vector_index import AnnConfig, VectorIndex

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
# The store's meta key holding the token of the last save (see the module docstring).
TOKEN_KEY = "vector_index_token"
HEADER = "header.json"
# Rows checked per query when looking items up by id (SQLite's variable limit is 999+).
_ID_CHUNK = 500
# Bytes per read or write of the files, so none of them is ever held twice in memory.
_BLOCK = 1 << 20
# Item ids encoded per write when saving.
_ITEMS_PER_WRITE = 65536


class IndexFileError(Exception):
    """A saved index that cannot be used (the message says why)."""


@dataclass(frozen=True)
class Loaded:
    """A saved index, read and brought in line with the store."""

    index: VectorIndex
    seq: int  # every stored vector with a seq up to this is in `index`
    dropped: int  # items dropped: deleted since the save, or their text changed
    added: int  # items whose stored vector the saved index lacked (read from the store)


class IndexFile:
    """The saved vector index of one store, for one encoder and one ANN setting."""

    def __init__(
        self, store: Store, model_id: str, dim: int, ann: AnnConfig, directory: Path | None = None
    ) -> None:
        self.store = store
        self.model_id = model_id
        self.dim = dim
        self.ann = ann
        self.directory = directory or Path(f"{store.path}.vectors")

    @staticmethod
    def usable(store: Store, ann: AnnConfig) -> bool:
        """Whether an index of this store can be saved at all: it has a file to sit
        beside, and the index may become approximate."""
        return store.path != ":memory:" and ann.switch_at() is not None

    # ------------------------------------------------------------------------ saving

    def save(
        self, index: VectorIndex, person_ids: Sequence[str], seq: int, checked_seq: int
    ) -> None:
        """Write `index` (approximate) as holding every stored vector up to `seq`, and
        reflecting every knowledge change (deletions, new texts, new authors) up to
        `checked_seq` (the index does not follow those as they happen: see `load`).

        `person_ids[i]` is the id of the person the index calls `i`. Raises OSError or
        sqlite3.Error when the files or the token cannot be written; whatever was written
        before then is never trusted (the header comes last).
        """
        try:
            self._save(index, person_ids, seq, checked_seq)
        finally:
            # The pieces written are freed, but glibc keeps their pages (some 80 MB at a
            # million items) in a process that already holds the whole index.
            release_free_memory()

    def _save(
        self, index: VectorIndex, person_ids: Sequence[str], seq: int, checked_seq: int
    ) -> None:
        ann = index.ann
        if ann is None:
            raise ValueError("only an approximate index is saved")
        self.directory.mkdir(parents=True, exist_ok=True)
        generation = secrets.token_hex(8)
        names = {
            "index": f"{generation}.faiss",
            "rows": f"{generation}.rows.json",
            "people": f"{generation}.people.npy",
        }
        token = secrets.token_hex(16)
        try:
            files = {
                "index": self._write(names["index"], lambda w: ann.save_to(w)),
                **self._write_rows(names, index, person_ids),
            }
            header = {
                "format": FORMAT_VERSION,
                "model_id": self.model_id,
                "dim": self.dim,
                "lists": self.ann.lists,
                "token": token,
                "seq": seq,
                "checked_seq": checked_seq,
                "rows": index.rows,
                "items": len(index),
                "trained_on": ann.trained_on,
                "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "files": files,
            }
            self._write(
                f"{generation}.header.tmp",
                lambda w: w(json.dumps(header, indent=1).encode()),
            )
            os.replace(self.directory / f"{generation}.header.tmp", self.directory / HEADER)
        except BaseException:
            for name in [*names.values(), f"{generation}.header.tmp"]:
                (self.directory / name).unlink(missing_ok=True)
            raise
        fsync_directory(self.directory)
        # The token goes to the store after the header: a crash in between leaves a header
        # whose token the store does not hold, so it is not trusted (a rebuild, not harm).
        self.store.set_meta(TOKEN_KEY, token)
        for path in self.directory.iterdir():
            if path.name != HEADER and not path.name.startswith(generation):
                path.unlink(missing_ok=True)
        log.info("saved the vector index (%d items, seq %d) in %s", len(index), seq, self.directory)

    def _write_rows(
        self, names: dict[str, str], index: VectorIndex, person_ids: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        # Written piece by piece: saving runs in a bot already holding the whole index, so
        # a million ids are never encoded in one string (nor sorted) at once.
        live = np.fromiter((bool(item) for item in index.item_ids), bool, index.rows)
        used = np.zeros(len(person_ids), dtype=bool)
        used[index.people[live]] = True
        authors = np.flatnonzero(used)
        position = np.full(len(person_ids), -1, dtype=np.int32)
        position[authors] = np.arange(len(authors), dtype=np.int32)
        people = np.where(live, position[index.people], -1).astype(np.int32)

        def rows_json(write: Callable[[bytes], int]) -> None:
            author_ids = json.dumps([person_ids[int(p)] for p in authors])
            write(f'{{"people": {author_ids}, "items": ['.encode())
            for start in range(0, index.rows, _ITEMS_PER_WRITE):
                part = json.dumps(index.item_ids[start : start + _ITEMS_PER_WRITE])[1:-1]
                write(((", " if start else "") + part).encode())
            write(b"]}")

        return {
            "rows": self._write(names["rows"], rows_json),
            "people": self._write(names["people"], lambda w: _write_npy(w, people)),
        }

    def _write(
        self, name: str, produce: Callable[[Callable[[bytes], int]], None]
    ) -> dict[str, Any]:
        """Write a file through `produce(write)`, flushed to disk; returns its name, size
        and CRC-32 (computed on the bytes as they are written, not read back)."""
        crc, size = 0, 0
        with open(self.directory / name, "wb") as f:

            def write(data: bytes) -> int:
                nonlocal crc, size
                crc = zlib.crc32(data, crc)
                size += len(data)
                f.write(data)
                return len(data)

            produce(write)
            f.flush()
            os.fsync(f.fileno())
        return {"name": name, "bytes": size, "crc32": crc}

    # ----------------------------------------------------------------------- loading

    def load(self, person_index: Callable[[str], int]) -> Loaded | None:
        """The saved index, checked against the store, or None when there is none that
        can be trusted (after a warning saying why). `person_index` gives the router's
        number for a person id (adding the person if new)."""
        if not (self.directory / HEADER).exists():
            return None
        try:
            header = self._header()
            ivf, items, authors, positions = self._read(header)
            seq, checked_seq = int(header["seq"]), int(header["checked_seq"])
        except (
            IndexFileError,
            OSError,
            RuntimeError,  # faiss could not parse the index file
            ValueError,
            KeyError,
            TypeError,
            sqlite3.Error,
        ) as e:
            log.warning("ignoring the saved vector index in %s: %s", self.directory, e)
            return None
        # Router numbers for the authors of the saved items (the file holds each id once).
        numbers = np.array([person_index(p) for p in authors] + [0], dtype=np.int64)
        vectors = VectorIndex(self.dim, self.ann)
        # -1 (a removed row) picks the trailing 0: such rows are never returned by a search.
        vectors.restore(ivf, items, numbers[positions])
        try:
            dropped, added = self._reconcile(vectors, person_index, seq, checked_seq)
        except sqlite3.Error as e:
            log.warning("ignoring the saved vector index in %s: %s", self.directory, e)
            return None
        log.info(
            "loaded the vector index from %s: %d items up to seq %d (%d dropped, %d re-read)",
            self.directory,
            len(vectors),
            seq,
            dropped,
            added,
        )
        return Loaded(vectors, seq, dropped, added)

    def _header(self) -> dict[str, Any]:
        """The header, if it matches this store, encoder and setting (else raises)."""
        try:
            header = json.loads((self.directory / HEADER).read_text())
        except json.JSONDecodeError as e:
            raise IndexFileError(f"unreadable header ({e})") from None
        if not isinstance(header, dict):
            raise IndexFileError("unreadable header")
        expected = {"format": FORMAT_VERSION, "model_id": self.model_id, "dim": self.dim}
        for key, value in expected.items():
            if header.get(key) != value:
                raise IndexFileError(f"saved for {key} {header.get(key)!r}, not {value!r}")
        if header.get("lists") != self.ann.lists:
            raise IndexFileError(
                f"saved with ann lists {header.get('lists')}, not {self.ann.lists}"
            )
        switch_at = self.ann.switch_at()
        if switch_at is None or int(header["items"]) < switch_at:
            raise IndexFileError(f"{header['items']} items: the index would be exact")
        token = self.store.get_meta(TOKEN_KEY)
        if token is None or header.get("token") != token:
            raise IndexFileError("saved for another database (replaced or restored since?)")
        if not 0 <= int(header["seq"]) <= self.store.current_seq():
            raise IndexFileError(f"saved at seq {header['seq']}, beyond the store's")
        for key in ("index", "rows", "people"):
            described = header["files"][key]
            path = self.directory / Path(described["name"]).name
            size = path.stat().st_size  # a missing file raises OSError
            if size != described["bytes"]:
                raise IndexFileError(f"{path.name} has {size} bytes, not {described['bytes']}")
        return header

    def _read(self, header: dict[str, Any]) -> tuple[IvfIndex, list[str], list[str], np.ndarray]:
        """The files the header names, each checked against its CRC and the header:
        (the faiss index, item id per row, distinct authors, author position per row)."""
        files = header["files"]
        n_rows, n_items = int(header["rows"]), int(header["items"])
        with self._reading(files["rows"]) as read:
            rows = json.loads(b"".join(iter(lambda: read(_BLOCK), b"")))
        with self._reading(files["people"]) as read:
            people = _read_npy(read)
        items = rows["items"]
        authors = rows["people"]
        if not (isinstance(items, list) and isinstance(authors, list)):
            raise IndexFileError("malformed rows file")
        if len(items) != n_rows or len(people) != n_rows or people.dtype != np.int32:
            raise IndexFileError("rows file and people file disagree with the header")
        live = np.array([bool(item) for item in items], dtype=bool)
        if int(live.sum()) != n_items or len(set(items)) != n_items + (n_items < n_rows):
            raise IndexFileError("item ids are missing or repeated")
        if people.size and (people[live].min(initial=0) < 0 or people.max() >= len(authors)):
            raise IndexFileError("an author position is out of range")
        if np.any(people[~live] != -1):
            raise IndexFileError("a removed row has an author")
        ivf = IvfIndex(self.dim, nprobe=self.ann.nprobe, lists=self.ann.lists)
        with self._reading(files["index"]) as read:
            ivf.load_from(read, int(header["trained_on"]))
        held = np.sort(ivf.ids())
        if len(held) != n_items or not np.array_equal(held, np.flatnonzero(live)):
            raise IndexFileError("the faiss index holds other rows than the rows file")
        return ivf, items, authors, people

    def _reading(self, described: dict[str, Any]) -> _CheckedReader:
        return _CheckedReader(self.directory / Path(described["name"]).name, described)

    # ------------------------------------------------------------------ reconciling

    def _reconcile(
        self,
        vectors: VectorIndex,
        person_index: Callable[[str], int],
        seq: int,
        checked_seq: int,
    ) -> tuple[int, int]:
        """Bring a loaded index in line with the store as a full read would see it now,
        but for vectors written after `seq`, which the caller reads next. Knowledge
        changed after `checked_seq` is looked at. Returns (items dropped, items added)."""
        # 1. Deleted items: a deletion leaves no row to find by seq, so every saved item
        # is looked for among the knowledge ids (deleting an item deletes its vectors too).
        found = np.zeros(vectors.rows, dtype=bool)
        for chunk in self.store.knowledge_id_chunks():
            rows = vectors.rows_of(chunk)
            found[rows[rows >= 0]] = True
        gone = [item for row, item in enumerate(vectors.item_ids) if item and not found[row]]
        # 2. Items whose knowledge row changed after `checked_seq` (found through the
        # knowledge seq index): a changed text leaves a stale vector until it is embedded
        # again (a full read skips it), a new author leaves the vector and its seq as they
        # were. A running router does not follow either, so `checked_seq` is the seq of its
        # first sync (a full read or this check), not that of its last.
        changed: list[str] = []
        authors: list[int] = []
        missing: list[str] = []
        for item, person, vector_seq in self.store.knowledge_vector_seqs(
            self.model_id, checked_seq
        ):
            if vector_seq is None:
                gone.append(item)  # no vector matches its text now
            elif item in vectors:
                changed.append(item)
                authors.append(person_index(person))
            elif vector_seq <= seq:
                # It has a vector the index never read (its text matched the vector only
                # after the vector's seq was passed); newer vectors are read by the caller.
                missing.append(item)
        dropped = vectors.remove(gone)
        vectors.set_people(changed, authors)
        added = 0
        for ids, people, matrix in self.store.vectors_of(
            self.model_id, self.dim, missing, _ID_CHUNK
        ):
            vectors.upsert(ids, [person_index(p) for p in people], matrix)
            added += len(ids)
        return dropped, added


class _CheckedReader:
    """Reads a file in blocks, checking at the end that size and CRC-32 are as recorded."""

    def __init__(self, path: Path, described: dict[str, Any]) -> None:
        self.path = path
        self.described = described
        self._file: BinaryIO | None = None
        self._crc = 0
        self._size = 0

    def __enter__(self) -> Callable[[int], bytes]:
        self._file = open(self.path, "rb")  # closed by __exit__
        return self.read

    def read(self, n: int) -> bytes:
        assert self._file is not None
        data = self._file.read(n)
        self._crc = zlib.crc32(data, self._crc)
        self._size += len(data)
        return data

    def __exit__(self, kind: object, error: object, tb: object) -> None:
        assert self._file is not None
        if kind is None and self._file.read(1):
            raise IndexFileError(f"{self.path.name} holds more than was read")
        self._file.close()
        if kind is None and (self._size, self._crc) != (
            self.described["bytes"],
            self.described["crc32"],
        ):
            raise IndexFileError(f"{self.path.name} does not match its checksum (corrupt?)")


def _write_npy(write: Callable[[bytes], int], array: np.ndarray) -> None:
    """An array in .npy format (header and raw data), without pickling."""
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, np.lib.format.header_data_from_array_1_0(array))
    write(buffer.getvalue())
    write(np.ascontiguousarray(array).tobytes())


def _read_npy(read: Callable[[int], bytes]) -> np.ndarray:
    """An array written by `_write_npy` (only plain dtypes: no pickles are unpickled)."""
    import io

    data = b"".join(iter(lambda: read(_BLOCK), b""))
    return np.load(io.BytesIO(data), allow_pickle=False)
