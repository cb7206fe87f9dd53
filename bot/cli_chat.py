"""Admin commands for chat learning: `whoknows chat channels` (what was learned from which
channel) and `whoknows chat learn CHANNEL on|off|default`.

Registered by `bot.cli_admin.register`. The helpers of bot/cli.py are imported when a
command runs, since bot/cli.py imports this module's registrar.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from bot.learning.chat import ChatLearner, learns_from
from data.chat_store import ChatStore

chat_app = typer.Typer(
    help="What whoknows learns from chat channels, and the per-channel switch.",
    no_args_is_help=True,
)

DbOption = Annotated[Path | None, typer.Option("--db", help="Database file (default: settings).")]
PlatformOption = Annotated[str, typer.Option(help="slack or teams.")]


class Switch(StrEnum):
    """An admin's choice for one channel."""

    on = "on"
    off = "off"
    default = "default"  # public channels on, private ones off


@chat_app.command("channels")
def channels_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON list, for scripts.")] = False,
    db: DbOption = None,
) -> None:
    """List the channels seen: private or public, learning on or off, and how many
    messages, people and knowledge items were learned from each."""
    from bot.cli import _store, out
    from bot.cli_people import emit_json

    store = _store(db, create=False)
    chat = ChatStore(store)
    learned = {(p, c): (n, a) for p, c, n, a in chat.learned_by_channel()}
    table = Table("platform", "channel", "name", "kind", "learning", "messages", "people", "items")
    rows = chat.channels()
    listed = []
    for row in rows:
        messages, people = learned.get((row.platform, row.channel), (0, 0))
        items = len(store.knowledge_ids_under(f"{row.platform}:{row.channel}:"))
        switch = "default" if row.learn is None else ("on" if row.learn else "off")
        state = ("on" if learns_from(row) else "off") + f" ({switch})"
        kind = "private" if row.private else "public"
        listed.append(
            {
                "platform": row.platform,
                "channel": row.channel,
                "name": row.name,
                "private": row.private,
                "learning": learns_from(row),
                "switch": switch,
                "messages": messages,
                "people": people,
                "knowledge_items": items,
            }
        )
        table.add_row(
            row.platform, row.channel, row.name or "", kind, state, f"{messages:,}", f"{people:,}",
            f"{items:,}",
        )  # fmt: skip
    if as_json:
        emit_json(listed)
        return
    if not rows:
        out.print("no chat channels seen yet (import a Slack export, or run the bot)")
        return
    out.print(table)


@chat_app.command("learn")
def learn_cmd(
    channel: Annotated[str, typer.Argument(help="The channel's id (e.g. C0123ABCD).")],
    switch: Annotated[Switch, typer.Argument(help="on, off, or default.")],
    platform: PlatformOption = "slack",
    db: DbOption = None,
) -> None:
    """Switch learning on or off for one channel (default: public on, private off).
    Switching a channel off forgets its messages and the knowledge made of them; what a
    private channel teaches counts only for its members."""
    from bot.cli import _fail, _store, out
    from data.chat_items import slack_links

    if platform not in ("slack", "teams"):
        raise _fail(f"unknown platform {platform!r}: slack or teams")
    store = _store(db, create=False)
    learner = ChatLearner(store, platform, slack_links(None, None))  # links are not rebuilt
    choice = {Switch.on: True, Switch.off: False, Switch.default: None}[switch]
    done = learner.switch(channel, choice)
    now = "on" if learner.learning(channel) else "off"
    out.print(
        f"{platform} channel {channel}: learning {now}; forgot {done.removed:,} message(s) "
        f"and {done.items_deleted:,} knowledge item(s)",
        markup=False,
    )
    row = ChatStore(store).channel(platform, channel)
    if now == "on" and row is not None and row.private:
        out.print(
            "a private channel: what it teaches counts only for its members, which the "
            "running bot reads from Slack when it first learns there (until then, for nobody)",
            markup=False,
        )
