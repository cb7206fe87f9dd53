"""Approximate vector search: the IVF index, and the vector index switching to it."""

from __future__ import annotations

import numpy as np
import pytest

from embeddings.ann import IvfIndex, default_lists
from embeddings.vector_index import AnnConfig, VectorIndex


def unit_vectors(n: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    """Clustered unit vectors, like embeddings of texts on a few topics."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((8, dim))
    x = centres[rng.integers(0, 8, n)] + 0.3 * rng.standard_normal((n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def exact_top(x: np.ndarray, q: np.ndarray, k: int) -> set[int]:
    return set(np.argsort(-(x @ q))[:k].tolist())


def test_ivf_search_finds_nearly_all_of_the_exact_neighbours():
    x = unit_vectors(5000)
    index = IvfIndex(16, nprobe=8)
    index.build(np.arange(5000), x)

    for q in x[:10]:
        ids, sims = index.search(q, 50)
        exact = np.sort(x @ q)[::-1]
        assert len(exact_top(x, q, 50) & set(ids.tolist())) >= 35  # near ties may swap
        assert np.all(x[ids] @ q >= exact[49] - 0.02)  # but what it swaps in is as close
        assert np.all(np.diff(sims) <= 1e-6)  # best first
        assert np.allclose(sims, x[ids] @ q, atol=0.02)  # 8-bit codes: cosines nearly exact


def test_a_big_pool_probes_enough_clusters_to_fill_it():
    x = unit_vectors(2000)
    index = IvfIndex(16, nprobe=1)
    index.build(np.arange(2000), x)

    ids, _ = index.search(x[0], 1500)

    assert len(ids) == 1500


def test_upsert_replaces_a_vector_under_the_same_id_and_adds_new_ones():
    x = unit_vectors(2000)
    index = IvfIndex(16, nprobe=64)
    index.build(np.arange(2000), x)
    moved = x[1500]

    index.upsert(np.array([7, 2000]), np.stack([moved, x[3]]))

    assert len(index) == 2001
    ids, sims = index.search(moved, 2)
    assert set(ids.tolist()) == {7, 1500} and sims[0] == pytest.approx(1.0, abs=0.02)
    assert sorted(index.ids().tolist()) == list(range(2001))


def test_growing_fourfold_retrains_the_clusters():
    x = unit_vectors(8000)
    index = IvfIndex(16)
    index.build(np.arange(1000), x[:1000])
    lists_before = index._index.nlist

    index.upsert(np.arange(1000, 4000), x[1000:4000])

    assert index.trained_on == 4000 and index._index.nlist == default_lists(4000) > lists_before
    ids, _ = index.search(x[3999], 1)
    assert ids.tolist() == [3999]


def test_the_index_survives_a_save_and_load(tmp_path):
    x = unit_vectors(3000)
    index = IvfIndex(16, nprobe=8)
    index.build(np.arange(3000), x)
    index.save(tmp_path / "items.faiss")

    loaded = IvfIndex(16, nprobe=8)
    loaded.load(tmp_path / "items.faiss", trained_on=3000)
    loaded.upsert(np.array([5]), x[2999:3000])

    assert len(loaded) == 3000
    assert set(loaded.search(x[2999], 2)[0].tolist()) == {5, 2999}


def test_vector_index_goes_approximate_at_its_threshold_and_keeps_answering():
    x = unit_vectors(3000)
    index = VectorIndex(16, AnnConfig(mode="auto", threshold=2000))
    index.upsert([f"i{n}" for n in range(1500)], list(range(1500)), x[:1500])
    assert not index.approximate

    index.upsert([f"i{n}" for n in range(1500, 3000)], list(range(1500, 3000)), x[1500:])

    assert index.approximate and len(index) == 3000
    rows, _ = index.top(x[0], 20)
    assert len(set(rows.tolist()) & exact_top(x, x[0], 20)) >= 18
    assert index.people[rows[0]] == rows[0] and index.item_ids[rows[0]] == f"i{rows[0]}"
    with pytest.raises(RuntimeError):
        _ = index.matrix


def test_replacing_an_item_in_an_approximate_index_moves_it():
    x = unit_vectors(2000)
    index = VectorIndex(16, AnnConfig(mode="on", min_items=1000))
    index.upsert([f"i{n}" for n in range(2000)], [0] * 2000, x)

    index.upsert(["i9"], [5], x[1999:2000])

    rows, _ = index.top(x[1999], 2)
    assert {index.item_ids[r] for r in rows} == {"i9", "i1999"} and len(index) == 2000
    assert index.people[index.item_ids.index("i9")] == 5


def test_off_never_goes_approximate():
    x = unit_vectors(3000)
    index = VectorIndex(16, AnnConfig(mode="off", threshold=10, min_items=10))
    index.upsert([f"i{n}" for n in range(3000)], [0] * 3000, x)
    assert not index.approximate


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="unknown ANN mode"):
        AnnConfig(mode="sometimes")
