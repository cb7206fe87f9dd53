"""The one place that reads configuration: environment variables (WHOKNOWS_*) and `.env`.

Every setting is documented in `.env.example`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The sentence encoder's backends (see embeddings/encoder.py): "torch" is the reference,
# "onnx-int8" an int8-quantized ONNX export, several times faster on a CPU.
EncoderBackend = Literal["torch", "onnx-int8"]
ENCODER_BACKENDS: tuple[str, ...] = get_args(EncoderBackend)


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
    tags: float = 0.5
    network: float = 1.0
    mention: float = 2.0
    activity: float = 1.0
    availability: float = 0.5
    responsiveness: float = 0.5


class LifecycleSettings(BaseModel):
    """How questions travel: waiting times, wave sizes, limits and quiet hours."""

    channel_wait_minutes: float = Field(10, ge=0, description="Grace period for humans.")
    first_wave: int = Field(2, ge=1, description="People asked at once.")
    ask_timeout_minutes: float = Field(240, gt=0, description="Until an ask expires.")
    snooze_minutes: float = Field(120, gt=0, description="How long a snooze lasts.")
    max_snoozes: int = Field(2, ge=0, description="Snoozes allowed per ask.")
    max_hops: int = Field(3, ge=1, description="Longest referral chain.")
    max_asks_per_question: int = Field(6, ge=1, description="People asked per question.")
    daily_ask_cap: int = Field(5, ge=1, description="Asks a person gets per 24 hours.")
    max_open_asks: int = Field(3, ge=1, description="Open asks before a person counts as busy.")
    quiet_start_hour: int = Field(20, ge=0, le=23, description="Local hour quiet time starts.")
    quiet_end_hour: int = Field(8, ge=0, le=23, description="Local hour quiet time ends.")
    quiet_weekends: bool = Field(True, description="Saturdays and Sundays are quiet.")
    default_timezone: str = Field("UTC", description="For people with no time zone.")
    similar_threshold: float = Field(0.8, ge=0, le=1, description="Cosine for 'asked before'.")
    start_radius: int = Field(2, ge=1, description="Hops from the asker searched first.")
    candidate_pool: int = Field(20, ge=1, description="Router candidates considered per wave.")
    decline_memory_days: float = Field(30, ge=0, description="How long a pass is remembered.")
    decline_similarity: float = Field(0.6, ge=0, le=1, description="'Similar' to a pass.")
    tick_seconds: float = Field(2.0, gt=0, description="Scheduler loop interval.")
    delivery_retry_seconds: float = Field(30, gt=0, description="First retry after a failure.")


class SlackSettings(BaseModel):
    """The Slack app: credentials, where its Web API is, who administers it."""

    bot_token: str = Field("", description="xoxb- bot token.")
    signing_secret: str = Field("", description="Verifies requests come from Slack.")
    app_token: str = Field("", description="xapp- token for Socket Mode.")
    api_url: str = Field("", description="Web API base URL; empty = Slack's own.")
    admin_ids: list[str] = Field(default_factory=list, description="Slack user ids of admins.")
    host: str = Field("127.0.0.1", description="HTTP mode: address to listen on.")
    port: int = Field(3000, ge=1, le=65535, description="HTTP mode: port to listen on.")


class TeamsSettings(BaseModel):
    """The Teams bot: Bot Framework credentials and where to listen."""

    app_id: str = Field("", description="Microsoft App ID of the bot registration.")
    app_password: str = Field("", description="Its client secret.")
    tenant_id: str = Field("", description="Microsoft Entra tenant id.")
    auth_enabled: bool = Field(True, description="Check Bot Framework JWTs on /api/messages.")
    openid_metadata_url: str = Field(
        "https://login.botframework.com/v1/.well-known/openidconfiguration",
        description="OpenID metadata naming the keys that sign incoming Bot Framework tokens.",
    )
    login_url: str = Field(
        "https://login.microsoftonline.com",
        description="Microsoft Entra authority host for the bot's outgoing tokens.",
    )
    admin_ids: list[str] = Field(default_factory=list, description="Person ids of admins.")
    host: str = Field("127.0.0.1", description="Address to listen on.")
    port: int = Field(3978, ge=1, le=65535, description="Port to listen on.")


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
    encoder_backend: EncoderBackend = Field(
        "torch",
        description="Encoder backend: 'torch' (sentence-transformers) or 'onnx-int8' (ONNX "
        "Runtime, int8 weights, faster on a CPU). Vectors are stored per backend, so a switch "
        "re-embeds every item on the next `whoknows index` (or when the bot starts).",
    )
    encoder_cache_dir: Path | None = Field(
        None,
        description="Where the 'onnx-int8' backend keeps its exported model; default: a "
        "folder 'whoknows-encoder-cache' beside the database.",
    )
    candidates: int = Field(5, ge=1, description="How many candidates `who` shows.")
    semantic_pool: int = Field(
        2000, ge=10, description="Most similar items aggregated into per-person scores."
    )
    lexical_pool: int = Field(500, ge=10, description="Full-text matches considered per question.")
    lexical_max_matches: int = Field(
        20_000, ge=0, description="Leave out a question's commonest words past this many matches."
    )
    max_hops: int = Field(3, ge=1, le=6, description="How far out the network signal reaches.")
    ann: Literal["auto", "on", "off"] = Field(
        "auto", description="Approximate vector search: on, off, or on from ann_threshold items."
    )
    ann_threshold: int = Field(
        100_000, ge=1, description="Items at which 'auto' switches to approximate search."
    )
    ann_nprobe: int = Field(64, ge=1, description="Clusters scanned per approximate search.")
    edge_weights: EdgeWeights = EdgeWeights()
    weights: RankingWeights = RankingWeights()
    lifecycle: LifecycleSettings = LifecycleSettings()
    slack: SlackSettings = SlackSettings()
    teams: TeamsSettings = TeamsSettings()

    @field_validator("model_path", "encoder_cache_dir", mode="before")
    @classmethod
    def _empty_means_default(cls, value: object) -> object:
        """An empty value (`WHOKNOWS_MODEL_PATH=`) means the default."""
        return None if value == "" else value

    @field_validator("encoder_backend", mode="before")
    @classmethod
    def _known_backend(cls, value: object) -> object:
        """Accept a known backend in any case; refuse others, naming the allowed ones."""
        name = value.strip().lower() if isinstance(value, str) else value
        if name not in ENCODER_BACKENDS:
            allowed = ", ".join(repr(b) for b in ENCODER_BACKENDS)
            raise ValueError(f"must be one of {allowed}")
        return name


def settings_problems(invalid: ValidationError) -> str:
    """One line per bad setting, named as it is set (`WHOKNOWS_ANN: ...`), for people
    who configure by environment or `.env` and should not read a traceback."""
    lines = ["Some settings are not valid (from the environment or .env):"]
    for error in invalid.errors():
        name = "WHOKNOWS_" + "__".join(str(part) for part in error["loc"]).upper()
        reason = error["msg"].removeprefix("Value error, ")
        lines.append(f"  {name}: {reason} (got {error.get('input')!r})")
    return "\n".join(lines)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
