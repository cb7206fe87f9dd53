"""Who may see what: knowledge learned from a private channel counts only for askers who
are members of that channel (core, platform-free).

Items learned from chat carry their channel in their id (`<platform>:<channel>:...`,
`data.chat_items`), so the restricted items are the ids under the prefixes of the private
channels an admin switched learning on. The router asks `hidden_for(asker)` for each
question and leaves hidden items out of every match, so they neither lift a candidate nor
appear in a "why you". A channel whose members were never synced hides its items from
everyone (it fails closed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from data.chat_store import ChatStore
from data.store import Store

# item ids -> a mask of those the asker may not see
HiddenMask = Callable[[Sequence[str]], np.ndarray]


class Audience:
    """The restricted knowledge items and who may see each."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.chat = ChatStore(store)
        self._channel_of: dict[str, tuple[str, str]] = {}  # item id -> (platform, channel)

    def refresh(self) -> None:
        """Read the restricted items again (after knowledge or channel switches changed)."""
        restricted: dict[str, tuple[str, str]] = {}
        for platform, channel in self.chat.private_learned():
            for item_id in self.store.knowledge_ids_under(f"{platform}:{channel}:"):
                restricted[item_id] = (platform, channel)
        self._channel_of = restricted

    def __len__(self) -> int:
        return len(self._channel_of)

    def hidden_for(self, person_id: str | None) -> HiddenMask | None:
        """A mask function for the items `person_id` may not see, or None when there is
        nothing to hide from them."""
        if not self._channel_of:
            return None
        allowed = self.chat.channels_of(person_id) if person_id else set()
        channel_of = self._channel_of

        def hidden(item_ids: Sequence[str]) -> np.ndarray:
            return np.fromiter(
                (
                    (where := channel_of.get(i)) is not None and where not in allowed
                    for i in item_ids
                ),
                dtype=bool,
                count=len(item_ids),
            )

        return hidden

    def may_see(self, person_id: str | None, item_id: str) -> bool:
        """Whether `person_id` may see one item."""
        where = self._channel_of.get(item_id)
        if where is None:
            return True
        return person_id is not None and where in self.chat.channels_of(person_id)
