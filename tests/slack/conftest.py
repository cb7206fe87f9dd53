"""Fixtures for the Slack adapter tests: the indexed sample org (built once), and a whole
Slack world per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from embeddings.encoder import Encoder
from tests.slack.harness import SlackWorld, build_sample_db


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory: pytest.TempPathFactory, encoder: Encoder) -> Path:
    """The sample org, imported and indexed once; each test works on a copy."""
    path = tmp_path_factory.mktemp("slack-sample") / "sample.db"
    build_sample_db(path, encoder)
    return path


@pytest.fixture
def world(tmp_path: Path, sample_db: Path, encoder: Encoder) -> Iterator[SlackWorld]:
    """The Slack app over HTTP, against the Web API double, on the sample org."""
    w = SlackWorld(tmp_path, sample_db, encoder)
    yield w
    w.close()
