"""Answers that already exist in chat: a channel thread whose question (its root)
is close to a new question, and in which someone other than the root's author replied,
is offered to the asker before anyone is asked, with a link to the thread, beside the
earlier answers the bot relayed itself (`Flow._similar_answers`).

The match is question to question: the knowledge item of a reply is found by the vector
search (its text is the reply), and the thread's root (the item's title) must itself be
as close to the new question as an earlier question must be (`similar_threshold`). One
offer per thread, its best reply; never the asker's own thread, and a private channel's
thread only to its members.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bot.router import Router

# Chat platforms whose threads are offered (items with these sources and ids).
CHAT_SOURCES = ("slack", "teams")


def chat_thread_matches(
    router: Router,
    question_vector: np.ndarray,
    asker_id: str,
    threshold: float,
    hits: list[tuple[str, float]],
    name: Callable[[str], str],
    limit: int = 3,
) -> list[dict[str, Any]]:
    """Chat threads that may already answer the question, best first. `hits` are the
    vector search's (item id, similarity) for the question; only chat replies are kept.
    `name(person id)` is how the answerer is named."""
    candidates = [i for i, _ in hits if i.startswith(tuple(f"{s}:" for s in CHAT_SOURCES))]
    hidden = router.audience.hidden_for(asker_id)  # a private channel's: members only
    if hidden is not None and candidates:
        candidates = [i for i, out in zip(candidates, hidden(candidates), strict=True) if not out]
    if not candidates:
        return []
    items = router.store.knowledge_items(candidates)
    replies = [
        items[i]
        for i in candidates
        if i in items
        and items[i].kind == "answer"
        and items[i].person_id != asker_id
        and items[i].title
        and ":day:" not in i
    ]
    if not replies:
        return []
    roots = router.encoder.encode([r.title or "" for r in replies])
    closeness = roots @ np.asarray(question_vector, dtype=np.float32)
    best: dict[str, tuple[float, Any]] = {}  # thread -> (closeness, its best reply)
    for reply, sim in zip(replies, closeness, strict=True):
        thread = reply.id.rsplit(":", 2)[0]  # <source>:<channel>:<root ts>
        if float(sim) < threshold or _asked_by(router, thread, asker_id):
            continue
        if thread not in best or float(sim) > best[thread][0]:
            best[thread] = (float(sim), reply)
    ranked = sorted(best.values(), key=lambda pair: -pair[0])[:limit]
    return [
        {
            "question": reply.title,
            "answer": reply.text,
            "answerer": name(reply.person_id),
            "score": round(sim, 3),
            "url": reply.url,
            "source": reply.source,
        }
        for sim, reply in ranked
    ]


def _asked_by(router: Router, thread: str, asker_id: str) -> bool:
    """Whether the thread's root was written by the asker (their own question)."""
    return any(
        item.person_id == asker_id and item.kind == "post"
        for item in router.store.knowledge_items(
            sorted(router.store.knowledge_ids_under(thread + ":"))
        ).values()
    )
