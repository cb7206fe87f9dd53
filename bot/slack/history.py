"""`whoknows import slack --history`: what people wrote in the workspace's public channels,
backfilled from the Web API, so that it becomes knowledge as if the bot had always been there.

Channels are the public channels the bot is a member of (`users.conversations`), or the ones
asked for. Each is read newest first with `conversations.history` (pages of 200), and every
thread root's replies with `conversations.replies`; each history page, with the replies of
its threads, goes to `bot.learning.chat.ChatLearner` in one transaction together with where
the channel's backfill has got to (`chat_channels.history`). So a run stopped anywhere (Ctrl-C,
the network, a crash) keeps every page it finished, and the next run goes on from there: a
page is fetched again only if it was in flight (and learning it again changes nothing).

The state of a channel is the span of its history that is done:

- `to`: the newest message done, `from`: the oldest (or the --since bound, or "0" once the
  whole history is in): every message in between is learned, with the replies its thread
  had when it was read;
- `newer`: an unfinished pass over what was posted after `to` (`top`, the newest message of
  that pass, and `reached`, the oldest it has learned so far).

A run first finishes an unfinished pass, then reads what is newer than `to` (`oldest` =
`to`, so a finished backfill run again costs one call per channel and learns nothing new),
then goes on down from `from` to --since (or to the beginning). A --since later than `to`
starts a new span (what was done before is forgotten, not undone: reading it again later
changes nothing).

What is not picked up: a reply posted, after its thread's root was read, to a thread older
than `to` (the root is not read again), unless it was also sent to the channel (a thread
broadcast is in the channel's history, so it is learned as a reply). Edits and deletions of
messages already read are not seen either. Once the bot runs, live learning
(`message.channels` events) covers all of these, as it happens.

Private channels are not backfilled: the learner does not learn from them yet. Channels an
admin has switched off are skipped. Calls are paced to stay within Slack's tiers
(`conversations.history`, `conversations.replies` and `users.conversations` are Tier 3, 50+
per minute, per method per workspace: one call per 1.2 s each) and a 429 is waited out after
its Retry-After by slack_sdk's `RateLimitErrorRetryHandler`. Note: commercially distributed
apps outside the Slack Marketplace installed since May 2025 get 1 history or replies call
per minute (pages of 15); pass a slower `Pacer` for those.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.learning.chat import ChatLearner, Learned, Said
from bot.slack import ids
from bot.slack.directory_sync import pages
from bot.slack.said import said_of, slack_time, workspace_links
from data.chat_items import LinkMaker
from data.chat_store import ChatStore
from data.store import Store

PAGE = 200  # conversations.history and .replies: Slack's recommended page
TIER_3 = 60 / 50  # seconds between two calls of one Tier 3 method (50 per minute)
TIER_INTERVALS = {
    "conversations.history": TIER_3,
    "conversations.replies": TIER_3,
    "users.conversations": TIER_3,
}
# Errors that concern one channel: the others go on. Any other error stops the run.
CHANNEL_ERRORS = {
    "channel_not_found": "no such channel, or the bot cannot see it",
    "not_in_channel": "the bot is not a member (invite it with /invite @whoknows)",
    "method_not_supported_for_channel_type": "not a channel",
}
RESUMES = "what was learned so far is kept; run the same command again to go on from there"


@dataclass(frozen=True)
class Step:
    """Where a channel's backfill is, for a progress display."""

    channel: str
    name: str
    messages: int  # read from Slack in this run so far (bots' and the system's included)
    done: bool = False


Progress = Callable[[Step], None]


class Pacer:
    """Keeps at least `intervals[method]` seconds between two calls of a Web API method
    (0 or absent: no wait). The defaults keep within Slack's tiers; tests pass `Pacer({})`."""

    def __init__(
        self,
        intervals: Mapping[str, float] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.intervals = dict(TIER_INTERVALS if intervals is None else intervals)
        self.clock = clock
        self.sleep = sleep
        self._last: dict[str, float] = {}

    def wait(self, method: str) -> None:
        """Wait until `method` may be called again; the call is counted from now."""
        gap = self.intervals.get(method, 0.0)
        if gap <= 0:
            return
        now = self.clock()
        last = self._last.get(method)
        if last is not None and now < last + gap:
            self.sleep(last + gap - now)
            now = last + gap
        self._last[method] = now

    def paced(self, method: str, call: Callable[..., Any]) -> Callable[..., Any]:
        """`call` (a WebClient method), waiting for its turn each time."""

        def paced_call(**args: Any) -> Any:
            self.wait(method)
            return call(**args)

        return paced_call


@dataclass
class HistoryResult:
    """What a backfill read and learned."""

    channels: list[str] = field(default_factory=list)  # backfilled up to now in this run
    read: int = 0  # messages read (history and replies; bots' and the system's included)
    skipped: int = 0  # of those, not people writing: bots, joins, topics, Slackbot...
    learned: Learned = field(default_factory=Learned)
    off: list[str] = field(default_factory=list)  # switched off by an admin
    private: list[str] = field(default_factory=list)  # private: not learned from yet
    failed: dict[str, str] = field(default_factory=dict)  # channel -> why
    stopped: str | None = None  # why the run stopped before the end (rerunning resumes)

    @property
    def ok(self) -> bool:
        """Every channel asked for was read to the end (or deliberately skipped)."""
        return self.stopped is None and not self.failed

    def summary(self) -> str:
        """One line for the user."""
        items = self.learned.items
        line = (
            f"slack history: {len(self.channels)} channel(s) up to date; {self.read:,} "
            f"message(s) read ({self.skipped:,} from bots or the system skipped); items "
            f"{items.inserted} new, {items.updated} updated, {self.learned.items_deleted} "
            f"removed; {self.learned.ties} tie(s) added or strengthened"
        )
        if self.off:
            line += f"; switched off, skipped: {', '.join(self.off)}"
        if self.private:
            line += f"; private, not learned from: {', '.join(self.private)}"
        if self.failed:
            line += f"; {len(self.failed)} channel(s) failed"
        return line

    def problems(self) -> list[str]:
        """One line per channel that failed, and why the run stopped."""
        lines = [f"{channel}: {why}" for channel, why in self.failed.items()]
        if self.stopped:
            lines.append(self.stopped)
        return lines


class _Stop(Exception):
    """The run cannot go on (the message says why)."""


def backfill_history(
    client: WebClient,
    store: Store,
    since: date | datetime | None = None,
    channels: Iterable[str] | None = None,
    progress: Progress | None = None,
    link: LinkMaker | None = None,
    pacer: Pacer | None = None,
) -> HistoryResult:
    """Learn the message history of the bot's public channels (or of `channels`, ids),
    from `since` (a UTC day, or a moment) or from the beginning; resumable (see the
    module's docstring). Channel errors are reported in the result and the other channels
    go on; a network error, an auth or scope error, or a rate limit that outlasts the
    retries stops the run with `result.stopped` set (nothing is raised). `link` makes the
    links back to messages (default: the workspace's, from `auth.test`); `pacer` spaces
    the calls (default: Slack's tiers)."""
    _wait_out_rate_limits(client)
    pacer = pacer or Pacer()
    low = None if since is None else f"{_epoch(since):.6f}"
    result = HistoryResult()
    try:
        learner = ChatLearner(store, ids.PLATFORM, link or _workspace_links(client))
        for channel, name in _channels(client, pacer, channels, learner, result):
            if not learner.learning(channel):
                result.off.append(channel)
                continue
            backfill = _Channel(client, pacer, learner, channel, name, low, result, progress)
            try:
                backfill.run()
            except SlackApiError as error:
                code = _code(error)
                if code not in CHANNEL_ERRORS:
                    raise
                result.failed[channel] = f"{code}: {CHANNEL_ERRORS[code]}"
                continue
            result.channels.append(channel)
    except SlackApiError as error:
        result.stopped = _stopped_by(error)
    except (OSError, http.client.HTTPException) as error:
        result.stopped = f"stopped: cannot reach Slack ({error or type(error).__name__}); {RESUMES}"
    except _Stop as stop:
        result.stopped = str(stop)
    return result


# ---------------------------------------------------------------------------- internals


class _Channel:
    """The backfill of one channel."""

    def __init__(
        self,
        client: WebClient,
        pacer: Pacer,
        learner: ChatLearner,
        channel: str,
        name: str,
        low: str | None,
        result: HistoryResult,
        progress: Progress | None,
    ) -> None:
        self.history = pacer.paced("conversations.history", client.conversations_history)
        self.replies = pacer.paced("conversations.replies", client.conversations_replies)
        self.learner = learner
        self.chat = ChatStore(learner.store)
        self.channel = channel
        self.name = name
        self.low = low  # --since as a Slack time, or None: the beginning
        self.result = result
        self.progress = progress
        self.read = 0
        row = self.chat.channel(ids.PLATFORM, channel)
        self.state: dict[str, Any] = dict(row.history) if row else {}

    def run(self) -> None:
        """Finish what an earlier run left, read what is new, then what is older."""
        self._step()
        done_to = self.state.get("to")
        if done_to is not None and self.low is not None and float(self.low) > float(done_to):
            self.state = {}  # after everything done: a new span (the module's docstring)
        if "newer" in self.state:
            self._newer(latest=self.state["newer"]["reached"])
        if "to" not in self.state:
            self._older(latest=None)
        else:
            self._newer(latest=None)
            done_from = self.state.get("from", "0")
            if float(done_from) > float(self.low or "0"):
                self._older(latest=done_from)
        self._step(done=True)

    def _older(self, latest: str | None) -> None:
        """Down from `latest` (None: now) to --since; the span grows down page by page."""

        def page_done(state: dict[str, Any], newest: str, oldest: str) -> None:
            state.setdefault("to", newest)  # the first page of the first pass
            state["from"] = oldest

        self._pass(self.low, latest, page_done)
        self._save({**self.state, "from": self.low or "0"})

    def _newer(self, latest: str | None) -> None:
        """What was posted after `to` (down from `latest`, for an unfinished pass); the
        span takes it in when the pass is over."""

        def page_done(state: dict[str, Any], newest: str, oldest: str) -> None:
            newer = dict(state.get("newer") or {"top": newest})
            newer["reached"] = oldest
            state["newer"] = newer

        self._pass(self.state["to"], latest, page_done)
        if "newer" in self.state:
            state = {k: v for k, v in self.state.items() if k != "newer"}
            self._save({**state, "to": self.state["newer"]["top"]})

    def _pass(
        self,
        oldest: str | None,
        latest: str | None,
        page_done: Callable[[dict[str, Any], str, str], None],
    ) -> None:
        """Every history page between `oldest` and `latest` (both excluded; None: the
        beginning, now), newest first: each learned with its threads' replies, and the
        state moved on, in one transaction. Anything posted after the pass began is read
        by the next run."""
        # Always an upper bound: with `oldest` alone Slack pages forward from it (its
        # docs), and a pass must go newest first for its state to mean what it says.
        latest = latest or f"{time.time():.6f}"
        cursor = None
        seen: set[str] = set()
        while True:
            page = self.history(
                channel=self.channel, limit=PAGE, oldest=oldest, latest=latest, cursor=cursor
            )
            messages = [m for m in page.get("messages") or [] if isinstance(m, dict)]
            times = sorted(
                (m["ts"] for m in messages if slack_time(m.get("ts")) is not None), key=float
            )
            if times:
                said = self._with_replies(messages)
                state = dict(self.state)
                page_done(state, times[-1], times[0])
                with self.learner.store.transaction():
                    learned = self.learner.learn(said)
                    self.chat.set_history(ids.PLATFORM, self.channel, state)
                self.state = state
                self.result.learned.add(learned)
            self._step()
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return
            if cursor in seen:  # a cursor that goes round: stop rather than loop for ever
                raise _Stop(f"stopped: Slack repeated a history cursor in {self.channel}")
            seen.add(cursor)

    def _with_replies(self, messages: list[dict[str, Any]]) -> list[Said]:
        """The people's messages of one history page and of its threads (each message once:
        a reply also sent to the channel is in both)."""
        said: list[Said] = []
        seen: set[Any] = set()
        for message in messages:
            self._keep(message, said, seen)
            if _is_root(message):
                for reply in self._thread(str(message["ts"])):
                    self._keep(reply, said, seen)
        return said

    def _keep(self, message: dict[str, Any], said: list[Said], seen: set[Any]) -> None:
        ts = message.get("ts")
        key = ts if isinstance(ts, str) else id(message)  # a malformed ts is still one read
        if key in seen:
            return
        seen.add(key)
        self.read += 1
        self.result.read += 1
        one = said_of(self.channel, message)
        if one is None:
            self.result.skipped += 1
        else:
            said.append(one)

    def _thread(self, root: str) -> list[dict[str, Any]]:
        """A thread's replies, every page (Slack may repeat the root on each: left out)."""
        out: list[dict[str, Any]] = []
        cursor = None
        seen: set[str] = set()
        while True:
            try:
                page = self.replies(channel=self.channel, ts=root, limit=PAGE, cursor=cursor)
            except SlackApiError as error:
                if _code(error) == "thread_not_found":  # deleted since the history page
                    return out
                raise
            out += [
                m for m in page.get("messages") or [] if isinstance(m, dict) and m.get("ts") != root
            ]
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor or cursor in seen:
                return out
            seen.add(cursor)

    def _save(self, state: dict[str, Any]) -> None:
        if state != self.state:
            self.chat.set_history(ids.PLATFORM, self.channel, state)
        self.state = state

    def _step(self, done: bool = False) -> None:
        if self.progress is not None:
            self.progress(Step(self.channel, self.name, self.read, done))


def _channels(
    client: WebClient,
    pacer: Pacer,
    wanted: Iterable[str] | None,
    learner: ChatLearner,
    result: HistoryResult,
) -> list[tuple[str, str]]:
    """(id, name) of the public channels to backfill, each recorded with the learner.
    Asked-for channels the bot is not in are failed, private ones listed as such."""
    listing = pacer.paced("users.conversations", client.users_conversations)
    if wanted is None:
        found = pages(listing, "channels", types="public_channel", exclude_archived=True)
        # Asked for public channels only; a channel Slack says is private is not learned.
        mine = {c["id"]: c for c in found if isinstance(c, dict) and c.get("id")}
        order = list(mine)
    else:
        # An archived channel asked for by id is read too; private ones are named as such.
        found = pages(listing, "channels", types="public_channel,private_channel")
        mine = {c["id"]: c for c in found if isinstance(c, dict) and c.get("id")}
        order = list(dict.fromkeys(wanted))
    out = []
    for channel in order:
        info = mine.get(channel)
        if info is None:
            result.failed[channel] = (
                "not a channel the bot is in: check the id, or invite the bot there "
                "(/invite @whoknows)"
            )
            continue
        name = str(info.get("name") or channel)
        private = bool(info.get("is_private"))
        learner.see_channel(channel, name, private)
        if private:
            result.private.append(channel)
        else:
            out.append((channel, name))
    return out


def _workspace_links(client: WebClient) -> LinkMaker:
    """Links to messages on the workspace's site (auth.test's url), else slack:// links."""
    info = client.auth_test()
    return workspace_links(info.data if isinstance(info.data, dict) else {})


def _wait_out_rate_limits(client: WebClient) -> None:
    """A 429 is waited out (Retry-After) by slack_sdk's own handler; add it if the client
    was built without one (`bot.slack.app.make_client` has it)."""
    if not any(isinstance(h, RateLimitErrorRetryHandler) for h in client.retry_handlers):
        client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=5))


def _stopped_by(error: SlackApiError) -> str:
    code = _code(error)
    status = getattr(error.response, "status_code", None)
    if status == 429 or code == "ratelimited":
        return f"stopped: Slack kept answering 'rate limited' (429); {RESUMES}, later"
    if isinstance(status, int) and status >= 500:
        return f"stopped: Slack is failing (HTTP {status}, {code!r}); {RESUMES}"
    return f"stopped: Slack said {code!r}; {RESUMES}"


def _code(error: SlackApiError) -> str:
    response = error.response
    code = response.get("error") if hasattr(response, "get") else None
    return str(code or "unknown_error")


def _is_root(message: Mapping[str, Any]) -> bool:
    """A thread's root with replies to read: Slack's reply_count, else thread_ts == ts."""
    count = message.get("reply_count")
    if isinstance(count, int):
        return count > 0
    return message.get("thread_ts") is not None and message.get("thread_ts") == message.get("ts")


def _epoch(since: date | datetime) -> float:
    if isinstance(since, datetime):
        return (since if since.tzinfo else since.replace(tzinfo=UTC)).timestamp()
    return datetime(since.year, since.month, since.day, tzinfo=UTC).timestamp()


__all__ = ["HistoryResult", "Pacer", "Step", "backfill_history"]
