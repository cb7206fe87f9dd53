"""Whether a message posted in a channel reads like a question (core, platform-free): the
channel intake of every platform asks this before it waits for a human reply and routes.
"""

from __future__ import annotations

import re

_QUESTION_WORDS = frozenset(
    "who what when where why how which whom whose is are am was were do does did can could "
    "should would will shall may might has have had anyone anybody someone somebody any "
    "help".split()
)


def looks_like_question(text: str) -> bool:
    """Whether a channel message reads like a question worth routing if nobody answers:
    it has a question mark, or opens with a question word, and is more than a word or two.
    `text` is plain text (a platform's markup taken out)."""
    words = re.findall(r"[a-z']+", (text or "").lower())
    if len(words) < 3:
        return False
    return "?" in text or words[0] in _QUESTION_WORDS
