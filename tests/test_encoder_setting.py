"""The encoder backend as a setting: validated, built in one place, and switching it
re-embeds every item under the new backend's model id, with real models (the ONNX export
is made once for this module, in a temporary cache folder)."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from bot.cli import app
from bot.encoding import DEFAULT_CACHE_FOLDER, encoder_cache_dir, encoder_from_settings
from bot.router import Router
from bot.runtime import Runtime
from bot.settings import ENCODER_BACKENDS, Settings, get_settings, settings_problems
from data.store import Store
from embeddings.encoder import BACKENDS, BUNDLED_MODEL_NAME, Encoder

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
TORCH_ID = f"{BUNDLED_MODEL_NAME}@256"
ONNX_ID = f"{BUNDLED_MODEL_NAME}@256+onnx-int8"

runner = CliRunner()


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder shared by this module's ONNX encoders (the export happens once)."""
    return tmp_path_factory.mktemp("encoder-cache")


@pytest.fixture(scope="module")
def onnx_encoder(onnx_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Encoder:
    """The "onnx-int8" encoder as the settings build it; exports into `onnx_cache`."""
    settings = Settings(
        _env_file=None,
        db_path=tmp_path_factory.mktemp("db") / "whoknows.db",
        encoder_backend="onnx-int8",
        encoder_cache_dir=onnx_cache,
    )
    return encoder_from_settings(settings)


def whoknows(*args: str | Path, env: dict[str, str] | None = None):
    """Run `whoknows ARGS` in-process, with settings read from `env` (and defaults).

    `get_settings()` is cached per process: the cache is cleared before, so the command
    reads `env`, and after, so no settings from here are left for other tests."""
    get_settings.cache_clear()
    try:
        return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200", **(env or {})})
    finally:
        get_settings.cache_clear()


def import_sample(db: Path) -> int:
    """Import the sample org into `db`; returns how many knowledge items it holds."""
    for kind, source in (
        ("directory", SAMPLE / "people.csv"),
        ("contacts", SAMPLE / "contacts.csv"),
        ("knowledge", SAMPLE / "knowledge.jsonl"),
        ("knowledge", SAMPLE / "docs"),
    ):
        result = whoknows("import", kind, source, "--db", db)
        assert result.exit_code == 0, result.output
    store = Store(db)
    try:
        return store.count("knowledge")
    finally:
        store.close()


@pytest.fixture(scope="module")
def torch_org(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """The sample org imported and indexed by `whoknows index` with the torch backend, as a
    database to copy, and how many knowledge items it holds."""
    db = tmp_path_factory.mktemp("torch-org") / "whoknows.db"
    items = import_sample(db)
    result = whoknows("index", "--db", db, env={"WHOKNOWS_ENCODER_BACKEND": "torch"})
    assert result.exit_code == 0, result.output
    assert f"embedded {items} item(s); {items} vectors" in result.stdout
    return db, items


def copy_of(org: tuple[Path, int], folder: Path) -> tuple[Path, int]:
    """A copy of the database in `folder` (SQLite's backup: the WAL's pages included)."""
    db, items = org
    copy = folder / db.name
    with closing(sqlite3.connect(db)) as source, closing(sqlite3.connect(copy)) as target:
        source.backup(target)
    return copy, items


def item_texts(store: Store) -> dict[str, str]:
    """Every item's text as the indexer embeds it (no vectors exist for a made-up model)."""
    return {item_id: text for item_id, _, text in store.items_needing_vectors("no such model")}


# ----------------------------------------------------------------------------- settings


def test_the_backend_defaults_to_torch_and_the_cache_to_a_folder_beside_the_database(tmp_path):
    settings = Settings(_env_file=None, db_path=tmp_path / "org" / "whoknows.db")

    assert settings.encoder_backend == "torch"
    assert settings.encoder_cache_dir is None
    assert encoder_cache_dir(settings) == tmp_path / "org" / DEFAULT_CACHE_FOLDER
    chosen = settings.model_copy(update={"encoder_cache_dir": tmp_path / "models"})
    assert encoder_cache_dir(chosen) == tmp_path / "models"


def test_the_backend_and_cache_folder_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("WHOKNOWS_ENCODER_BACKEND", " ONNX-Int8 ")
    monkeypatch.setenv("WHOKNOWS_ENCODER_CACHE_DIR", str(tmp_path / "onnx"))
    settings = Settings(_env_file=None)
    assert settings.encoder_backend == "onnx-int8"
    assert settings.encoder_cache_dir == tmp_path / "onnx"

    monkeypatch.setenv("WHOKNOWS_ENCODER_CACHE_DIR", "")  # as in .env.example: the default
    assert Settings(_env_file=None).encoder_cache_dir is None


@pytest.mark.parametrize("value", ["tensorflow", "onnx", "", "int8"])
def test_an_unknown_backend_is_refused_naming_the_allowed_ones(monkeypatch, value):
    monkeypatch.setenv("WHOKNOWS_ENCODER_BACKEND", value)
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None)
    message = settings_problems(refused.value)
    expected = f"WHOKNOWS_ENCODER_BACKEND: must be one of 'torch', 'onnx-int8' (got {value!r})"
    assert expected in message


def test_the_settings_offer_exactly_the_encoders_backends():
    assert ENCODER_BACKENDS == BACKENDS


# ----------------------------------------------------------------------------- factory


def test_the_factory_builds_the_torch_encoder_by_default(settings, encoder):
    built = encoder_from_settings(settings.model_copy(update={"embed_batch_size": 8}))

    assert built.backend == "torch" and built.model_id == encoder.model_id == TORCH_ID
    assert built.batch_size == 8
    assert not (settings.db_path.parent / DEFAULT_CACHE_FOLDER).exists()  # torch needs none
    text = "How do I roll back a Helm release?"
    assert np.allclose(built.encode_one(text), encoder.encode_one(text), atol=1e-6)


def test_the_factory_builds_the_onnx_encoder_with_its_own_model_id(onnx_encoder, onnx_cache):
    assert onnx_encoder.backend == "onnx-int8"
    assert onnx_encoder.model_id == ONNX_ID
    assert len(list(onnx_cache.glob("*-int8.onnx"))) == 1  # exported into the cache folder


def test_the_factory_applies_the_token_limit_to_the_onnx_backend(onnx_cache, tmp_path):
    settings = Settings(
        _env_file=None,
        db_path=tmp_path / "whoknows.db",
        encoder_backend="onnx-int8",
        encoder_cache_dir=onnx_cache,
        max_seq_length=128,
    )
    built = encoder_from_settings(settings)

    assert built.model_id == f"{BUNDLED_MODEL_NAME}@128+onnx-int8"
    assert len(list(onnx_cache.glob("*-int8.onnx"))) == 1  # the same export, reused


# ------------------------------------------------------------------------- end to end


def test_whoknows_index_with_onnx_int8_reembeds_every_item_under_the_onnx_model_id(
    tmp_path, torch_org, onnx_cache, onnx_encoder, encoder
):
    db, items = copy_of(torch_org, tmp_path)  # indexed with torch
    onnx_env = {
        "WHOKNOWS_ENCODER_BACKEND": "onnx-int8",
        "WHOKNOWS_ENCODER_CACHE_DIR": str(onnx_cache),
    }

    switched = whoknows("index", "--db", db, env=onnx_env)
    again = whoknows("index", "--db", db, env=onnx_env)

    assert switched.exit_code == 0 and again.exit_code == 0, switched.output + again.output
    assert f"embedded {items} item(s); {2 * items} vectors" in switched.stdout
    assert "embedded 0 item(s)" in again.stdout  # nothing changed since
    assert not (tmp_path / DEFAULT_CACHE_FOLDER).exists()  # the configured cache was used
    store = Store(db)
    texts = item_texts(store)
    torch_ids, _, torch_vectors = store.vectors(TORCH_ID)
    onnx_ids, _, onnx_vectors = store.vectors(ONNX_ID)
    assert sorted(onnx_ids) == sorted(torch_ids) == sorted(texts) and len(texts) == items
    # Real vectors of each backend: ONNX's are its own, close to torch's but not equal.
    expected = onnx_encoder.encode([texts[i] for i in onnx_ids])
    assert np.allclose(onnx_vectors, expected, atol=1e-5)
    by_id = dict(zip(torch_ids, torch_vectors, strict=True))
    reference = np.stack([by_id[i] for i in onnx_ids])
    cosines = (onnx_vectors * reference).sum(axis=1)
    assert cosines.mean() > 0.9 and not np.allclose(onnx_vectors, reference, atol=1e-4)

    # Each router reads only the vectors stored under its own encoder's model id.
    settings = Settings(_env_file=None, db_path=db, ann="off")
    for model, ids, stored in (
        (onnx_encoder, onnx_ids, onnx_vectors),
        (encoder, torch_ids, torch_vectors),
    ):
        router = Router(store, model, settings)
        query = model.encode_one("How do I roll back a Helm release?")
        rows, sims = router.vectors.top(query, items + 1)
        found = {router.vectors.item_ids[int(r)]: float(s) for r, s in zip(rows, sims, strict=True)}
        assert found.keys() == set(ids)
        assert np.allclose([found[i] for i in ids], stored @ query, atol=1e-5)
    store.close()


def test_the_runtime_embeds_with_the_configured_backend_at_start_and_in_upkeep(
    tmp_path, torch_org, onnx_cache, onnx_encoder
):
    db, items = copy_of(torch_org, tmp_path)  # indexed with torch
    settings = Settings(
        _env_file=None, db_path=db, encoder_backend="onnx-int8", encoder_cache_dir=onnx_cache
    )

    runtime = Runtime(settings)
    try:
        assert runtime.encoder.model_id == ONNX_ID
        assert len(runtime.router.vectors) == items  # embedded before serving
        extra = tmp_path / "extra.jsonl"
        text = "To rotate the staging TLS certificate, run the cert-renew job in Jenkins."
        row = {"id": "k-extra", "person": "maya.okafor", "title": "TLS rotation", "text": text}
        extra.write_text(json.dumps(row) + "\n", encoding="utf-8")
        assert whoknows("import", "knowledge", extra, "--db", db).exit_code == 0

        assert runtime.maintain() == 1
        ids, _, vectors = runtime.store.vectors(ONNX_ID)
        assert len(ids) == items + 1 and len(runtime.store.vectors(TORCH_ID)[0]) == items
        added = item_texts(runtime.store)["k-extra"]
        assert np.allclose(vectors[ids.index("k-extra")], onnx_encoder.encode_one(added), atol=1e-5)
    finally:
        runtime.store.close()
