"""Giving freed memory back to the operating system after a big load.

Reading millions of rows in chunks frees as much as it allocates, but glibc's allocator
keeps the freed pages in the process (fragmented between live objects), so the resident
size keeps the high-water mark of every chunk. `malloc_trim` returns the free pages.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from functools import lru_cache


@lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:  # pragma: no cover - not a usual C library
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


def release_free_memory() -> bool:
    """Collect garbage and return free heap pages to the OS (glibc only; elsewhere just
    collects). Returns whether pages were handed back."""
    gc.collect()
    libc = _libc()
    return bool(libc.malloc_trim(0)) if libc is not None else False
