"""`whoknows import slack`: the workspace's people and channel memberships, from the Web API.

People come from `users.list` (every page, following `response_metadata.next_cursor`), with
custom profile fields (Department, Team, Manager, Skills...) named by `team.profile.get`;
they go through the same all-or-nothing directory importer as a `users.list` export file.
Channel memberships (`users.conversations` for the channels the bot is in, then
`conversations.members` for each) become "interacted" ties between people who share
channels: each shared channel adds up to 1, less for bigger channels, and channels with more
than `max_members` people (#general and the like say nothing about who knows whom) are
skipped. A tie is never lowered by a sync (it may also come from an import or learning).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from slack_sdk import WebClient

from data.importers.directory import import_slack_members
from data.importers.readers import ImportResult
from data.models import Contact
from data.store import Store, WriteCounts

TIE_KIND = "interacted"
FULL_WEIGHT_SIZE = 8  # channels this small count fully; bigger ones count 8/(n-1) per pair
PAGE = 200
MAX_PAGES = 500  # a safety stop for a cursor that never ends


@dataclass(frozen=True)
class SyncReport:
    """What a directory sync read and wrote."""

    people: ImportResult
    channels: int = 0
    skipped_channels: tuple[str, ...] = ()  # too big to say who knows whom
    ties: WriteCounts | None = None

    def lines(self) -> list[str]:
        """The report as short lines for the command line."""
        lines = [
            f"people: {self.people.counts}"
            + (f" ({self.people.derived})" if self.people.derived else "")
        ]
        if self.ties is not None:
            skipped = len(self.skipped_channels)
            lines.append(
                f"channel ties: {self.ties} from {self.channels} channel(s)"
                + (f"; {skipped} big channel(s) skipped" if skipped else "")
            )
        return lines


def pages(call: Callable[..., Any], key: str, **args: Any) -> list[Any]:
    """Every item under `key` across all pages of a cursor-paginated Web API method."""
    items: list[Any] = []
    cursor = None
    for _ in range(MAX_PAGES):
        response = call(limit=PAGE, cursor=cursor, **args)
        items.extend(response.get(key) or [])
        cursor = (response.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return items
    raise RuntimeError(f"{key}: more than {MAX_PAGES} pages; stopping")


def profile_field_labels(client: WebClient) -> dict[str, str]:
    """Custom profile field id -> label (e.g. "Xf01" -> "Department")."""
    response = client.team_profile_get()
    fields = (response.get("profile") or {}).get("fields") or []
    return {str(f["id"]): str(f["label"]) for f in fields if f.get("id") and f.get("label")}


def channel_ties(
    memberships: dict[str, list[str]], person_of: dict[str, str], max_members: int
) -> tuple[list[Contact], list[str]]:
    """Ties between people who share channels, and the channels skipped as too big.

    `memberships` maps channel id -> Slack user ids; `person_of` maps Slack user id ->
    person id (members not in the directory are ignored)."""
    weights: dict[tuple[str, str], float] = defaultdict(float)
    skipped: list[str] = []
    for channel, members in sorted(memberships.items()):
        people = sorted({person_of[m] for m in members if m in person_of})
        if len(people) > max_members:
            skipped.append(channel)
            continue
        if len(people) < 2:
            continue
        share = min(1.0, FULL_WEIGHT_SIZE / (len(people) - 1))
        for a, b in combinations(people, 2):
            weights[(a, b)] += share
    contacts = [
        Contact(a=a, b=b, kind=TIE_KIND, weight=round(w, 3)) for (a, b), w in weights.items()
    ]
    return contacts, skipped


def _not_lower(store: Store, contacts: Iterable[Contact]) -> list[Contact]:
    """Leave out ties the store already has at least as strong."""
    stored = {(c.a, c.b): c.weight for c in store.contacts() if c.kind == TIE_KIND}
    return [c for c in contacts if stored.get((c.a, c.b), 0.0) < c.weight]


def sync_directory(
    store: Store,
    client: WebClient,
    channels: list[str] | None = None,
    max_members: int = 100,
    with_channels: bool = True,
) -> SyncReport:
    """Import the workspace's people (all or nothing), then channel co-membership ties.

    `channels` limits the ties to those channels (default: every channel the bot is in).
    A Slack error raises `slack_sdk.errors.SlackApiError` before anything is written;
    a bad member raises `ImportFailed` (nothing written either)."""
    # Read everything first, so a Slack error leaves the database untouched.
    labels = profile_field_labels(client)
    members = pages(client.users_list, "members")
    memberships: dict[str, list[str]] = {}
    if with_channels:
        if channels is None:
            found = pages(
                client.users_conversations,
                "channels",
                types="public_channel,private_channel",
                exclude_archived=True,
            )
            channels = [c["id"] for c in found]
        memberships = {
            channel: pages(client.conversations_members, "members", channel=channel)
            for channel in channels
        }
    people = import_slack_members(
        store, {"ok": True, "members": members}, field_labels=labels, source="Slack users.list"
    )
    if not with_channels:
        return SyncReport(people)
    person_of = {p.slack_id: p.id for p in store.people() if p.slack_id}
    contacts, skipped = channel_ties(memberships, person_of, max_members)
    ties = store.upsert_contacts(_not_lower(store, contacts))
    return SyncReport(people, len(memberships), tuple(skipped), ties)
