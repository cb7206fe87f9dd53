"""The router: who should be asked this question, and why.

It keeps in-memory mirrors of the store (people, contact graph, item vectors, activity),
pulls changes with `sync()`, and for a question builds every person's features, scores
them and explains the best few: the items that matched and how they are connected to the
asker. It knows nothing of chat platforms.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from bot.features import FEATURES, ActivityStats, FeatureTable, ask_outcomes, build_features
from bot.learning.audience import Audience
from bot.mentions import mention_refs
from bot.ranking import LinearRanker, top_indices
from bot.settings import Settings
from bot.training import META_KEY as RANKER_META_KEY
from bot.training import ranker_from_json
from data.memory import release_free_memory
from data.models import KnowledgeItem, Person
from data.person_directory import PersonDirectory
from data.person_index import PersonIndex
from data.store import Store
from embeddings.encoder import Encoder
from embeddings.expertise import Match, expertise
from embeddings.index_store import IndexFile
from embeddings.vector_index import AnnConfig, VectorIndex
from graph.contact_graph import ContactGraph
from graph.relations import describe_tie, relation_to

log = logging.getLogger(__name__)

# The saved vector index is written again once this many vectors changed since it was
# written (a restart re-reads at most about this many from the store).
SAVE_EVERY = 10_000

_SEARCH_THREADS = 4
_search_pool: ThreadPoolExecutor | None = None
_search_pool_lock = threading.Lock()


def _searches() -> ThreadPoolExecutor:
    """Threads for full-text searches, shared by every router in the process."""
    global _search_pool
    with _search_pool_lock:
        if _search_pool is None:
            _search_pool = ThreadPoolExecutor(_SEARCH_THREADS, thread_name_prefix="whoknows-search")
        return _search_pool


class EmptyQuestion(ValueError):
    """The question has no words in it."""


@dataclass(frozen=True)
class Evidence:
    """A knowledge item that made the router think of someone."""

    item_id: str
    title: str
    source: str | None
    url: str | None
    created_at: str | None
    score: float
    signal: str


@dataclass
class Candidate:
    """One person worth asking, with the reasons."""

    person: Person
    score: float
    hops: int  # 1 = direct contact of the asker, 2 = contact of a contact, 0 = not connected
    path: list[str]  # person ids from the asker to the candidate, when connected
    connection: str  # e.g. "via Dana Ng, your manager"
    evidence: list[Evidence] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    features: dict[str, float] = field(default_factory=dict)


class Router:
    """Ranks colleagues for a question, from the store's people, ties and knowledge."""

    def __init__(
        self,
        store: Store,
        encoder: Encoder,
        settings: Settings,
        ranker: LinearRanker | None = None,
    ) -> None:
        self.store = store
        self.encoder = encoder
        self.settings = settings
        # Weights learned by `whoknows train` (kept in the store) replace the defaults, and
        # are reloaded when retrained; a ranker given here is used as it is.
        self._fixed_ranker = ranker is not None
        self._stored_ranker: str | None = None
        self.ranker = ranker or LinearRanker.from_groups(settings.weights)
        self.people = PersonIndex()
        # Everyone in the directory: columns in memory, full records read on demand.
        self.persons = PersonDirectory(store, self.people)
        self.graph = ContactGraph(self.people, settings.edge_weights.model_dump())
        ann = AnnConfig(settings.ann, settings.ann_threshold, settings.ann_nprobe)
        self.vectors = VectorIndex(encoder.dim, ann)
        self.activity = ActivityStats(self.people)
        self.audience = Audience(store)  # knowledge only some askers may see
        self._opted_out = np.zeros(0, dtype=bool)
        self._in_directory = np.zeros(0, dtype=bool)
        self._seq = 0
        # Vectors keep their own seq: when the saved index is loaded (`embeddings.
        # index_store`), they are read from the seq it was saved at, not from 0.
        self._vector_seq = 0
        self._vectors_checked = 0  # seq of the first sync: see IndexFile.save
        self._first_vector_sync = True
        self._unsaved = 0  # vectors read or dropped since the saved index was written
        self._index_saved = False  # whether the saved index holds this one (at some seq)
        # Saving reads the index while a sync in another thread might grow it.
        self._vector_lock = threading.Lock()
        self._index_file = (
            IndexFile(store, encoder.model_id, encoder.dim, ann)
            if IndexFile.usable(store, ann)
            else None
        )
        self.sync()
        self.save_index()  # a first full read that built an approximate index is saved

    # ----------------------------------------------------------------------- syncing

    def sync(self) -> None:
        """Pull everything that changed in the store since the last sync."""
        seq = self.store.current_seq()
        if self.persons.update(self.store.directory_rows(since_seq=self._seq)):
            self.graph.derive_from_columns(*self.persons.columns())
        # Changes are read in chunks: a first sync may read millions of rows.
        rows = 0
        for contacts in self.store.contact_chunks(since_seq=self._seq):
            self.graph.add_contacts(contacts)
            for contact in contacts:
                self.activity.observe_contact(contact)
            rows += len(contacts)
        for items in self.store.knowledge_chunks(since_seq=self._seq):
            for item in items:
                self.activity.observe_item(item)
            rows += len(items)
        with self._vector_lock:
            if self._first_vector_sync:
                self._first_vector_sync = False
                self._load_saved_index()
                self._vectors_checked = seq
            # Deletions first: an item deleted and written again has a newer vector.
            gone = [i for i in self.store.deleted_items(since_seq=self._vector_seq) if i]
            if gone:
                self._unsaved += self.vectors.remove(gone)
            for ids, authors, matrix in self.store.vector_chunks(
                self.encoder.model_id, since_seq=self._vector_seq
            ):
                self.vectors.upsert(ids, [self.people.add(a) for a in authors], matrix)
                rows += len(ids)
                self._unsaved += len(ids)
            # `seq` was read before the vectors: any written meanwhile are read again next
            # time (an upsert is idempotent), and a save never claims a seq it has not read.
            self._vector_seq = seq
        if rows >= 100_000:  # a big load: hand the chunks' freed memory back
            release_free_memory()
        self._in_directory, self._opted_out = self.persons.masks(len(self.people))
        if seq != self._seq:  # knowledge or a channel switch changed (`mark_changed`)
            self.audience.refresh()
        self._seq = seq
        self.activity.set_ask_outcomes(ask_outcomes(self.store))
        if not self._fixed_ranker:
            self._load_learned_ranker()

    def _load_saved_index(self) -> None:
        """Start from the saved vector index if there is one to trust; the sync then
        reads only the vectors written after it was saved."""
        if self._index_file is None:
            return
        loaded = self._index_file.load(self.people.add)
        if loaded is not None:
            self.vectors = loaded.index
            self._vector_seq = loaded.seq
            self._index_saved = True
            self._unsaved = loaded.dropped + loaded.added

    def save_index(self, min_changes: int = SAVE_EVERY) -> bool:
        """Write the vector index beside the database, if it is approximate and the saved
        one is missing or `min_changes` vectors behind. Called after the first sync and by
        the runtime's upkeep; returns whether it wrote. A failed write is logged, not
        raised: the bot runs on, and retries after `min_changes` more vectors."""
        if self._index_file is None:
            return False
        with self._vector_lock:
            if not self.vectors.approximate or (self._index_saved and self._unsaved < min_changes):
                return False
            try:
                self._index_file.save(
                    self.vectors, self.people.ids, self._vector_seq, self._vectors_checked
                )
            except (OSError, RuntimeError, sqlite3.Error) as e:  # RuntimeError: from faiss
                log.warning(
                    "could not save the vector index in %s: %s", self._index_file.directory, e
                )
                self._index_saved, self._unsaved = True, 0  # wait for more before retrying
                return False
            self._index_saved, self._unsaved = True, 0
        return True

    def _load_learned_ranker(self) -> None:
        """Use the weights `whoknows train` saved, once they exist or whenever they change."""
        stored = self.store.get_meta(RANKER_META_KEY)
        if stored != self._stored_ranker:
            self._stored_ranker = stored
            learned, _ = ranker_from_json(stored)
            self.ranker = learned or LinearRanker.from_groups(self.settings.weights)

    # ----------------------------------------------------------------------- ranking

    def features(
        self,
        question: str,
        asker_id: str | None,
        now: float | None = None,
        query_vector: np.ndarray | None = None,
        tags: Sequence[str] = (),
    ) -> FeatureTable:
        """Every person's features for `question` asked by `asker_id`.

        `now` (epoch seconds) and `query_vector` may be given by a replay; by default the
        current time and the encoded question are used. `tags` are the question's topics
        when known; otherwise known tags named in the question are used.
        """
        if not question or not question.strip():
            raise EmptyQuestion("the question is empty: type what you want to know")
        # The full-text search runs in another thread while this one embeds the question
        # and searches the vectors: SQLite, ONNX Runtime and faiss let go of the GIL. At 1M
        # items on an idle 2-core machine: 37 ms a question instead of 50 in line (on a
        # busy one, no gain and no loss).
        search = _searches().submit(
            self.store.lexical_search,
            question,
            limit=self.settings.lexical_pool,
            max_matches=self.settings.lexical_max_matches,
        )
        qvec = self.encoder.encode_one(question) if query_vector is None else query_vector
        proximity = self.graph.proximity(asker_id)
        scores = expertise(
            self.vectors,
            qvec,
            search.result,
            self.people.as_dict(),
            self.settings.semantic_pool,
            answer_mask=self.activity.is_answer,
            hidden=self.audience.hidden_for(asker_id),  # private channels: members only
        )
        return build_features(
            scores,
            proximity,
            self.activity,
            now or time.time(),
            tags=self.activity.question_tags(question, tags),
            asker=self.people.get(asker_id) if asker_id else None,
            mentioned=self._mentioned(question),
        )

    def _mentioned(self, question: str) -> list[int]:
        """The people the question @mentions (by person, Slack or Teams id)."""
        found = []
        for ref in mention_refs(question):
            pid = ref if ref in self.persons else None
            if pid is None:
                person = self.store.find_person(ref)
                pid = person.id if person is not None else None
            index = self.people.get(pid) if pid else None
            if index is not None:
                found.append(index)
        return found

    def eligible(self, asker_id: str | None, exclude: Collection[str] = ()) -> np.ndarray:
        """Who may be asked: in the directory, not opted out, not the asker or excluded."""
        mask = self._in_directory & ~self._opted_out
        for pid in (asker_id, *exclude):
            i = self.people.get(pid) if pid else None
            if i is not None:
                mask[i] = False
        return mask

    def rank(
        self,
        question: str,
        asker_id: str | None,
        limit: int = 5,
        exclude: Collection[str] = (),
        now: float | None = None,
        query_vector: np.ndarray | None = None,
    ) -> list[Candidate]:
        """The best `limit` people to ask, best first, each with reasons."""
        table = self.features(question, asker_id, now=now, query_vector=query_vector)
        eligible = self.eligible(asker_id, exclude)
        scores = self.ranker.score(table, eligible)
        chosen = top_indices(table, scores, limit)
        return self._explain(table, scores, chosen, asker_id)

    # -------------------------------------------------------------------- explaining

    def _explain(
        self, table: FeatureTable, scores: np.ndarray, chosen: list[int], asker_id: str | None
    ) -> list[Candidate]:
        matches = {i: table.expertise.evidence(i) for i in chosen}
        items = self.store.knowledge_items(m.item_id for ms in matches.values() for m in ms)
        hops = table.proximity.hops()
        far_paths: dict[int, list[int]] | None = None
        candidates = []
        for i in chosen:
            pid = self.people.ids[i]
            path: list[str] = []
            connection = "not connected to you yet"
            if asker_id and hops[i] == 1:
                path, connection = [asker_id, pid], self._direct_phrase(asker_id, pid)
            elif asker_id and hops[i] == 2:
                path, connection = self._two_hop_phrase(
                    asker_id, pid, int(table.proximity.shared[i])
                )
            elif asker_id:
                if far_paths is None:
                    far_paths = self.graph.shortest_paths_from(
                        asker_id, self.settings.max_hops, targets=chosen
                    )
                if i in far_paths:
                    path = [self.people.ids[j] for j in far_paths[i]]
                    connection = "via " + " → ".join(self._name(p) for p in path[1:-1])
            evidence = [_evidence(m, items[m.item_id]) for m in matches[i] if m.item_id in items]
            candidate = Candidate(
                person=self.persons[pid],
                score=float(scores[i]),
                hops=len(path) - 1 if path else 0,
                path=path,
                connection=connection,
                evidence=evidence,
                features=dict(zip(FEATURES, table.row(i).tolist(), strict=True)),
            )
            candidate.reasons = self._reasons(candidate, i)
            candidates.append(candidate)
        return candidates

    def _direct_phrase(self, asker_id: str, pid: str) -> str:
        ties = self.graph.ties(asker_id, pid)
        return (
            ", ".join(dict.fromkeys(relation_to(asker_id, t) for t in ties)) or "a contact of yours"
        )

    def _two_hop_phrase(self, asker_id: str, pid: str, shared: int) -> tuple[list[str], str]:
        via = self.graph.best_intermediary(asker_id, pid)
        if via is None:
            return [], f"{shared} shared contacts"
        phrase = f"via {self._name(via)} ({self._direct_phrase(asker_id, via)})"
        to_them = self.graph.ties(via, pid)
        if to_them:
            first_names = {p: self._name(p).split()[0] for p in (via, pid)}
            phrase += f": {describe_tie(to_them[0], first_names)}"
        if shared > 1:
            phrase += f"; {shared} shared contacts"
        return [asker_id, via, pid], phrase

    def _reasons(self, candidate: Candidate, i: int) -> list[str]:
        reasons = []
        if candidate.features.get("mentioned"):
            reasons.append("named in the question")
        if candidate.evidence:
            titles = ", ".join(f"“{e.title}”" for e in candidate.evidence[:2])
            more = len(candidate.evidence) - 2
            reasons.append(f"wrote {titles}" + (f" and {more} more" if more > 0 else ""))
        reasons.append(candidate.connection)
        answers = round(float(self.activity.answers[i])) if i < len(self.activity.answers) else 0
        if answers:
            reasons.append(f"has answered {answers} question{'s' if answers != 1 else ''}")
        return reasons

    def _name(self, pid: str) -> str:
        return self.persons.name(pid) or pid


def _evidence(match: Match, item: KnowledgeItem) -> Evidence:
    title = item.title or (item.text[:60] + ("…" if len(item.text) > 60 else ""))
    return Evidence(
        item_id=item.id,
        title=title,
        source=item.source,
        url=item.url,
        created_at=item.created_at,
        score=match.score,
        signal=match.signal,
    )
