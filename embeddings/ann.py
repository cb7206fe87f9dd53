"""Approximate nearest-neighbour search over item vectors: faiss IVF with 8-bit codes.

At a million knowledge items, a float32 matrix is 1.5 GB and a brute-force scan reads all
of it for every question. This index keeps one byte per dimension (faiss's 8-bit scalar
quantizer, trained per dimension: cosines move by about 0.002) and splits the vectors into
`lists` clusters, of which a question scans only the `nprobe` nearest. It is trained on the
vectors it is first built from, takes additions and replacements at any time, retrains
itself when it has grown fourfold, and is saved to a file and read back whole (see
`embeddings.index_store`, which keeps it beside the database between restarts).

Ids are the caller's row numbers (int64).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import os
import tempfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np

# Fewer training points per cluster than this and faiss warns (and clusters poorly).
POINTS_PER_LIST = 39
# Retrain the clusters once the index holds this many times what it was trained on.
RETRAIN_GROWTH = 4
# Training points per cluster at most (k-means time grows with them).
TRAIN_PER_LIST = 64
# Vectors moved per step when rebuilding, so a rebuild never holds every vector as floats.
_CHUNK = 65536
# An index read from a file has every cluster list at its exact size, so the first vector
# added to a list moves the whole list to a buffer twice as big. Freed in the middle of
# the heap, the old buffers stay resident until trimmed: adding 10,000 vectors to a loaded
# million-item index in one go grew the process by 270 MB. Until about this many vectors
# per list were added, additions go in steps touching 1/TIGHT_STEP of the lists each, and
# the freed buffers are handed back after each step (+80 MB at 10,000, +110 MB at 100,000).
TIGHT_ADDS_PER_LIST = 4
TIGHT_STEP = 8


def _faiss():  # imported on first use: the exact path never needs it
    import faiss

    return faiss


@lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:  # pragma: no cover - not a usual C library
        return None
    return getattr(libc, "malloc_trim", None)


def _trim_heap() -> None:
    """Hand free heap pages back to the OS (glibc only). Unlike
    `data.memory.release_free_memory`, no garbage collection: this runs a few dozen times
    in a row, in a process holding millions of objects."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def default_lists(n: int) -> int:
    """Clusters for `n` vectors: about 2 sqrt(n), with enough points to train each."""
    return max(1, min(int(2 * math.sqrt(n)), n // POINTS_PER_LIST))


class IvfIndex:
    """An IVF index with 8-bit scalar-quantized vectors and inner-product scores."""

    def __init__(self, dim: int, nprobe: int = 64, lists: int = 0) -> None:
        self.dim = dim
        self.nprobe = nprobe
        self.lists = lists  # 0: chosen from the size at each (re)training
        self._index = None
        self.trained_on = 0
        self._tight = 0  # vectors still to add in small steps (see TIGHT_ADDS_PER_LIST)

    def __len__(self) -> int:
        return 0 if self._index is None else int(self._index.ntotal)

    @property
    def trained(self) -> bool:
        """Whether clusters exist yet (only then can vectors be added)."""
        return self._index is not None

    def build(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Train on `vectors` and hold exactly them (replacing anything held before)."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self._index = self._trained(vectors)
        self.trained_on = len(vectors)
        for start in range(0, len(ids), _CHUNK):
            self._index.add_with_ids(
                vectors[start : start + _CHUNK], np.asarray(ids[start : start + _CHUNK], np.int64)
            )

    def upsert(self, ids: np.ndarray, vectors: np.ndarray, replacing: bool = True) -> None:
        """Add vectors, replacing any held under the same ids (`replacing=False` says none
        of `ids` is held yet, which saves a scan of every list)."""
        assert self._index is not None, "build() the index first"
        ids = np.asarray(ids, dtype=np.int64)
        if replacing:
            self._index.remove_ids(ids)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        start = 0
        while self._tight > 0 and start < len(ids):
            step = min(self._tight, max(1, self._index.nlist // TIGHT_STEP))
            self._index.add_with_ids(vectors[start : start + step], ids[start : start + step])
            _trim_heap()
            start += step
            self._tight -= step
        if start < len(ids):
            self._index.add_with_ids(vectors[start:], ids[start:])
        if len(self) >= RETRAIN_GROWTH * max(self.trained_on, 1) and self.lists == 0:
            self.retrain()

    def remove(self, ids: np.ndarray) -> int:
        """Drop the vectors held under `ids` (ids not held are ignored); returns how many
        were dropped. Scans every list once, so callers batch their removals."""
        if self._index is None or len(ids) == 0:
            return 0
        return int(self._index.remove_ids(np.ascontiguousarray(ids, dtype=np.int64)))

    def retrain(self) -> None:
        """Cluster again from the vectors held now (decoded from their 8-bit codes)."""
        assert self._index is not None
        old = self._index
        # An id -> position map, only while vectors are read back (about 48 bytes an id).
        old.set_direct_map_type(_faiss().DirectMap.Hashtable)
        ids = self.ids()
        rng = np.random.default_rng(0)
        lists = self.lists or default_lists(len(ids))
        sample = np.sort(rng.choice(ids, min(len(ids), TRAIN_PER_LIST * lists), replace=False))
        new = self._trained(old.reconstruct_batch(sample), len(ids))
        for start in range(0, len(ids), _CHUNK):
            part = ids[start : start + _CHUNK]
            new.add_with_ids(old.reconstruct_batch(part), part)
        self._index, self.trained_on = new, len(ids)

    def ids(self) -> np.ndarray:
        """Every id held, in no particular order."""
        if self._index is None:
            return np.zeros(0, dtype=np.int64)
        faiss = _faiss()
        invlists = self._index.invlists
        parts = []
        for lst in range(invlists.nlist):
            size = invlists.list_size(lst)
            if size:
                ptr = invlists.get_ids(lst)
                parts.append(faiss.rev_swig_ptr(ptr, size).copy())
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Ids and approximate cosines of (about) the `k` nearest vectors, best first."""
        if self._index is None or k <= 0 or len(self) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        faiss = _faiss()
        nlist = self._index.nlist
        per_list = max(1.0, len(self) / nlist)
        # Probe enough lists to hold at least twice `k` vectors: a big pool needs more.
        nprobe = min(nlist, max(self.nprobe, math.ceil(2 * k / per_list)))
        params = faiss.SearchParametersIVF()
        params.nprobe = nprobe
        k = min(k, len(self))
        sims, ids = self._index.search(
            np.asarray(query, dtype=np.float32).reshape(1, self.dim), k, params=params
        )
        found = ids[0] >= 0
        return ids[0][found], sims[0][found]

    def compact(self) -> None:
        """Give back the slack of its cluster lists (up to half their size after many
        additions, which grow each list by doubling): write the index to a temporary file
        and read it back at its exact size."""
        if self._index is None:
            return
        fd, name = tempfile.mkstemp(suffix=".faiss")
        os.close(fd)
        try:
            self.save(Path(name))
            self._index = None  # free the old lists before the new ones are read
            self.load(Path(name), self.trained_on)
        finally:
            os.unlink(name)

    def save(self, path: Path) -> None:
        """Write the index to `path`."""
        assert self._index is not None
        _faiss().write_index(self._index, str(path))

    def save_to(self, write: Callable[[bytes], int]) -> None:
        """Write the index through `write(data) -> bytes written`, in pieces of at most
        1 MiB (faiss's default block): the index is never copied whole."""
        assert self._index is not None
        _faiss().write_index(self._index, _faiss().PyCallbackIOWriter(write))

    def load(self, path: Path, trained_on: int) -> None:
        """Read an index written by `save`. Raises RuntimeError (from faiss) for a file it
        cannot parse, ValueError for an index of another kind or dimension."""
        self._adopt(_faiss().read_index(str(path)), trained_on, str(path))

    def load_from(self, read: Callable[[int], bytes], trained_on: int) -> None:
        """Read an index written by `save_to` through `read(n) -> up to n bytes`; raises
        like `load`."""
        faiss = _faiss()
        self._adopt(faiss.read_index(faiss.PyCallbackIOReader(read)), trained_on, "the file")

    def _adopt(self, index, trained_on: int, source: str) -> None:
        faiss = _faiss()
        # A file that parses may still hold another kind of index (written by something
        # else, or by another version of this code): searching it would give wrong scores.
        if not isinstance(index, faiss.IndexIVFScalarQuantizer):
            raise ValueError(f"{source} holds a {type(index).__name__}, not an IVF-SQ8 index")
        if index.d != self.dim or index.metric_type != faiss.METRIC_INNER_PRODUCT:
            raise ValueError(f"{source} holds a {index.d}-dim index, metric {index.metric_type}")
        if index.sq.qtype != faiss.ScalarQuantizer.QT_8bit or not index.is_trained:
            raise ValueError(f"{source} holds an untrained index or one without 8-bit codes")
        index.set_direct_map_type(faiss.DirectMap.NoMap)
        self._index = index
        self.trained_on = trained_on
        self._tight = TIGHT_ADDS_PER_LIST * index.nlist

    def _trained(self, sample: np.ndarray, n: int | None = None):
        faiss = _faiss()
        lists = self.lists or default_lists(n or len(sample))
        lists = max(1, min(lists, len(sample)))
        quantizer = faiss.IndexFlatIP(self.dim)
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, self.dim, lists, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
        rng = np.random.default_rng(0)
        if len(sample) > TRAIN_PER_LIST * lists:
            sample = sample[np.sort(rng.choice(len(sample), TRAIN_PER_LIST * lists, replace=False))]
        index.train(np.ascontiguousarray(sample, dtype=np.float32))
        return index
