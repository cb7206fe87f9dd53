"""The encoder, the vector index, indexing and per-person aggregation."""

from __future__ import annotations

import numpy as np

from data.models import KnowledgeItem, Person
from data.store import LexicalHit, Store
from embeddings.encoder import BUNDLED_MODEL_NAME, bundled_model_path
from embeddings.expertise import expertise, lexical_expertise, top_k_mean_by_group
from embeddings.indexer import index_pending
from embeddings.vector_index import VectorIndex


def test_the_bundled_model_is_loaded_from_the_installed_package(encoder):
    assert bundled_model_path().is_dir()
    assert encoder.dim == 384
    assert encoder.model_id == f"{BUNDLED_MODEL_NAME}@256"


def test_vectors_are_unit_length_and_paraphrases_are_closer(encoder):
    vecs = encoder.encode(
        [
            "Our pods are getting OOM killed after the deploy",
            "Kubernetes containers run out of memory and restart",
            "How much paid parental leave do employees get?",
        ]
    )
    assert vecs.shape == (3, 384) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2] + 0.2


def test_indexing_embeds_new_and_changed_items_only(encoder):
    store = Store(":memory:")
    store.upsert_people([Person(id="ann", name="Ann")])
    items = [KnowledgeItem(id=f"k{i}", person_id="ann", text=f"note number {i}") for i in range(5)]
    store.upsert_knowledge(items)
    seen: list[tuple[int, int]] = []
    assert index_pending(store, encoder, progress=lambda d, t: seen.append((d, t))) == 5
    assert seen[-1] == (5, 5)
    assert index_pending(store, encoder) == 0
    store.upsert_knowledge([items[2].model_copy(update={"text": "an edited note"})])
    assert index_pending(store, encoder) == 1
    ids, people, matrix = store.vectors(encoder.model_id)
    assert sorted(ids) == [f"k{i}" for i in range(5)] and set(people) == {"ann"}
    edited = matrix[ids.index("k2")]
    assert np.allclose(edited, encoder.encode_one("an edited note"), atol=1e-5)


def test_vector_index_replaces_an_item_in_place():
    index = VectorIndex(2)
    index.upsert(["a", "b"], [0, 1], np.array([[1, 0], [0, 1]], dtype=np.float32))
    index.upsert(["a"], [2], np.array([[0, 1]], dtype=np.float32))
    assert len(index) == 2
    rows, sims = index.top(np.array([0, 1], dtype=np.float32), 2)
    assert sorted(index.item_ids[r] for r in rows) == ["a", "b"]
    assert np.allclose(sims, [1, 1])
    assert index.people.tolist() == [2, 1]


def test_vector_index_grows_past_its_first_capacity():
    index = VectorIndex(3)
    vectors = np.eye(3, dtype=np.float32)[np.arange(3000) % 3]
    index.upsert([f"i{n}" for n in range(3000)], list(range(3000)), vectors)
    assert len(index) == 3000 and index.matrix.shape == (3000, 3)
    assert index.item_ids[2999] == "i2999" and index.people[2999] == 2999


def test_top_k_aggregation_per_person():
    groups = np.array([0, 1, 0, 0, 0, 2])
    scores = np.array([0.9, 0.8, 0.7, 0.5, 0.1, 0.05])  # best first, as the index returns
    best, mean3, sum3 = top_k_mean_by_group(groups, scores, 4, 3)
    assert np.allclose(best, [0.9, 0.8, 0.05, 0])
    assert np.allclose(mean3, [(0.9 + 0.7 + 0.5) / 3, 0.8, 0.05, 0])
    assert np.allclose(sum3, [2.1, 0.8, 0.05, 0])


def test_lexical_scores_ignore_people_outside_the_directory():
    hits = [
        LexicalHit("k1", "ann", 3.0),
        LexicalHit("k2", "ghost", 9.0),
        LexicalHit("k3", "ann", 1.0),
    ]
    best, top5, kept = lexical_expertise(hits, {"ann": 0, "bo": 1}, 2)
    assert best.tolist() == [3.0, 0.0] and top5.tolist() == [4.0, 0.0]
    assert [h.item_id for _, h in kept] == ["k1", "k3"]


def test_evidence_lists_each_persons_best_items(encoder):
    index = VectorIndex(encoder.dim)
    texts = ["Helm rollback runbook", "Postgres replication lag", "Helm chart values"]
    index.upsert(["h1", "p1", "h2"], [0, 1, 0], encoder.encode(texts))
    scores = expertise(
        index,
        encoder.encode_one("roll back a helm release"),
        [LexicalHit("h2", "ann", 2.0)],
        {"ann": 0, "bo": 1},
        10,
    )
    assert scores.sem_max[0] > scores.sem_max[1]
    assert [m.item_id for m in scores.evidence(0)][:2] == ["h1", "h2"]
    assert scores.lex_top5.tolist() == [2.0, 0.0]


def test_the_onnx_int8_backend_agrees_with_torch_and_has_its_own_model_id(encoder, tmp_path):
    from embeddings.encoder import Encoder

    fast = Encoder(max_seq_length=128, backend="onnx-int8", cache_dir=tmp_path)
    texts = [
        "Our pods are getting OOM killed after the deploy",
        "Kubernetes containers run out of memory and restart",
        "How much paid parental leave do employees get?",
        "word " * 300,  # longer than the token limit: truncated, not an error
    ]

    vecs = fast.encode(texts)

    assert fast.model_id == f"{BUNDLED_MODEL_NAME}@128+onnx-int8" != encoder.model_id
    assert vecs.shape == (4, 384) and np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert np.all((vecs[:3] * encoder.encode(texts[:3])).sum(axis=1) > 0.9)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2] + 0.2
    assert list(tmp_path.glob("*.onnx"))  # exported once, then reused from the cache
    assert np.allclose(Encoder(max_seq_length=128, backend="onnx-int8", cache_dir=tmp_path)
                       .encode(texts), vecs, atol=1e-6)  # fmt: skip


def test_an_unknown_encoder_backend_is_refused():
    import pytest

    from embeddings.encoder import Encoder

    with pytest.raises(ValueError, match="unknown encoder backend"):
        Encoder(backend="tensorflow")
