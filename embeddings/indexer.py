"""Keeping stored vectors in step with stored knowledge."""

from __future__ import annotations

from collections.abc import Callable

from data.store import Store
from embeddings.encoder import Encoder

# Items embedded, then saved in one transaction: what an interrupted run can lose at most
# (a few seconds of encoding on 2 cores), and what is in memory at a time.
CHUNK = 512


def index_pending(
    store: Store,
    encoder: Encoder,
    progress: Callable[[int, int], None] | None = None,
    chunk: int = CHUNK,
) -> int:
    """Embed every item that has no vector for this model, or whose text changed.

    Unchanged items are skipped. Items are read, embedded and their vectors saved (each
    chunk committed) `chunk` at a time, so a run that is stopped or killed keeps every
    chunk it finished, and the next run embeds only what is still missing.
    `progress(done, total)` is called as work completes (`total` is counted first, only
    when there is a `progress`). Returns how many items were embedded.
    """
    model = encoder.model_id
    total = store.count_items_needing_vectors(model) if progress else 0
    if progress and total == 0:
        return 0
    done = 0
    for part in store.pages_needing_vectors(model, chunk):

        def step(n: int, start: int = done) -> None:
            if progress:
                # Items written while this runs may add to what was counted.
                progress(start + n, max(total, start + n))

        vectors = encoder.encode([text for _, _, text in part], progress=step)
        store.save_vectors(
            model,
            ((item_id, chash, vec) for (item_id, chash, _), vec in zip(part, vectors, strict=True)),
        )
        done += len(part)
    return done
