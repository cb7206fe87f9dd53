"""Fixtures of the Teams tests: the indexed sample org is built once per session and copied
for each test; each test gets the running app, the double and a hand-moved clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.demo import load_sample_org
from data.store import Store
from embeddings.indexer import index_pending
from tests.teams.world import TeamsWorld


@pytest.fixture(scope="session")
def sample_db(encoder, tmp_path_factory) -> Path:
    """A database of the sample org with its knowledge embedded (a template to copy)."""
    path = tmp_path_factory.mktemp("teams-sample") / "sample.db"
    store = Store(path)
    load_sample_org(store)
    index_pending(store, encoder)
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return path


@pytest.fixture
def world(encoder, sample_db, tmp_path):
    """The Teams app over the sample org, authentication off."""
    world = TeamsWorld(encoder, tmp_path, template=sample_db)
    yield world
    world.close()


@pytest.fixture
def secure(encoder, sample_db, tmp_path):
    """The Teams app over the sample org, Bot Framework authentication on."""
    world = TeamsWorld(encoder, tmp_path, template=sample_db, auth=True)
    yield world
    world.close()
