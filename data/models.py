"""Pydantic models for the rows whoknows keeps: people, contacts and knowledge items."""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Kinds of tie in the contact graph. `manager` and `team` are derived from the directory;
# the others come from imports or are learned while the bot runs.
EDGE_KINDS = ("manager", "team", "contact", "helped", "interacted")
# Kinds where a -> b differs from b -> a (a reports to b; a helped b). The others are kept
# with a < b, so the same tie written either way round is one tie.
DIRECTED_EDGE_KINDS = frozenset({"manager", "helped"})

# Kinds of knowledge item. `answer` items count towards a person's answering record.
ITEM_KINDS = ("post", "answer", "question", "comment", "doc", "skill")


class Person(BaseModel):
    """One person in the directory."""

    model_config = ConfigDict(str_strip_whitespace=True)

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    email: str | None = None
    title: str | None = None
    department: str | None = None
    team: str | None = None
    manager_id: str | None = None
    location: str | None = None
    timezone: str | None = None
    slack_id: str | None = None
    teams_id: str | None = None
    skills: list[str] = Field(default_factory=list)
    opted_out: bool = False

    @field_validator("email")
    @classmethod
    def _lower_email(cls, value: str | None) -> str | None:
        return value.lower() if value else None

    @field_validator("slack_id", "teams_id", "manager_id", "team", "timezone")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        # An empty id would collide with other empty ids in the unique indexes.
        return value or None


class Contact(BaseModel):
    """A who-knows-whom tie between two people. Direction matters only for `manager`
    (a reports to b) and `helped` (a helped b)."""

    a: str = Field(min_length=1)
    b: str = Field(min_length=1)
    kind: str = "contact"
    weight: float = Field(1.0, gt=0)
    created_at: str | None = None

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value not in EDGE_KINDS:
            raise ValueError(f"unknown contact kind {value!r} (expected one of {EDGE_KINDS})")
        return value


def ordered_pair(a: str, b: str, kind: str) -> tuple[str, str]:
    """The canonical (a, b) order for a tie of `kind`."""
    if kind in DIRECTED_EDGE_KINDS or a <= b:
        return a, b
    return b, a


class KnowledgeItem(BaseModel):
    """Something a person wrote or declared that shows what they know."""

    model_config = ConfigDict(str_strip_whitespace=True)

    id: str = Field(min_length=1)
    person_id: str = Field(min_length=1)
    text: str = Field(min_length=1)
    title: str | None = None
    kind: str = "post"
    source: str | None = None
    url: str | None = None
    tags: list[str] = Field(default_factory=list)
    created_at: str | None = None

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value not in ITEM_KINDS:
            raise ValueError(f"unknown knowledge kind {value!r} (expected one of {ITEM_KINDS})")
        return value

    def embedding_text(self) -> str:
        """The text the encoder sees: title, tags and body."""
        return item_text(self.title, self.tags, self.text)

    def content_hash(self) -> str:
        """A fingerprint of what gets embedded; a changed hash means re-embed."""
        return content_hash(self.embedding_text())


def item_text(title: str | None, tags: list[str], text: str) -> str:
    """Join an item's parts into one passage for the encoder and for display."""
    parts = [title or "", " ".join(tags), text]
    return "\n".join(p for p in parts if p)


def content_hash(text: str) -> str:
    """SHA-256 of `text`, hex, shortened: enough to tell edits apart."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
