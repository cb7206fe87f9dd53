"""Team channels: what people write there becomes what whoknows knows of them, and a
question posted there without an @mention of the bot waits for a colleague's reply and is
routed if nobody answers in time (as in Slack).

With the `ChannelMessage.Read.Group` resource-specific consent in the manifest, Teams
sends the bot every message of the standard channels of a team it is installed in, not
only those that @mention it, and `messageUpdate` / `messageDelete` activities when those
are edited or deleted.

- Learning: every message from a person (never the bot itself, never another bot) in a
  standard channel is handed to the platform-free `ChatLearner`, in the platform's ids:
  the channel's conversation id, the message id, the author's Entra object id (how the
  directory's `teams_id` is keyed) and, for a reply, its thread's root id. An edit learns
  the new text; a deletion forgets the message.
- Intake: a root post that reads like a question and does not @mention the bot is asked
  with origin "channel": it waits the channel's grace period, then is routed, and its
  answer comes back into its thread. A reply there by someone else first means a
  colleague answered: no routing. Posts that @mention the bot are asked at once, as
  before (`messages.MessageHandler`).

Privacy: only standard channels are learned from or taken questions from. A channel whose
`channelData.channel.type` is anything else ("private", "shared"), or whose conversation
belongs to another tenant, or that names no team, is recorded as private, which the
learner never learns from. Teams leaves `type` out for standard channels; it only puts an
app in private and shared channels when its manifest opts in (`supportsChannelFeatures`),
so a missing type counts as standard only while this app's manifest does not.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from urllib.parse import quote, urlencode

from microsoft_agents.activity import Activity, ActivityTypes, ChannelAccount
from microsoft_agents.hosting.core import TurnContext, TurnState
from microsoft_agents.hosting.teams import TeamsInfo

from bot.learning.chat import Said
from bot.lifecycle.flow import FlowError
from bot.lifecycle.states import OPEN_STATES, QuestionState
from bot.question_text import looks_like_question
from bot.teams.handlers.common import (
    CHANNEL,
    THREAD_MARK,
    as_dict,
    channel_data,
    clean_text,
    conversation_type,
    core,
    event_id,
    mentions_bot,
    place_of,
)
from bot.teams.handlers.services import Services
from bot.teams.package import PACKAGE
from bot.teams.people import PLATFORM
from data.chat_items import LinkMaker

log = logging.getLogger(__name__)

STANDARD = "standard"
GENERAL = "General"  # Teams lists a team's General channel without a name (it is localized)
EDIT, UNDELETE = "editMessage", "undeleteMessage"
MESSAGE_LINK = "https://teams.microsoft.com/l/message"


def teams_links(tenant_id: str | None = None) -> LinkMaker:
    """Links to channel messages, in Teams' deep link format
    `https://teams.microsoft.com/l/message/<channel id>/<message id>?tenantId=..&
    parentMessageId=<root id>&createdTime=..`, with the parts known here (the team's group
    id and names are optional). A message id is the time it was posted in epoch
    milliseconds, which is what `createdTime` takes."""

    def link(channel: str, ts: str, thread: str | None) -> str:
        query: dict[str, str] = {}
        if tenant_id:
            query["tenantId"] = tenant_id
        query["parentMessageId"] = thread or ts
        if ts.isdigit():
            query["createdTime"] = ts
        return f"{MESSAGE_LINK}/{quote(channel, safe=':@')}/{quote(ts, safe='')}?{urlencode(query)}"

    return link


@dataclass(frozen=True)
class Spot:
    """Where a channel message is: its channel, its id and its thread's root."""

    channel: str  # the channel's conversation id (before ";messageid=")
    message: str  # the message's id
    root: str  # the id of its thread's root (the message's own id for a root post)
    private: bool  # not clearly a standard channel: never learned from

    @property
    def is_root(self) -> bool:
        """Whether the message is a thread's root post (not a reply)."""
        return self.root == self.message


def spot_of(activity: Activity) -> Spot | None:
    """Where a team channel activity's message is, or None outside team channels. A
    reply's conversation id is "<channel>;messageid=<root id>"; a root post's names its
    own id there (or nothing)."""
    conversation = activity.conversation
    if conversation_type(activity) != CHANNEL or conversation is None or not activity.id:
        return None
    base, _, root = (conversation.id or "").partition(THREAD_MARK)
    if not base:
        return None
    return Spot(base, activity.id, root or activity.id, not is_standard(activity))


def is_standard(activity: Activity) -> bool:
    """Whether the activity clearly comes from a standard channel (see the module)."""
    data = channel_data(activity)
    if not as_dict(data.get("team")).get("id"):
        return False
    kind = as_dict(data.get("channel")).get("type")
    if kind is not None:
        return isinstance(kind, str) and kind.lower() == STANDARD
    conversation = activity.conversation
    home = as_dict(data.get("tenant")).get("id")
    visiting = conversation.tenant_id if conversation is not None else None
    if visiting and home and visiting != home:  # a channel shared in from another tenant
        return False
    return not _opts_into_other_channels()


@cache
def _opts_into_other_channels() -> bool:
    """Whether the app's manifest asks Teams for private and shared channels too."""
    manifest = json.loads((PACKAGE / "manifest.json").read_text(encoding="utf-8"))
    return "supportsChannelFeatures" in manifest


def human(activity: Activity) -> ChannelAccount | None:
    """The sender, if a person: not the bot itself, nor any other bot ("28:" ids)."""
    sender = activity.from_property
    if sender is None or not sender.id or sender.role == "bot":
        return None
    if sender.id.startswith("28:"):
        return None
    if activity.recipient is not None and sender.id == activity.recipient.id:
        return None
    return sender


def chat_markup(text: str) -> str:
    """Plain text as the chat item rules read messages (Slack-style escapes), so that
    angle brackets and ampersands come out of them as typed."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _epoch(moment: datetime | None) -> float | None:
    return moment.timestamp() if isinstance(moment, datetime) else None


class ChannelMessages:
    """Learning from team channels, and the questions asked there without the bot."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.learner = services.learner
        self.flow = services.runtime.flow
        self.accounts = services.runtime.accounts

    # ------------------------------------------------------------------ messages

    async def posted(self, context: TurnContext) -> None:
        """A new message in a team channel: learned from; without an @mention of the bot,
        a root question waits for a colleague and a reply may be that colleague."""
        activity = context.activity
        spot = spot_of(activity)
        sender = human(activity)
        if spot is None or sender is None:
            return
        text = clean_text(activity)
        await self.learn(context, spot, sender, text)
        if mentions_bot(activity) or spot.private:
            return  # asked of the bot itself (MessageHandler), or nowhere to take it from
        if spot.is_root:
            await self._question(context, spot, text)
        else:
            await self._reply(context, spot, sender)

    async def learn(
        self, context: TurnContext, spot: Spot, sender: ChannelAccount, text: str
    ) -> None:
        """Hand one new or edited message to the learner. An edit keeps the time the
        message was first posted (its day and item stay the same)."""
        await self._see(context, spot)
        stored = await core(self.learner.chat.get, PLATFORM, spot.channel, spot.message)
        at = stored.at if stored is not None else self._time_of(context.activity)
        said = Said(
            spot.channel,
            spot.message,
            at,
            sender.aad_object_id or sender.id,  # the directory's teams_id is the Entra id
            chat_markup(text),
            None if spot.is_root else spot.root,
        )
        learned = await core(self.learner.learn, [said])
        log.debug("learned from %s in %s: %s", spot.message, spot.channel, learned)

    async def forget(self, spot: Spot) -> None:
        """A message was deleted: its knowledge goes with it."""
        gone = await core(self.learner.forget, spot.channel, spot.message)
        log.debug("forgot %s in %s: %s", spot.message, spot.channel, gone)

    def _time_of(self, activity: Activity) -> float:
        """When the message was posted: the activity's time, else its id (epoch ms)."""
        at = _epoch(activity.timestamp)
        if at is not None:
            return at
        if activity.id and activity.id.isdigit():
            return int(activity.id) / 1000
        return self.services.runtime.clock.now().timestamp()

    async def _see(self, context: TurnContext, spot: Spot) -> None:
        """Record the channel (its name, looked up once, and whether it is private)."""
        row = await core(self.learner.chat.channel, PLATFORM, spot.channel)
        if row is not None and row.private == spot.private:
            return
        name = await self._channel_name(context, spot) if row is None else None
        await core(self.learner.see_channel, spot.channel, name, spot.private)

    async def _channel_name(self, context: TurnContext, spot: Spot) -> str | None:
        """The channel's name from the team's channel list (best effort: None if the Bot
        Connector cannot say)."""
        team = as_dict(channel_data(context.activity).get("team")).get("id")
        if not team:
            return None
        try:
            channels = await TeamsInfo.get_team_channels(context, team)
        except Exception as error:  # a name is nice to have; learning goes on without it
            log.info("no name for channel %s: %s", spot.channel, error)
            return None
        for channel in channels:
            if channel.id == spot.channel:
                return channel.name or GENERAL
        return None

    # -------------------------------------------------------------------- intake

    async def _question(self, context: TurnContext, spot: Spot, text: str) -> None:
        """A root post that reads like a question: it waits the channel's grace period
        for a colleague, then is routed; the answer comes back into its thread."""
        if not looks_like_question(text):
            return
        enabled, wait = await core(self.accounts.channel_settings, PLATFORM, spot.channel)
        if not enabled:
            return
        people = self.services.people
        person = await people.person_of(context)
        if person is None:
            return  # not in the directory: stay quiet, nobody asked the bot
        await people.remember(context, person)
        activity = context.activity
        place = {**place_of(activity), "channel": spot.channel, "message_id": spot.message}
        try:
            outcome = await core(
                self.flow.ask,
                person.id,
                text,
                origin="channel",
                place=place,
                private=False,
                event_id=event_id(activity),
                wait_minutes=wait,
            )
        except FlowError as problem:  # too long, say: nobody asked the bot, so stay quiet
            log.info("channel message %s not taken: %s", spot.message, problem)
            return
        log.info(
            "channel question %s in %s: %s", outcome.question_id, spot.channel, outcome.message
        )

    async def question_changed(self, context: TurnContext, spot: Spot, text: str | None) -> None:
        """The message that asked a channel question was edited (`text`) or deleted
        (None): a question still open takes the new text if it still reads as one, or is
        withdrawn, as in Slack. Only a root post can have asked one."""
        if not spot.is_root:
            return
        thread = f"{spot.channel}{THREAD_MARK}{spot.message}"
        question = await core(self.flow.lc.find_question_by_place, "thread_id", thread)
        if question is None or question.origin != "channel":
            return
        if question.state not in OPEN_STATES:
            return
        # An edit or deletion has the id of the message it changes: make the core's
        # duplicate check see each change as its own input.
        activity = context.activity
        when = activity.timestamp.isoformat() if activity.timestamp else ""
        change = f"{event_id(activity)}:{activity.type}:{when}"
        if text is None:
            outcome = await core(self.flow.withdraw, question.id, question.asker_id, change)
        elif looks_like_question(text):
            try:
                outcome = await core(
                    self.flow.edit_question, question.id, question.asker_id, text, change
                )
            except FlowError as problem:  # too long, say: it keeps its earlier text
                log.info("edit of question %s not taken: %s", question.id, problem)
                return
        else:
            log.info("question %s edited into something else; keeping its text", question.id)
            return
        log.info("question %s changed by its message: %s", question.id, outcome.message)

    async def _reply(self, context: TurnContext, spot: Spot, sender: ChannelAccount) -> None:
        """A reply in a waiting question's thread: a colleague answered, so no routing
        (the asker's own replies change nothing: the core checks)."""
        thread = f"{spot.channel}{THREAD_MARK}{spot.root}"
        question = await core(self.flow.lc.find_question_by_place, "thread_id", thread)
        if question is None or question.state != QuestionState.WAITING:
            return
        person = await self.services.people.person_of(context)
        replier = person.id if person else f"{PLATFORM}:{sender.aad_object_id or sender.id}"
        outcome = await core(
            self.flow.human_replied, question.id, replier, event_id=event_id(context.activity)
        )
        log.info("reply in the thread of question %s: %s", question.id, outcome.message)


class ChannelChangeHandler:
    """`messageUpdate` (an edit, or a deleted message restored) and `messageDelete` (a soft
    delete) activities of team channels: the learner takes the new text or forgets the
    message. Changes elsewhere (1:1 and group chats) teach nothing."""

    def __init__(self, channels: ChannelMessages) -> None:
        self.channels = channels

    async def __call__(self, context: TurnContext, state: TurnState) -> None:
        activity = context.activity
        spot = spot_of(activity)
        if spot is None:
            return
        if activity.type == ActivityTypes.message_delete:
            await self.channels.forget(spot)
            await self.channels.question_changed(context, spot, None)
            return
        event = channel_data(activity).get("eventType")
        sender = human(activity)
        if event not in (EDIT, UNDELETE) or sender is None:
            return
        text = clean_text(activity)
        await self.channels.learn(context, spot, sender, text)
        if event == EDIT:
            await self.channels.question_changed(context, spot, text)
