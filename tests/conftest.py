"""Shared fixtures. The real bundled model is loaded once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Settings
from data.store import Store
from embeddings.encoder import Encoder

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    """The bundled all-MiniLM-L6-v2, loaded once."""
    return Encoder()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Default settings with the database in a temporary folder (no .env is read)."""
    return Settings(_env_file=None, db_path=tmp_path / "whoknows.db")


@pytest.fixture
def store() -> Store:
    """An empty in-memory store."""
    return Store(":memory:")
