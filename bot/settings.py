"""The one place that reads configuration: environment variables (WHOKNOWS_*) and `.env`.

Every setting is documented in `.env.example`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class EdgeWeights(BaseModel):
    """How strongly each kind of tie connects two people in the contact graph."""

    manager: float = 1.0
    team: float = 0.6
    contact: float = 1.0
    helped: float = 1.5
    interacted: float = 1.0


class RankingWeights(BaseModel):
    """Default weights of the router's features, used until weights are learned."""

    semantic: float = 0.5
    lexical: float = 1.0
    network: float = 1.0
    activity: float = 1.0


class Settings(BaseSettings):
    """whoknows configuration. Nested values use `__`, e.g. WHOKNOWS_WEIGHTS__NETWORK=2."""

    model_config = SettingsConfigDict(
        env_prefix="WHOKNOWS_",
        env_file=".env",
        env_file_encoding="utf-8",
        env_nested_delimiter="__",
        extra="ignore",
    )

    db_path: Path = Field(Path("whoknows.db"), description="SQLite database file.")
    model_path: Path | None = Field(
        None, description="Sentence-transformers model folder; default: the bundled MiniLM."
    )
    embed_batch_size: int = Field(64, ge=1, description="Texts per encoder batch.")
    max_seq_length: int = Field(256, ge=16, le=512, description="Encoder token limit per text.")
    candidates: int = Field(5, ge=1, description="How many candidates `who` shows.")
    semantic_pool: int = Field(
        2000, ge=10, description="Most similar items aggregated into per-person scores."
    )
    lexical_pool: int = Field(500, ge=10, description="Full-text matches considered per question.")
    max_hops: int = Field(3, ge=1, le=6, description="How far out the network signal reaches.")
    edge_weights: EdgeWeights = EdgeWeights()
    weights: RankingWeights = RankingWeights()

    @field_validator("model_path", mode="before")
    @classmethod
    def _empty_means_bundled(cls, value: object) -> object:
        return None if value == "" else value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
