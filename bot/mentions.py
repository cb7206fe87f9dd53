"""The people a question names, from the markup its platform left in the text.

A question that @mentions someone says the asker thought of them: on real chat the named
person is, by far, the likeliest to answer (EVAL-CHAT.md, racket 2017-2018). The text is
all the core gets, so the mention form is read here, not in each adapter: `<@ID>` or
`<@ID|label>`, as Slack writes it (the Teams adapter turns its mention entities into the
same form; ids are Slack ids, Teams ids or person ids).
"""

from __future__ import annotations

import re

_MENTION = re.compile(r"<@([A-Z0-9][A-Za-z0-9_.-]{0,63})(?:\|[^<>]*)?>")
MAX_MENTIONS = 20  # a question naming more than this names nobody in particular


def mention_refs(text: str) -> list[str]:
    """The ids mentioned in `text`, first mention first, each once."""
    unique = list(dict.fromkeys(m.group(1) for m in _MENTION.finditer(text)))
    return unique if len(unique) <= MAX_MENTIONS else []
