"""Block Kit for every message, modal and App Home whoknows shows in Slack.

Pure functions: data in (the core's intents, plain values), `(fallback text, blocks)` or a
view out. No I/O, no look-ups. Every user-written text is escaped and clipped to Slack's
limits (section text 3000, button text 75, modal title 24, private_metadata 3000...).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.lifecycle.intents import (
    AnswerConfirmed,
    AnswerPosted,
    AskClosed,
    AskExpert,
    FollowUpAnswered,
    FollowUpAsked,
    Notice,
    SimilarFound,
    StatusUpdate,
)
from bot.lifecycle.overview import OpenQuestion, PersonOverview, WaitingRequest
from bot.slack import ids
from bot.slack.text import clip, escape, quote

Block = dict[str, Any]
Message = tuple[str, list[Block]]

OUTCOME_ICONS = {
    "answered": ":white_check_mark:",
    "referred": ":arrow_right_hook:",
    "passed": ":wave:",
    "expired": ":hourglass:",
    "snoozed": ":zzz:",
    "closed": ":heavy_check_mark:",
    "withdrawn": ":leftwards_arrow_with_hook:",
}


# ------------------------------------------------------------------------ elements


def plain_text(text: str, limit: int = 3000) -> dict[str, Any]:
    """A plain_text object."""
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def section(markdown: str) -> Block:
    """A mrkdwn section (clipped to 3000 characters)."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(markdown, 3000)}}


def context(*markdown: str) -> Block:
    """A context block of up to 10 mrkdwn lines."""
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": clip(m, 3000)} for m in markdown[:10]],
    }


def header(text: str) -> Block:
    """A header block."""
    return {"type": "header", "text": plain_text(text, 150)}


def divider() -> Block:
    """A divider."""
    return {"type": "divider"}


def button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    """A button carrying `value` (clipped to 2000 characters)."""
    element: dict[str, Any] = {
        "type": "button",
        "text": plain_text(text, 75),
        "action_id": action_id,
        "value": value[:2000],
    }
    if style:
        element["style"] = style
    return element


def actions(block_id: str, *elements: dict[str, Any]) -> Block:
    """An actions block (Slack allows up to 25 elements)."""
    return {"type": "actions", "block_id": block_id[:255], "elements": list(elements[:25])}


# ------------------------------------------------------------ expert requests (DM)


def expert_buttons(ask_id: int, snooze: bool = True) -> Block:
    """Answer, Refer, Not me (and Snooze) for one request."""
    value = str(ask_id)
    buttons = [
        button("Answer", ids.ANSWER, value, "primary"),
        button("Refer someone", ids.REFER, value),
        button("Not me", ids.PASS, value),
    ]
    if snooze:
        buttons.append(button("Snooze", ids.SNOOZE, value))
    return actions(f"request:{ask_id}", *buttons)


def _request_body(intent: AskExpert) -> list[Block]:
    asker, via = escape(intent.asker_name), escape(intent.via_name or "")
    if intent.via_name:
        opening = f"*{via}* thinks you might know this. *{asker}* asked:"
    else:
        opening = f"*{asker}* has a question I think you can help with:"
    blocks = [section(opening), section(quote(intent.question))]
    lines = []
    if intent.note:
        lines.append(f"*Note from {via}:* {escape(clip(intent.note, 1000))}")
    if intent.reason and not intent.via_name:
        lines.append(f"*Why you:* {escape(clip(intent.reason, 1000))}")
    if intent.connection:
        lines.append(f"*Connection:* {escape(clip(intent.connection, 1000))}")
    if lines:
        blocks.append(context(*lines))
    return blocks


def ask_expert(intent: AskExpert) -> Message:
    """The request DM'd to an expert: the question, the asker, why them, the connection
    path, and the four buttons."""
    text = f"{intent.asker_name} asks: {clip(intent.question, 300)}"
    return text, [*_request_body(intent), expert_buttons(intent.ask_id)]


def ask_closed(original: AskExpert | None, closed: AskClosed) -> Message:
    """The same request updated in place with its outcome. A snoozed request keeps its
    buttons (the expert may still answer before the reminder)."""
    icon = OUTCOME_ICONS.get(closed.outcome, ":information_source:")
    blocks = _request_body(original) if original else []
    blocks.append(context(f"{icon} {escape(closed.detail)}"))
    if closed.outcome == "snoozed":
        blocks.append(expert_buttons(closed.ask_id, snooze=True))
    return closed.detail, blocks


# ------------------------------------------------------- messages to the asker


def _addressed(asker_slack_id: str | None, text: str) -> str:
    return f"<@{asker_slack_id}> {text}" if asker_slack_id else text


def answer_posted(intent: AnswerPosted, asker_slack_id: str | None = None) -> Message:
    """An answer relayed to the asker, attributed with the chain that reached the answerer,
    with Resolved, Ask a follow-up and Confirm."""
    who = escape(intent.answerer_name)
    via = " → ".join(escape(n) for n in intent.chain)
    line = f"*{who}* answered your question" + (f" (reached via {via})" if via else "") + ":"
    blocks = [
        section(_addressed(asker_slack_id, line)),
        section(quote(intent.text)),
        actions(
            f"answer:{intent.answer_id}",
            button("Resolved", ids.RESOLVE, str(intent.answer_id), "primary"),
            button("Ask a follow-up", ids.FOLLOW_UP, str(intent.question_id)),
            button("Confirm", ids.CONFIRM, str(intent.answer_id)),
        ),
        context("Resolved and follow-ups are for the asker; Confirm is for people it reached."),
    ]
    text = f"{intent.answerer_name} answered: {clip(intent.text, 300)}"
    return text, blocks


def answer_confirmed(intent: AnswerConfirmed) -> Message:
    """Someone in the chain vouched for an answer."""
    text = f"{intent.confirmer_name} confirmed {intent.answerer_name}'s answer."
    return text, [
        section(
            f":heavy_check_mark: *{escape(intent.confirmer_name)}* confirmed "
            f"*{escape(intent.answerer_name)}*'s answer."
        )
    ]


def follow_up_answered(intent: FollowUpAnswered) -> Message:
    """The answerer's reply to a follow-up, back where the question was asked."""
    text = f"{intent.answerer_name} replied: {clip(intent.text, 300)}"
    return text, [
        section(f"*{escape(intent.answerer_name)}* replied to your follow-up:"),
        section(quote(intent.text)),
        actions(
            f"reply:{intent.question_id}",
            button("Ask another follow-up", ids.FOLLOW_UP, str(intent.question_id)),
        ),
    ]


def similar_found(intent: SimilarFound, asker_slack_id: str | None = None) -> Message:
    """Earlier answers that may already help, with 'That answers it' / 'Still need someone'."""
    blocks = [
        section(
            _addressed(
                asker_slack_id, "Before I ask anyone, these earlier answers look close to yours:"
            )
        )
    ]
    for match in intent.matches[:3]:
        question = f"*{escape(clip(str(match.get('question', '')), 300))}*"
        url = match.get("url")
        if isinstance(url, str) and url.startswith("https://"):  # a chat thread: link it
            where = "Teams" if match.get("source") == "teams" else "Slack"
            question = f"<{url}|{question}> (a thread in {where})"
        blocks.append(
            section(
                f"{question}\n"
                f"{escape(str(match.get('answerer', '')))}: "
                f"{escape(clip(str(match.get('answer', '')), 1500))}"
            )
        )
    qid = str(intent.question_id)
    blocks.append(
        actions(
            f"similar:{qid}",
            button("That answers it", ids.SIMILAR_HELPED, qid, "primary"),
            button("Still need someone", ids.SIMILAR_NOT, qid),
        )
    )
    return "Some earlier answers may help.", blocks


def status(intent: StatusUpdate) -> Message:
    """How the question is going ("I've asked Dana and Eve")."""
    icon = ":white_check_mark: " if intent.final else ""
    return intent.text, [section(icon + escape(intent.text))]


def notice(intent: Notice) -> Message:
    """A short private message."""
    return intent.text, [section(escape(intent.text))]


def follow_up_asked(intent: FollowUpAsked) -> Message:
    """The asker's follow-up, DM'd to the person who answered, with Reply."""
    text = f"{intent.asker_name} has a follow-up: {clip(intent.text, 300)}"
    return text, [
        section(
            f"*{escape(intent.asker_name)}* has a follow-up on "
            f"“{escape(clip(intent.question, 300))}”:"
        ),
        section(quote(intent.text)),
        actions(
            f"follow_up:{intent.question_id}",
            button("Reply", ids.REPLY, str(intent.question_id), "primary"),
        ),
    ]


def help_message() -> Message:
    """What whoknows does and how to ask."""
    text = (
        "I find colleagues who can answer your question and ask them for you. Ask me here in "
        "a DM, mention me in a channel, use `/ask your question`, or pick *Find someone who "
        "knows* on any message. Questions posted in channels I'm in are routed if nobody "
        "replies in a while."
    )
    return text, [section(text)]


# ----------------------------------------------------------------------- modals


def metadata(values: dict[str, Any]) -> str:
    """`values` as a view's private_metadata (at most 3000 characters: a long
    response_url is dropped first)."""
    text = json.dumps(values, separators=(",", ":"))
    if len(text) > 3000:
        text = json.dumps({k: v for k, v in values.items() if k != "response_url"})
    return text[:3000]


def modal(
    callback_id: str,
    title: str,
    blocks: list[Block],
    submit: str | None,
    private_metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A modal view."""
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain_text(title, 24),
        "close": plain_text("Cancel", 24),
        "blocks": blocks[:100],
        "private_metadata": metadata(private_metadata or {}),
    }
    if submit:
        view["submit"] = plain_text(submit, 24)
    return view


def text_input(
    ids_: tuple[str, str],
    label: str,
    initial: str = "",
    multiline: bool = True,
    optional: bool = False,
    hint: str | None = None,
    placeholder: str | None = None,
) -> Block:
    """An input block with a plain text input."""
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": ids_[1],
        "multiline": multiline,
        "max_length": 3000,
    }
    if initial:
        element["initial_value"] = clip(initial, 3000)
    if placeholder:
        element["placeholder"] = plain_text(placeholder, 150)
    block: Block = {
        "type": "input",
        "block_id": ids_[0],
        "label": plain_text(label, 2000),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = plain_text(hint, 2000)
    return block


def answer_modal(question: str, meta: dict[str, Any]) -> dict[str, Any]:
    """Answer a request: the question, and a text box."""
    return modal(
        ids.VIEW_ANSWER,
        "Answer",
        [
            section(quote(question, 1500)),
            text_input(
                ids.TEXT_INPUT,
                "Your answer",
                hint="It goes to the asker with your name; they can ask a follow-up.",
            ),
        ],
        "Send answer",
        meta,
    )


def refer_modal(question: str, meta: dict[str, Any]) -> dict[str, Any]:
    """Refer a request: pick a colleague, add a note."""
    picker = {
        "type": "input",
        "block_id": ids.USER_INPUT[0],
        "label": plain_text("Who might know?"),
        "element": {"type": "users_select", "action_id": ids.USER_INPUT[1]},
    }
    return modal(
        ids.VIEW_REFER,
        "Refer someone",
        [
            section(quote(question, 1500)),
            picker,
            text_input(
                ids.NOTE_INPUT,
                "Note for them (optional)",
                optional=True,
                placeholder="Why you think they'd know",
            ),
        ],
        "Refer",
        meta,
    )


def ask_modal(question: str, meta: dict[str, Any], in_thread_possible: bool) -> dict[str, Any]:
    """Ask whoknows: the question (editable) and, for a message in a channel, where the
    answer should go."""
    blocks = [text_input(ids.TEXT_INPUT, "Your question", initial=question)]
    if in_thread_possible:
        options = [
            {"text": plain_text("In the message's thread"), "value": "thread"},
            {"text": plain_text("Only to me, in a DM"), "value": "private"},
        ]
        blocks.append(
            {
                "type": "input",
                "block_id": ids.WHERE_INPUT[0],
                "label": plain_text("Where should answers go?"),
                "element": {
                    "type": "radio_buttons",
                    "action_id": ids.WHERE_INPUT[1],
                    "options": options,
                    "initial_option": options[0],
                },
            }
        )
    return modal(ids.VIEW_ASK, "Find who knows", blocks, "Ask", meta)


def follow_up_modal(meta: dict[str, Any]) -> dict[str, Any]:
    """Ask the person who answered something more."""
    return modal(
        ids.VIEW_FOLLOW_UP,
        "Ask a follow-up",
        [text_input(ids.TEXT_INPUT, "Your follow-up")],
        "Send",
        meta,
    )


def reply_modal(meta: dict[str, Any]) -> dict[str, Any]:
    """Reply to a follow-up."""
    return modal(ids.VIEW_REPLY, "Reply", [text_input(ids.TEXT_INPUT, "Your reply")], "Send", meta)


def skills_modal(skills: list[str]) -> dict[str, Any]:
    """Edit what I say I know."""
    return modal(
        ids.VIEW_SKILLS,
        "What you know",
        [
            text_input(
                ids.SKILLS_INPUT,
                "Your skills, one per line or separated by commas",
                initial="\n".join(skills),
                optional=True,
                hint="whoknows uses these, with what you've written and answered, to route "
                "questions to you.",
            )
        ],
        "Save",
    )


def _hour_options() -> list[dict[str, Any]]:
    default = [{"text": plain_text("Org default"), "value": "default"}]
    return default + [{"text": plain_text(f"{h:02d}:00"), "value": str(h)} for h in range(24)]


def _hour_select(ids_: tuple[str, str], label: str, current: int | None) -> Block:
    options = _hour_options()
    chosen = options[0] if current is None else options[current + 1]
    return {
        "type": "input",
        "block_id": ids_[0],
        "label": plain_text(label),
        "element": {
            "type": "static_select",
            "action_id": ids_[1],
            "options": options,
            "initial_option": chosen,
        },
    }


def limits_modal(
    max_asks: int | None, quiet_start: int | None, quiet_end: int | None, defaults: str
) -> dict[str, Any]:
    """Edit asks per day and quiet hours (empty = the org default)."""
    number: dict[str, Any] = {
        "type": "number_input",
        "action_id": ids.MAX_ASKS_INPUT[1],
        "is_decimal_allowed": False,
        "min_value": "0",
        "max_value": "100",
    }
    if max_asks is not None:
        number["initial_value"] = str(max_asks)
    return modal(
        ids.VIEW_LIMITS,
        "Your limits",
        [
            {
                "type": "input",
                "block_id": ids.MAX_ASKS_INPUT[0],
                "label": plain_text("Most requests per day"),
                "element": number,
                "optional": True,
                "hint": plain_text("Empty for the org default; 0 pauses requests."),
            },
            _hour_select(ids.QUIET_START_INPUT, "Quiet hours start (your time)", quiet_start),
            _hour_select(ids.QUIET_END_INPUT, "Quiet hours end (your time)", quiet_end),
            context(escape(defaults)),
        ],
        "Save",
    )


def channel_modal(default_wait: float) -> dict[str, Any]:
    """Admins: routing of unanswered questions in one channel."""
    on_off = [
        {"text": plain_text("Route unanswered questions"), "value": "on"},
        {"text": plain_text("Leave this channel alone"), "value": "off"},
    ]
    return modal(
        ids.VIEW_CHANNEL,
        "Channel settings",
        [
            {
                "type": "input",
                "block_id": ids.CHANNEL_INPUT[0],
                "label": plain_text("Channel"),
                "element": {
                    "type": "conversations_select",
                    "action_id": ids.CHANNEL_INPUT[1],
                    "filter": {
                        "include": ["public", "private"],
                        "exclude_bot_users": True,
                        "exclude_external_shared_channels": True,
                    },
                },
            },
            {
                "type": "input",
                "block_id": ids.ENABLED_INPUT[0],
                "label": plain_text("Questions posted there"),
                "element": {
                    "type": "radio_buttons",
                    "action_id": ids.ENABLED_INPUT[1],
                    "options": on_off,
                    "initial_option": on_off[0],
                },
            },
            {
                "type": "input",
                "block_id": ids.WAIT_INPUT[0],
                "label": plain_text("Minutes to wait for a colleague's reply"),
                "element": {
                    "type": "number_input",
                    "action_id": ids.WAIT_INPUT[1],
                    "is_decimal_allowed": True,
                    "min_value": "0",
                    "max_value": "10080",
                },
                "optional": True,
                "hint": plain_text(f"Empty for the org default ({default_wait:g} minutes)."),
            },
        ],
        "Save",
    )


# --------------------------------------------------------------------- App Home


# The overview's rows are the core's, shared with the Teams settings card.
HomeQuestion = OpenQuestion
HomeRequest = WaitingRequest


@dataclass(frozen=True)
class HomeData(PersonOverview):
    """Everything App Home shows one person. `admin_lines` is None for non-admins."""

    admin_lines: list[str] | None = None


STATE_WORDS = {
    "waiting": "waiting for a colleague's reply",
    "checking": "earlier answers offered",
    "routing": "asking people",
    "answered": "answered",
    "resolved": "resolved",
    "gave_up": "nobody found",
    "cancelled": "answered in the channel",
    "withdrawn": "withdrawn",
}


def home_view(data: HomeData, limit: int = 8) -> dict[str, Any]:
    """The App Home tab."""
    blocks: list[Block] = [header(f"whoknows for {data.name}")]

    blocks.append(section("*My open questions*"))
    if not data.questions:
        blocks.append(context("None right now. Ask with `/ask`, a DM, or a mention."))
    for q in data.questions[:limit]:
        state = STATE_WORDS.get(q.state, q.state)
        item = section(f"{escape(clip(q.text, 280))}\n_{state}_")
        item["accessory"] = button("Close it", ids.HOME_CLOSE, str(q.id))
        blocks.append(item)

    blocks += [divider(), section("*Requests waiting for me*")]
    if not data.requests:
        blocks.append(context("Nothing waiting for you."))
    for r in data.requests[:limit]:
        via = f" (referred by {escape(r.via_name)})" if r.via_name else ""
        blocks.append(
            section(f"*{escape(r.asker_name)}*{via} asks:\n{quote(clip(r.question, 280))}")
        )
        blocks.append(expert_buttons(r.ask_id))

    blocks += [divider(), section("*What whoknows thinks you know*")]
    skills = ", ".join(escape(s) for s in data.skills) or "_none declared_"
    topics = ", ".join(escape(t) for t in data.topics) or "_nothing yet_"
    item = section(f"*Declared:* {skills}\n*Learned from your writing:* {topics}")
    item["accessory"] = button("Edit", ids.HOME_SKILLS, json.dumps(data.skills)[:2000])
    blocks.append(item)
    blocks.append(
        context(
            f"Answers given: {data.answers_given} · requests in the last day: {data.asks_last_day}"
        )
    )

    blocks += [divider(), section("*Being asked*")]
    per_day = "org default" if data.max_asks_per_day is None else str(data.max_asks_per_day)
    if data.quiet_start is None and data.quiet_end is None:
        quiet = "org default"
    else:
        quiet = f"{_hour(data.quiet_start)}–{_hour(data.quiet_end)}"
    limits_value = json.dumps(
        {"max": data.max_asks_per_day, "start": data.quiet_start, "end": data.quiet_end}
    )
    item = section(f"Requests per day: *{per_day}* · quiet hours: *{quiet}*")
    item["accessory"] = button("Change", ids.HOME_LIMITS, limits_value)
    blocks.append(item)
    blocks.append(context(escape(data.defaults)))
    if data.opted_out:
        toggle = section(":no_bell: You are opted out: nobody is routed to you.")
        toggle["accessory"] = button("Opt back in", ids.HOME_OPT_IN, "in", "primary")
    else:
        toggle = section(":bell: You may be asked when you look like the right person.")
        toggle["accessory"] = button("Opt out", ids.HOME_OPT_OUT, "out", "danger")
    blocks.append(toggle)

    if data.admin_lines is not None:
        blocks += [divider(), header("Admin: how whoknows is doing")]
        blocks.append(section("\n".join(escape(line) for line in data.admin_lines)))
        blocks.append(actions("admin", button("Channel settings", ids.ADMIN_CHANNEL, "channel")))
    return {"type": "home", "blocks": blocks[:100]}


def unknown_home() -> dict[str, Any]:
    """App Home for someone the directory doesn't know."""
    return {
        "type": "home",
        "blocks": [
            header("whoknows"),
            section(
                "I don't know you yet: your Slack account isn't in the whoknows directory. "
                "An admin can add everyone with `whoknows import slack`."
            ),
        ],
    }


def _hour(hour: int | None) -> str:
    return "default" if hour is None else f"{hour:02d}:00"
