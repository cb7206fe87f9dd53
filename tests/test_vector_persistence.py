"""The approximate vector index saved beside the database and loaded on restart.

Real faiss and a real SQLite store on disk; the vectors are random clustered unit vectors
saved under the encoder's model id, so no text is embedded.
"""

from __future__ import annotations

import json
import logging
import shutil
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bot.router import Router
from bot.settings import Settings
from data.models import KnowledgeItem, Person
from data.store import Store
from embeddings import index_store
from embeddings.ann import IvfIndex
from embeddings.encoder import Encoder
from embeddings.index_store import HEADER, TOKEN_KEY, IndexFile
from embeddings.vector_index import AnnConfig, VectorIndex

N_ITEMS = 3000
N_PEOPLE = 60


def unit_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    """Clustered unit vectors, like embeddings of texts on a few topics."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((12, dim))
    x = centres[rng.integers(0, 12, n)] + 0.5 * rng.standard_normal((n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def item(n: int, person: int | None = None, text: str | None = None) -> KnowledgeItem:
    return KnowledgeItem(
        id=f"k{n}",
        person_id=f"p{(n % N_PEOPLE) if person is None else person}",
        text=text or f"note number {n}",
    )


def add_items(store: Store, model_id: str, items: list[KnowledgeItem], vectors: np.ndarray):
    """Store items and their vectors (the vectors stand in for their embeddings)."""
    store.upsert_knowledge(items)
    store.save_vectors(
        model_id, ((i.id, i.content_hash(), v) for i, v in zip(items, vectors, strict=True))
    )


class Org:
    """A database of N_ITEMS items with vectors, and routers opened on it."""

    def __init__(self, path: Path, encoder: Encoder) -> None:
        self.db = path / "org.db"
        self.encoder = encoder
        self.store = Store(self.db)
        self.store.upsert_people(Person(id=f"p{n}", name=f"Person {n}") for n in range(N_PEOPLE))
        self.vectors = unit_vectors(N_ITEMS, encoder.dim, seed=1)
        add_items(self.store, encoder.model_id, [item(n) for n in range(N_ITEMS)], self.vectors)
        self.read = 0  # vector rows the last router read from the store

    @property
    def saved(self) -> Path:
        return Path(f"{self.db}.vectors")

    def router(self, store: Store | None = None) -> Router:
        """A new router (a restart), counting the vector rows it reads from the store."""
        store = store or self.store
        chunks = Store.vector_chunks.__get__(store)
        self.read = 0

        def counted(*args, **kwargs) -> Iterator[tuple[list[str], list[str], np.ndarray]]:
            for ids, people, matrix in chunks(*args, **kwargs):
                self.read += len(ids)
                yield ids, people, matrix

        store.vector_chunks = counted  # type: ignore[method-assign]
        settings = Settings(_env_file=None, db_path=self.db, ann="on")
        return Router(store, self.encoder, settings)

    def add(self, first: int, n: int, seed: int) -> np.ndarray:
        vectors = unit_vectors(n, self.encoder.dim, seed)
        items = [item(i) for i in range(first, first + n)]
        add_items(self.store, self.encoder.model_id, items, vectors)
        return vectors


def results(router: Router, queries: np.ndarray, k: int = 20) -> list[list[tuple[str, str, float]]]:
    """For each query: (item id, author id, similarity) of the top `k` items."""
    out = []
    for q in queries:
        rows, sims = router.vectors.top(q, k)
        people = router.vectors.people[rows]
        out.append(
            [
                (router.vectors.item_ids[r], router.people.ids[p], round(float(s), 5))
                for r, p, s in zip(rows, people, sims, strict=True)
            ]
        )
    return out


def found(router: Router, vector: np.ndarray, k: int = 5) -> list[str]:
    rows, _ = router.vectors.top(vector, k)
    return [router.vectors.item_ids[r] for r in rows]


@pytest.fixture
def org(tmp_path: Path, encoder: Encoder) -> Org:
    return Org(tmp_path, encoder)


def test_a_restart_loads_the_saved_index_and_finds_the_same_items(org):
    first = org.router()
    assert first.vectors.approximate and org.read == N_ITEMS
    assert (org.saved / HEADER).exists()  # saved after the first full read
    queries = unit_vectors(10, org.encoder.dim, seed=9)

    second = org.router()

    assert org.read == 0  # nothing newer than the saved index
    assert second.vectors.approximate and len(second.vectors) == N_ITEMS
    assert results(second, queries) == results(first, queries)
    assert found(second, org.vectors[7])[0] == "k7"


def test_a_restart_reads_only_the_vectors_written_since_the_save(org):
    org.router()
    new = org.add(N_ITEMS, 40, seed=2)
    moved = unit_vectors(5, org.encoder.dim, seed=3)
    replaced = [item(n) for n in range(5)]
    org.store.save_vectors(
        org.encoder.model_id,
        ((i.id, i.content_hash(), v) for i, v in zip(replaced, moved, strict=True)),
    )

    router = org.router()

    assert org.read == 45
    assert len(router.vectors) == N_ITEMS + 40
    assert found(router, new[3])[0] == f"k{N_ITEMS + 3}"
    assert found(router, moved[2])[0] == "k2"
    assert "k2" not in found(router, org.vectors[2], 50)  # the old vector is gone


def test_the_running_router_saves_again_once_enough_vectors_arrived(org):
    router = org.router()
    org.add(N_ITEMS, 30, seed=2)
    router.sync()
    assert not router.save_index(min_changes=31)  # not enough new vectors yet
    assert router.save_index(min_changes=30)

    org.router()

    assert org.read == 0


def test_vectors_written_while_a_sync_reads_are_read_again_after_a_restart(org, monkeypatch):
    router = org.router()
    current_seq = org.store.current_seq
    late = unit_vectors(1, org.encoder.dim, seed=4)

    def seq_then_write() -> int:
        seq = current_seq()
        # Written after the sync read the seq, but before it reads the vectors.
        monkeypatch.undo()
        add_items(org.store, org.encoder.model_id, [item(N_ITEMS)], late)
        return seq

    monkeypatch.setattr(org.store, "current_seq", seq_then_write)
    router.sync()
    assert f"k{N_ITEMS}" in router.vectors  # this router has it already
    assert router.save_index(min_changes=0)

    restarted = org.router()

    assert org.read == 1  # its seq is above the one saved, so it is read again
    assert found(restarted, late[0])[0] == f"k{N_ITEMS}"


def test_deleted_items_are_not_resurrected_by_the_saved_index(org):
    org.router()
    deleted = ["k3", "k10", "k2999"]
    org.store.delete_knowledge(deleted)

    router = org.router()

    assert org.read == 0
    assert len(router.vectors) == N_ITEMS - 3
    assert all(d not in router.vectors for d in deleted)
    for n in (3, 10, 2999):
        assert f"k{n}" not in found(router, org.vectors[n], 50)
    # The holes they leave survive another save and load.
    assert router.save_index(min_changes=0)
    again = org.router()
    assert len(again.vectors) == N_ITEMS - 3 and "k10" not in again.vectors
    assert found(again, org.vectors[11])[0] == "k11"
    # A deleted item that comes back is found again.
    add_items(org.store, org.encoder.model_id, [item(10)], org.vectors[10:11])
    back = org.router()
    assert org.read == 1 and found(back, org.vectors[10])[0] == "k10"


def author(router: Router, item_id: str) -> str:
    return router.people.ids[router.vectors.people[router.vectors.rows_of([item_id])[0]]]


def test_changed_texts_and_authors_are_seen_as_a_full_read_would(org, tmp_path):
    # k8's text changed before its vector was read: a read skips the stale vector.
    org.store.upsert_knowledge([item(8, text="draft")])
    router = org.router()
    assert "k8" not in router.vectors
    # While the router runs: k5's text changes (its vector is now stale, and no new one
    # is written), k6 gets another author; neither changes the vectors' seq, and the
    # running router does not follow them.
    org.store.upsert_knowledge([item(5, text="rewritten"), item(6, person=59)])
    org.add(N_ITEMS, 2, seed=5)
    router.sync()
    assert "k5" in router.vectors and author(router, "k6") == "p6"
    assert router.save_index(min_changes=0)  # saved at a seq after those changes
    # After the save, k8's text is back to what its stored vector was made from.
    org.store.upsert_knowledge([item(8)])

    loaded = org.router()
    copy = tmp_path / "copy.db"
    org.store.db.execute("VACUUM INTO ?", (str(copy),))  # no saved index beside the copy
    full = Router(Store(copy), org.encoder, Settings(_env_file=None, ann="on"))

    assert org.read == 0  # no vector was written after the save
    assert "k5" not in loaded.vectors and "k5" not in full.vectors
    assert author(loaded, "k6") == author(full, "k6") == "p59"
    assert found(loaded, org.vectors[6])[0] == "k6"
    assert found(loaded, org.vectors[8])[0] == "k8"  # read from the store on load
    assert sorted(i for i in loaded.vectors.item_ids if i) == sorted(full.vectors.item_ids)
    assert len(loaded.vectors) == len(full.vectors) == N_ITEMS + 2 - 1


def corrupt_header(saved: Path) -> None:
    (saved / HEADER).write_text('{"format": 1, "model_id"')


def other_model(saved: Path) -> None:
    header = json.loads((saved / HEADER).read_text())
    header["model_id"] = "another-model@256"
    (saved / HEADER).write_text(json.dumps(header))


def truncated_index(saved: Path) -> None:
    path = next(saved.glob("*.faiss"))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def flipped_byte(saved: Path) -> None:
    path = next(saved.glob("*.faiss"))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size: only the checksum tells
    path.write_bytes(bytes(data))


def truncated_rows(saved: Path) -> None:
    path = next(saved.glob("*.rows.json"))
    path.write_bytes(path.read_bytes()[:-10])


def missing_people(saved: Path) -> None:
    next(saved.glob("*.people.npy")).unlink()


def another_faiss_index(saved: Path) -> None:
    """A faiss index of another dimension, with a header that describes it right."""
    path = next(saved.glob("*.faiss"))
    header = json.loads((saved / HEADER).read_text())
    other = IvfIndex(4)
    other.build(np.arange(200), unit_vectors(200, 4, seed=0))
    other.save(path)
    header["files"]["index"]["bytes"] = path.stat().st_size
    header["files"]["index"]["crc32"] = zlib.crc32(path.read_bytes())
    (saved / HEADER).write_text(json.dumps(header))


@pytest.mark.parametrize(
    "damage",
    [
        corrupt_header,
        other_model,
        truncated_index,
        flipped_byte,
        truncated_rows,
        missing_people,
        another_faiss_index,
    ],
)
def test_a_damaged_or_mismatched_file_is_ignored_and_the_index_rebuilt(org, damage, caplog):
    queries = unit_vectors(10, org.encoder.dim, seed=9)
    expected = results(org.router(), queries)
    damage(org.saved)

    with caplog.at_level(logging.WARNING, logger="embeddings.index_store"):
        router = org.router()

    assert "ignoring the saved vector index" in caplog.text
    assert org.read == N_ITEMS  # a full read, as without a file
    assert results(router, queries) == expected
    org.router()
    assert org.read == 0  # and the rebuilt index was saved again


def test_a_replaced_or_restored_database_does_not_trust_the_file(org, tmp_path, caplog):
    org.store.close()
    backup = tmp_path / "backup.db"
    shutil.copy(org.db, backup)  # taken before the index was ever saved
    org.store = Store(org.db)
    org.router()
    org.add(N_ITEMS, 20, seed=6)
    org.router()
    org.store.close()
    shutil.copy(backup, org.db)  # restored: 20 fewer items, and no token
    for wal in (Path(f"{org.db}-wal"), Path(f"{org.db}-shm")):
        wal.unlink(missing_ok=True)
    org.store = Store(org.db)

    with caplog.at_level(logging.WARNING, logger="embeddings.index_store"):
        router = org.router()

    assert "another database" in caplog.text
    assert org.read == N_ITEMS and len(router.vectors) == N_ITEMS


def test_a_new_token_in_the_store_invalidates_the_file(org):
    org.router()
    org.store.set_meta(TOKEN_KEY, "some-other-database")

    org.router()

    assert org.read == N_ITEMS


def test_a_crash_before_the_new_header_leaves_the_old_index_usable(org, monkeypatch):
    router = org.router()
    org.add(N_ITEMS, 25, seed=7)
    router.sync()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(index_store.os, "replace", crash)
    assert not router.save_index(min_changes=0)  # logged, not raised
    monkeypatch.undo()
    assert sorted(p.suffix for p in org.saved.iterdir()) == [".faiss", ".json", ".json", ".npy"]

    restarted = org.router()

    assert org.read == 25 and len(restarted.vectors) == N_ITEMS + 25


def test_a_crash_in_the_middle_of_writing_the_index_file_is_harmless(org, monkeypatch):
    router = org.router()
    org.add(N_ITEMS, 25, seed=7)
    router.sync()
    save_to = IvfIndex.save_to

    def half_then_crash(self, write):
        chunks: list[bytes] = []
        save_to(self, lambda data: chunks.append(data) or len(data))
        write(b"".join(chunks)[:1000])
        raise RuntimeError("killed")

    monkeypatch.setattr(IvfIndex, "save_to", half_then_crash)
    assert not router.save_index(min_changes=0)
    monkeypatch.undo()

    org.router()

    assert org.read == 25  # the old generation, then the newer vectors


def test_files_left_by_a_killed_save_are_ignored_and_cleaned_up(org):
    router = org.router()
    # What a process killed during a save leaves: a half index and a half header.
    (org.saved / "0123456789abcdef.faiss").write_bytes(b"\0" * 1000)
    (org.saved / "0123456789abcdef.header.tmp").write_text('{"format": 1')

    org.router()
    assert org.read == 0

    assert router.save_index(min_changes=0)
    assert not any(p.name.startswith("0123456789abcdef") for p in org.saved.iterdir())


def test_a_token_written_after_the_header_is_needed_for_trust(org, monkeypatch):
    """A crash between the header and the store's token: the new files are not trusted."""
    router = org.router()
    org.add(N_ITEMS, 25, seed=7)
    router.sync()

    def crash(key: str, value: str) -> None:
        raise OSError("killed")

    monkeypatch.setattr(org.store, "set_meta", crash)
    assert not router.save_index(min_changes=0)
    monkeypatch.undo()

    org.router()

    assert org.read == N_ITEMS + 25


def test_an_exact_index_is_not_saved(tmp_path, encoder):
    store = Store(tmp_path / "small.db")
    store.upsert_people(Person(id=f"p{n}", name=f"Person {n}") for n in range(N_PEOPLE))
    add_items(store, encoder.model_id, [item(n) for n in range(50)], unit_vectors(50, 384, 1))

    router = Router(store, encoder, Settings(_env_file=None, db_path=tmp_path / "small.db"))

    assert not router.vectors.approximate and not router.save_index(min_changes=0)
    assert not Path(f"{tmp_path / 'small.db'}.vectors").exists()


def test_a_file_with_fewer_items_than_the_threshold_is_not_loaded(org, caplog):
    org.router()
    settings = Settings(_env_file=None, db_path=org.db, ann="auto", ann_threshold=N_ITEMS + 1)

    with caplog.at_level(logging.WARNING, logger="embeddings.index_store"):
        router = Router(org.store, org.encoder, settings)

    assert not router.vectors.approximate and "would be exact" in caplog.text


def test_index_file_round_trip_keeps_rows_people_and_holes(org):
    router = org.router()
    file = IndexFile(org.store, org.encoder.model_id, org.encoder.dim, router.vectors.ann_config)
    org.store.delete_knowledge(["k1", "k2"])
    numbers: dict[str, int] = {}

    def number(person_id: str) -> int:  # another numbering than the router's
        return numbers.setdefault(person_id, 1000 + len(numbers))

    loaded = file.load(number)
    assert loaded is not None and loaded.dropped == 2 and loaded.added == 0
    seq = org.store.current_seq()
    names = sorted(numbers, key=numbers.__getitem__)
    file.save(loaded.index, [""] * 1000 + names, seq, seq)
    again = file.load(number)

    assert again is not None and again.seq == seq and again.dropped == 0
    assert len(again.index) == N_ITEMS - 2 and again.index.rows == N_ITEMS
    assert again.index.item_ids[1] == again.index.item_ids[2] == ""  # the holes
    for n in (0, 3, 1234, 2999):
        row = again.index.rows_of([f"k{n}"])[0]
        assert row == n and names[int(again.index.people[row]) - 1000] == f"p{n % N_PEOPLE}"


@pytest.mark.parametrize("mode", ["off", "on"])
def test_removed_items_are_never_found_again(mode):
    x = unit_vectors(2000, 16, seed=1)
    index = VectorIndex(16, AnnConfig(mode=mode, min_items=1000))
    index.upsert([f"i{n}" for n in range(2000)], list(range(2000)), x)

    assert index.remove(["i5", "i1999", "i0", "nope", "i5"]) == 3

    assert len(index) == 1997 and "i5" not in index and "i6" in index
    for n in (0, 5, 1999):
        rows, _ = index.top(x[n], 30)
        assert f"i{n}" not in {index.item_ids[r] for r in rows}
    rows, _ = index.top(x[7], 1)
    assert index.item_ids[rows[0]] == "i7" and index.people[rows[0]] == 7
    index.upsert(["i5"], [5], x[5:6])  # back again
    rows, _ = index.top(x[5], 1)
    assert index.item_ids[rows[0]] == "i5" and len(index) == 1998


def test_a_loaded_index_takes_a_big_batch_in_small_steps_and_keeps_every_vector(tmp_path):
    x = unit_vectors(6000, 16, seed=1)
    index = IvfIndex(16, nprobe=8)
    index.build(np.arange(2000), x[:2000])
    index.save(tmp_path / "items.faiss")
    loaded = IvfIndex(16, nprobe=8)
    loaded.load(tmp_path / "items.faiss", trained_on=2000)
    assert 0 < loaded._tight < 4000  # its lists are exactly sized: grow them gently

    loaded.upsert(np.arange(2000, 6000), x[2000:], replacing=False)

    assert loaded._tight == 0 and len(loaded) == 6000
    assert sorted(loaded.ids().tolist()) == list(range(6000))
    for n in (0, 2000, 3999, 5999):
        assert loaded.search(x[n], 1)[0].tolist() == [n]
