"""The one place that builds the sentence encoder from the settings.

The CLI, the runtime (Slack, Teams, the console), the demo and the evaluation all take
their `Encoder` from here, so the model, batch size, token limit and backend
(`WHOKNOWS_ENCODER_BACKEND`) mean the same everywhere.

Vectors are stored under `Encoder.model_id`, which names the model, the token limit and a
non-torch backend ("all-MiniLM-L6-v2@256+onnx-int8"). Switching the backend or the token
limit therefore never mixes vectors: the indexer embeds every item again under the new id
(`whoknows index`, or the running bot's upkeep), and the router only reads vectors stored
under its own encoder's id.
"""

from __future__ import annotations

from pathlib import Path

from bot.settings import Settings
from embeddings.encoder import Encoder

# Folder beside the database where the exported ONNX model is kept, unless
# WHOKNOWS_ENCODER_CACHE_DIR names another.
DEFAULT_CACHE_FOLDER = "whoknows-encoder-cache"


def encoder_cache_dir(settings: Settings) -> Path:
    """Where the "onnx-int8" backend keeps its exported model: the configured folder, or
    one beside the database (so it survives restarts and temp-directory cleaning)."""
    if settings.encoder_cache_dir is not None:
        return settings.encoder_cache_dir
    return settings.db_path.parent / DEFAULT_CACHE_FOLDER


def encoder_from_settings(settings: Settings) -> Encoder:
    """The encoder the settings describe (model, batch size, token limit, backend)."""
    return Encoder(
        settings.model_path,
        settings.embed_batch_size,
        settings.max_seq_length,
        backend=settings.encoder_backend,
        cache_dir=encoder_cache_dir(settings),
    )
