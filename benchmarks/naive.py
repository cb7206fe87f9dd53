"""The naive router the latency figure is compared with: what one would write first.

Same inputs and the same kinds of signal as the real router, computed the obvious way: a
networkx graph searched breadth-first from the asker on every question, a brute-force
numpy scan of every item vector, and Python loops over people to aggregate and score.
"""

from __future__ import annotations

from collections import defaultdict

import networkx as nx
import numpy as np

from data.store import Store
from embeddings.encoder import Encoder
from graph.contact_graph import ContactGraph


class NaiveRouter:
    """Ranks people for a question with per-query graph traversals and full scans."""

    def __init__(self, store: Store, encoder: Encoder, graph: ContactGraph, model_id: str):
        self.store = store
        self.encoder = encoder
        self.ids = list(graph.people.ids)
        adj = graph.adjacency().tocoo()
        self.graph = nx.Graph()
        self.graph.add_nodes_from(range(len(self.ids)))
        upper = adj.row < adj.col
        self.graph.add_weighted_edges_from(
            zip(
                adj.row[upper].tolist(),
                adj.col[upper].tolist(),
                adj.data[upper].tolist(),
                strict=True,
            )
        )
        index = {pid: n for n, pid in enumerate(self.ids)}
        item_ids: list[str] = []
        authors: list[int] = []
        parts = []
        for ids, people, matrix in store.vector_chunks(model_id):
            item_ids += ids
            authors += [index[p] for p in people]
            parts.append(matrix.copy())
        self.item_ids = item_ids
        self.authors = authors
        self.matrix = np.vstack(parts)
        self.index = index

    def top_items(self, qvec: np.ndarray, k: int) -> np.ndarray:
        """Rows of the `k` most similar items, by scanning every vector."""
        sims = self.matrix @ qvec
        return np.argsort(-sims)[:k]

    def rank(self, question: str, asker: str, limit: int = 5, pool: int = 2000) -> list[str]:
        """The best `limit` people for `question`."""
        qvec = self.encoder.encode_one(question)
        sims = self.matrix @ qvec
        top = np.argsort(-sims)[:pool]
        semantic: dict[int, list[float]] = defaultdict(list)
        for row in top:
            semantic[self.authors[row]].append(float(sims[row]))
        lexical: dict[int, list[float]] = defaultdict(list)
        for hit in self.store.lexical_search(question, limit=500):
            if hit.person_id in self.index:
                lexical[self.index[hit.person_id]].append(hit.score)
        me = self.index[asker]
        hops = nx.single_source_shortest_path_length(self.graph, me, cutoff=2)
        direct = {n: self.graph[me][n]["weight"] for n in self.graph[me]}
        two_hop: dict[int, float] = defaultdict(float)
        shared: dict[int, int] = defaultdict(int)
        for via in direct:
            damping = 1.0 / np.log(2.0 + self.graph.degree(via))
            for other, data in self.graph[via].items():
                if other != me and hops.get(other) == 2:
                    two_hop[other] += direct[via] * damping * data["weight"]
                    shared[other] += 1
        best_sem = max((max(v) for v in semantic.values()), default=1.0) or 1.0
        best_lex = max((sum(sorted(v)[-5:]) for v in lexical.values()), default=1.0) or 1.0
        best_direct = max(direct.values(), default=1.0) or 1.0
        best_two = max(two_hop.values(), default=1.0) or 1.0
        scores = []
        for person in range(len(self.ids)):
            if person == me:
                continue
            sem = semantic.get(person)
            lex = lexical.get(person)
            score = 0.5 * (max(sem) / best_sem if sem else 0.0)
            score += sum(sorted(lex)[-5:]) / best_lex if lex else 0.0
            score += 0.5 * direct.get(person, 0.0) / best_direct
            score += 0.3 * two_hop.get(person, 0.0) / best_two
            score += 0.2 * np.log1p(shared.get(person, 0))
            scores.append((score, person))
        scores.sort(reverse=True)
        return [self.ids[p] for _, p in scores[:limit]]
