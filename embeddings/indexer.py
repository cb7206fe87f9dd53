"""Keeping stored vectors in step with stored knowledge."""

from __future__ import annotations

from collections.abc import Callable

from data.store import Store
from embeddings.encoder import Encoder


def index_pending(
    store: Store,
    encoder: Encoder,
    progress: Callable[[int, int], None] | None = None,
    chunk: int = 2048,
) -> int:
    """Embed every item that has no vector for this model, or whose text changed.

    Unchanged items are skipped. Vectors are saved chunk by chunk, so an interrupted run
    keeps what it finished. `progress(done, total)` is called as work completes.
    Returns how many items were embedded.
    """
    pending = store.items_needing_vectors(encoder.model_id)
    total = len(pending)
    for start in range(0, total, chunk):
        part = pending[start : start + chunk]

        def step(done: int, start: int = start) -> None:
            if progress:
                progress(start + done, total)

        vectors = encoder.encode([text for _, _, text in part], progress=step)
        store.save_vectors(
            encoder.model_id,
            ((item_id, chash, vec) for (item_id, chash, _), vec in zip(part, vectors, strict=True)),
        )
    return total
