"""Bot Framework activity JSON as Teams sends it: messages, card clicks, installs, the
message extension. Users are the sample org's people: `from.id` is a Teams user id
("29:..."), `from.aadObjectId` their Entra object id (the directory's `teams_id`)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from data.models import Person

APP_ID = "00000000-aaaa-4bbb-8ccc-000000000001"
BOT_ID = f"28:{APP_ID}"
BOT_NAME = "whoknows"
TENANT = "11111111-2222-4333-8444-555555555555"
TEAM_ID = "19:team-northwind@thread.tacv2"
CHANNEL_ID = "19:platform-channel@thread.tacv2"
GROUP_CHAT_ID = "19:group-chat@thread.v2"

_ids = itertools.count(1_700_000_000_000)


def next_id() -> str:
    return str(next(_ids))


def user(person: Person, aad: str | None = "directory") -> dict[str, Any]:
    """A Teams user account for `person` (`aad`: their Entra object id; "directory" = the
    directory's teams_id, None = not sent)."""
    account: dict[str, Any] = {"id": f"29:1{person.id}", "name": person.name}
    object_id = person.teams_id if aad == "directory" else aad
    if object_id:
        account["aadObjectId"] = object_id
    return account


def personal_conversation(account: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"a:personal-{account['id']}",
        "conversationType": "personal",
        "tenantId": TENANT,
    }


def channel_conversation(root: str | None = None) -> dict[str, Any]:
    return {
        "id": CHANNEL_ID + (f";messageid={root}" if root else ""),
        "conversationType": "channel",
        "isGroup": True,
        "tenantId": TENANT,
    }


def group_conversation() -> dict[str, Any]:
    return {
        "id": GROUP_CHAT_ID,
        "conversationType": "groupChat",
        "isGroup": True,
        "tenantId": TENANT,
    }


def activity(
    service_url: str,
    kind: str,
    account: dict[str, Any],
    conversation: dict[str, Any],
    activity_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The envelope every Teams activity has."""
    channel_data: dict[str, Any] = {"tenant": {"id": TENANT}}
    if conversation.get("conversationType") == "channel":
        channel_data.update(
            {
                "teamsChannelId": CHANNEL_ID,
                "teamsTeamId": TEAM_ID,
                "channel": {"id": CHANNEL_ID},
                "team": {"id": TEAM_ID},
            }
        )
    return {
        "type": kind,
        "id": activity_id or next_id(),
        "timestamp": datetime.now(UTC).isoformat(),
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": account,
        "recipient": {"id": BOT_ID, "name": BOT_NAME},
        "conversation": conversation,
        "channelData": channel_data,
        "locale": "en-US",
        **extra,
    }


def personal_message(
    service_url: str, account: dict[str, Any], text: str, activity_id: str | None = None
) -> dict[str, Any]:
    """A message in the user's 1:1 chat with the bot."""
    return activity(
        service_url,
        "message",
        account,
        personal_conversation(account),
        activity_id,
        text=text,
        textFormat="plain",
    )


def _mention_of_bot() -> dict[str, Any]:
    return {
        "type": "mention",
        "text": f"<at>{BOT_NAME}</at>",
        "mentioned": {"id": BOT_ID, "name": BOT_NAME},
    }


def channel_mention(
    service_url: str,
    account: dict[str, Any],
    text: str,
    thread_root: str | None = None,
    activity_id: str | None = None,
) -> dict[str, Any]:
    """A channel post (or, with `thread_root`, a reply in a thread) that @mentions the bot."""
    return activity(
        service_url,
        "message",
        account,
        channel_conversation(thread_root),
        activity_id,
        text=f"<at>{BOT_NAME}</at> {text}",
        textFormat="plain",
        entities=[_mention_of_bot()],
    )


def channel_message(
    service_url: str,
    account: dict[str, Any],
    text: str,
    thread_root: str | None = None,
    activity_id: str | None = None,
    at: datetime | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A channel post (or, with `thread_root`, a reply) that does not mention the bot, as
    Teams sends every channel message to an app with `ChannelMessage.Read.Group`: HTML
    text, other people's mentions as <at> tags."""
    activity_id = activity_id or next_id()
    body = activity(
        service_url,
        "message",
        account,
        channel_conversation(thread_root or activity_id),
        activity_id,
        text=text,
        textFormat="plain",
        **extra,
    )
    if at is not None:
        body["timestamp"] = at.isoformat()
    return body


def channel_edit(
    service_url: str,
    account: dict[str, Any],
    message_id: str,
    text: str,
    thread_root: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """The author edited their channel message `message_id` (the activity has its id)."""
    body = activity(
        service_url,
        "messageUpdate",
        account,
        channel_conversation(thread_root or message_id),
        message_id,
        text=text,
        textFormat="plain",
    )
    body["channelData"]["eventType"] = "editMessage"
    body["timestamp"] = (at or datetime.now(UTC)).isoformat()
    return body


def channel_delete(
    service_url: str,
    account: dict[str, Any],
    message_id: str,
    thread_root: str | None = None,
) -> dict[str, Any]:
    """The channel message `message_id` was deleted (a soft delete: Teams keeps a
    placeholder saying so)."""
    body = activity(
        service_url,
        "messageDelete",
        account,
        channel_conversation(thread_root or message_id),
        message_id,
    )
    body["channelData"]["eventType"] = "softDeleteMessage"
    return body


def group_mention(service_url: str, account: dict[str, Any], text: str) -> dict[str, Any]:
    """A group chat message that @mentions the bot."""
    return activity(
        service_url,
        "message",
        account,
        group_conversation(),
        text=f"<at>{BOT_NAME}</at> {text}",
        textFormat="plain",
        entities=[_mention_of_bot()],
    )


def card_action(
    service_url: str,
    account: dict[str, Any],
    verb: str,
    data: dict[str, Any],
    conversation: dict[str, Any] | None = None,
    reply_to_id: str | None = None,
    activity_id: str | None = None,
) -> dict[str, Any]:
    """A click on an Action.Execute button (`data`: the button's data and the inputs)."""
    extra: dict[str, Any] = {
        "name": "adaptiveCard/action",
        "value": {
            "action": {"type": "Action.Execute", "verb": verb, "data": {"verb": verb, **data}},
            "trigger": "manual",
        },
    }
    if reply_to_id:
        extra["replyToId"] = reply_to_id
    return activity(
        service_url,
        "invoke",
        account,
        conversation or personal_conversation(account),
        activity_id or f"f:{next_id()}",
        **extra,
    )


def install(service_url: str, account: dict[str, Any]) -> dict[str, Any]:
    """The app was added to the user's personal scope."""
    return activity(
        service_url,
        "conversationUpdate",
        account,
        personal_conversation(account),
        membersAdded=[{"id": BOT_ID}],
    )


def extension_fetch(
    service_url: str, account: dict[str, Any], message_html: str | None = None
) -> dict[str, Any]:
    """ "Find someone who knows" opened (from a message's ⋯ menu if `message_html`)."""
    value: dict[str, Any] = {"commandId": "findSomeone", "commandContext": "compose"}
    if message_html is not None:
        value["commandContext"] = "message"
        value["messagePayload"] = {
            "id": next_id(),
            "body": {"contentType": "html", "content": message_html},
        }
    return activity(
        service_url,
        "invoke",
        account,
        channel_conversation(),
        f"f:{next_id()}",
        name="composeExtension/fetchTask",
        value=value,
    )


def extension_submit(service_url: str, account: dict[str, Any], question: str) -> dict[str, Any]:
    """The "Find someone who knows" dialog submitted."""
    return activity(
        service_url,
        "invoke",
        account,
        channel_conversation(),
        f"f:{next_id()}",
        name="composeExtension/submitAction",
        value={
            "commandId": "findSomeone",
            "commandContext": "compose",
            "data": {"question": question},
        },
    )


def team_install(service_url: str, account: dict[str, Any]) -> dict[str, Any]:
    """The app was added to a team by `account`."""
    return activity(
        service_url,
        "conversationUpdate",
        account,
        channel_conversation(),
        membersAdded=[{"id": BOT_ID}],
        channelData={
            "tenant": {"id": TENANT},
            "team": {"id": TEAM_ID},
            "eventType": "teamMemberAdded",
        },
    )


def installation_update(
    service_url: str,
    account: dict[str, Any],
    action: str,
    conversation: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The app was added ("add") or removed ("remove") by `account`: in their personal
    scope, or (with `conversation`) in a team's channel or a group chat."""
    return activity(
        service_url,
        "installationUpdate",
        account,
        conversation or personal_conversation(account),
        action=action,
    )


def bot_removed(service_url: str, account: dict[str, Any]) -> dict[str, Any]:
    """The bot was removed from a team by `account`."""
    return activity(
        service_url,
        "conversationUpdate",
        account,
        channel_conversation(),
        membersRemoved=[{"id": BOT_ID}],
        channelData={
            "tenant": {"id": TENANT},
            "team": {"id": TEAM_ID},
            "eventType": "teamMemberRemoved",
        },
    )
