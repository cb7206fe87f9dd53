"""Adaptive Cards and texts for Teams: pure functions, data in, JSON out, no I/O.

Buttons on messages are `Action.Execute` (Universal Actions): a click reaches the bot as an
`adaptiveCard/action` invoke whose `value.action` holds the `verb` and the `data` below,
merged with the card's inputs. The bot answers the invoke with a card (which replaces the
clicked one in place) or a short message (the card stays as it was).
"""

from __future__ import annotations

from typing import Any

from bot.lifecycle.intents import (
    AnswerConfirmed,
    AnswerPosted,
    AskExpert,
    FollowUpAnswered,
    FollowUpAsked,
    Intent,
    Notice,
    SimilarFound,
    StatusUpdate,
)
from bot.lifecycle.overview import PersonOverview

CARD_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.5"
MESSAGE_RESPONSE = "application/vnd.microsoft.activity.message"

# Verbs of the buttons on whoknows' cards.
ANSWER, REFER, PASS, SNOOZE = "answer", "refer", "pass", "snooze"
ACCEPT, RESOLVE, CONFIRM, FOLLOW_UP, REPLY = "accept", "resolve", "confirm", "followup", "reply"
SIMILAR = "similar"
SAVE_SETTINGS, STATS = "save_settings", "stats"
EXPERT_VERBS = frozenset({ANSWER, REFER, PASS, SNOOZE})

OUTCOME_LABELS = {
    "answered": "✅ You answered",
    "referred": "↪️ You referred it",
    "passed": "🙅 You passed",
    "expired": "⌛ Expired",
    "snoozed": "⏰ Snoozed",
    "closed": "✔️ Closed",
    "withdrawn": "↩️ Withdrawn",
}

HELP_TEXT = (
    "I find colleagues who can answer your questions and ask them for you.\n\n"
    "- **Ask me** in this chat: just type your question (or `ask <question>`).\n"
    "- **In a channel or group chat**, @mention me with the question; answers come back "
    "in the thread.\n"
    "- **From any message or the compose box**, use *Find someone who knows* "
    "(the ⋯ menu or the apps button).\n\n"
    "When someone asks you, you get a card: answer, refer a colleague, say *Not me* or "
    "snooze it.\n\n"
    "- **`settings`**: your open questions and requests, what I think you know, and when "
    "I may ask you (or not at all).\n"
    "- **`stats`** (admins): how whoknows is doing."
)
ADMINS_ONLY = "Sorry, the numbers are for whoknows admins only."
NOT_IN_DIRECTORY = (
    "Sorry, I can't find you in the company directory, so I can't route questions for you "
    "yet. Please ask your whoknows admin to add you (by email or Teams id)."
)
FIND_TITLE = "Find someone who knows"


# ------------------------------------------------------------------- building blocks


def attachment(card: dict[str, Any]) -> dict[str, Any]:
    """A card as a message attachment."""
    return {"contentType": CARD_TYPE, "content": card}


def adaptive_card(
    body: list[dict[str, Any]], actions: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """An Adaptive Card with `body` and `actions`."""
    card: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": CARD_SCHEMA,
        "version": CARD_VERSION,
        "body": body,
    }
    if actions:
        card["actions"] = actions
    return card


def text(value: str, **style: Any) -> dict[str, Any]:
    """A wrapping text block."""
    return {"type": "TextBlock", "text": value, "wrap": True, **style}


def quote(value: str) -> dict[str, Any]:
    """Someone's words, set apart."""
    return {"type": "Container", "style": "emphasis", "items": [text(value)]}


def facts(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """A fact set of the non-empty pairs."""
    return {
        "type": "FactSet",
        "facts": [{"title": title, "value": value} for title, value in pairs if value],
    }


def execute(
    title: str, verb: str, data: dict[str, Any], inputs: bool = True, style: str | None = None
) -> dict[str, Any]:
    """A button that sends `verb` and `data` (plus the inputs, if `inputs`) to the bot."""
    action: dict[str, Any] = {
        "type": "Action.Execute",
        "title": title,
        "verb": verb,
        "data": {"verb": verb, **data},
        "associatedInputs": "auto" if inputs else "none",
    }
    if style:
        action["style"] = style
    return action


def show_card(title: str, body: list[dict[str, Any]], submit: dict[str, Any]) -> dict[str, Any]:
    """A button that unfolds a small form with its own submit button."""
    return {
        "type": "Action.ShowCard",
        "title": title,
        "card": {"type": "AdaptiveCard", "body": body, "actions": [submit]},
    }


def text_input(input_id: str, placeholder: str, label: str = "", multiline: bool = True) -> dict:
    """A text field."""
    field: dict[str, Any] = {
        "type": "Input.Text",
        "id": input_id,
        "placeholder": placeholder,
        "isMultiline": multiline,
        "maxLength": 4000,
    }
    if label:
        field["label"] = label
    return field


def people_picker(input_id: str, label: str) -> dict[str, Any]:
    """Teams' people picker: its value is the chosen person's Entra object id."""
    return {
        "type": "Input.ChoiceSet",
        "id": input_id,
        "label": label,
        "placeholder": "Search for a colleague",
        "isMultiSelect": False,
        "choices": [],
        "choices.data": {"type": "Data.Query", "dataset": "graph.microsoft.com/users"},
    }


# ------------------------------------------------------------------ expert requests


def ask_card(intent: AskExpert, banner: str = "") -> dict[str, Any]:
    """A request to an expert, with Answer, Refer, Not me and Snooze."""
    if intent.via_name:
        opening = f"**{intent.via_name}** thinks you might know this one"
    else:
        opening = f"**{intent.asker_name}** has a question I think you can help with"
    body: list[dict[str, Any]] = [
        text(opening, size="Medium"),
        quote(f"“{intent.question}”"),
        facts(
            [
                ("Asked by", intent.asker_name),
                (f"Note from {intent.via_name}", intent.note if intent.via_name else ""),
                ("Why you", "" if intent.via_name else intent.reason),
                ("Connection", intent.connection),
                ("Request", f"#{intent.ask_id}"),
            ]
        ),
    ]
    if banner:
        body.append(text(banner, color="Accent", weight="Bolder"))
    ask = {"ask_id": intent.ask_id}
    actions = [
        show_card(
            "Answer",
            [text_input("answer", "Your answer", "Your answer")],
            execute("Send answer", ANSWER, ask, style="positive"),
        ),
        show_card(
            "Refer",
            [
                people_picker("referee", "Who might know?"),
                text_input("referee_text", "…or their email", multiline=False),
                text_input("note", "A note for them (optional)", multiline=False),
            ],
            execute("Ask them", REFER, ask),
        ),
        execute("Not me", PASS, ask, inputs=False),
        execute("Snooze", SNOOZE, ask, inputs=False),
    ]
    return adaptive_card(body, actions)


def closed_card(ask_id: int, question: str, asker_name: str, outcome: str, detail: str) -> dict:
    """A request that is over: what happened, without buttons."""
    label = OUTCOME_LABELS.get(outcome, outcome.capitalize())
    return adaptive_card(
        [
            text(f"{label} · request #{ask_id}", weight="Bolder"),
            quote(f"“{question}”" if question else f"Request #{ask_id}"),
            facts([("Asked by", asker_name)]),
            text(detail, isSubtle=True),
        ]
    )


# --------------------------------------------------------------------- for the asker


def answer_card(intent: AnswerPosted, shared: bool) -> dict[str, Any]:
    """An answer for the asker, with Accept, Follow up and Resolve (and Confirm, for the
    people of the chain, where others can see it)."""
    body = [text(f"**{intent.answerer_name}** answered question #{intent.question_id}")]
    if intent.chain:
        body.append(text(f"Reached via {' → '.join(intent.chain)}", isSubtle=True))
    body.append(quote(intent.text))
    actions = [
        execute("Accept", ACCEPT, {"answer_id": intent.answer_id}, False, "positive"),
        show_card(
            "Follow up",
            [text_input("text", f"Ask {intent.answerer_name} something more")],
            execute("Send", FOLLOW_UP, {"question_id": intent.question_id}),
        ),
        execute("Resolve", RESOLVE, {"question_id": intent.question_id}, inputs=False),
    ]
    if shared:
        actions.append(execute("Confirm", CONFIRM, {"answer_id": intent.answer_id}, False))
    return adaptive_card(body, actions)


def follow_up_card(intent: FollowUpAsked) -> dict[str, Any]:
    """The asker's follow-up, for the person who answered, with Reply."""
    return adaptive_card(
        [
            text(f"**{intent.asker_name}** has a follow-up on “{intent.question}”"),
            quote(intent.text),
        ],
        [
            show_card(
                "Reply",
                [text_input("text", f"Your reply to {intent.asker_name}")],
                execute("Send reply", REPLY, {"question_id": intent.question_id}),
            )
        ],
    )


def similar_card(intent: SimilarFound) -> dict[str, Any]:
    """Earlier answers that may already help, with "That answers it" / "Still need help"."""
    body = [
        text(
            f"Before I ask anyone: these earlier answers look close to question "
            f"#{intent.question_id}.",
            weight="Bolder",
        )
    ]
    for match in intent.matches:
        question = f"“{match['question']}”"
        url = match.get("url")
        if isinstance(url, str) and url.startswith("https://"):  # a chat thread: link it
            where = "Teams" if match.get("source") == "teams" else "Slack"
            question = f"[{question}]({url}) (a thread in {where})"
        body += [
            text(question, isSubtle=True, spacing="Medium"),
            quote(f"{match['answerer']}: {match['answer']}"),
        ]
    qid = {"question_id": intent.question_id}
    return adaptive_card(
        body,
        [
            execute("That answers it", SIMILAR, {**qid, "helped": True}, False, "positive"),
            execute("I still need someone", SIMILAR, {**qid, "helped": False}, inputs=False),
        ],
    )


def message_text(intent: Intent) -> str:
    """The text of an intent delivered as a plain message (markdown)."""
    match intent:
        case FollowUpAnswered():
            return (
                f"**{intent.answerer_name}** replied on question #{intent.question_id}:\n\n"
                f"> {intent.text}"
            )
        case AnswerConfirmed():
            return (
                f"✅ **{intent.confirmer_name}** confirmed {intent.answerer_name}'s answer "
                f"to question #{intent.question_id}."
            )
        case StatusUpdate():
            return f"**Question #{intent.question_id}:** {intent.text}"
        case Notice():
            return intent.text
    return f"[{intent.kind}]"


# ------------------------------------------------------------- settings and stats

STATE_WORDS = {
    "waiting": "waiting for a colleague's reply",
    "checking": "earlier answers offered",
    "routing": "asking people",
    "answered": "answered",
}

# Inputs of the settings card (Teams merges their values into the Save button's data).
SKILLS_INPUT, OPTED_OUT_INPUT, MAX_ASKS_INPUT = "skills", "opted_out", "max_asks"
QUIET_START_INPUT, QUIET_END_INPUT = "quiet_start", "quiet_end"
MAX_ASKS_LIMIT = 100


# What the settings card shows: the core's overview of the person, as App Home does.
SettingsData = PersonOverview


def _clip(value: str, limit: int = 140) -> str:
    value = " ".join((value or "").split())
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


def _number_input(input_id: str, label: str, value: int | None, low: int, high: int) -> dict:
    field_: dict[str, Any] = {
        "type": "Input.Number",
        "id": input_id,
        "label": label,
        "min": low,
        "max": high,
        "placeholder": "Org default",
    }
    if value is not None:
        field_["value"] = value
    return field_


def settings_card(data: SettingsData, notice: str = "", error: str = "", limit: int = 5) -> dict:
    """The personal settings card: my questions and requests, what whoknows thinks I know
    (declared skills editable, learned topics read-only), opt-out, asks per day and quiet
    hours, with Save. `notice` (e.g. "Saved") or `error` (a refused save) shows on top."""
    body: list[dict[str, Any]] = [text(f"whoknows settings for {data.name}", size="Medium")]
    if error:
        body.append(text(f"⚠️ {error}", color="Attention", weight="Bolder"))
    elif notice:
        body.append(text(f"✅ {notice}", color="Good", weight="Bolder"))

    body.append(
        text(f"Your open questions ({len(data.questions)})", weight="Bolder", spacing="Medium")
    )
    if not data.questions:
        body.append(text("None right now. Just type a question here to ask.", isSubtle=True))
    for q in data.questions[:limit]:
        state = STATE_WORDS.get(q.state, q.state)
        body.append(text(f"#{q.id} “{_clip(q.text)}” · _{state}_", spacing="Small"))
    if len(data.questions) > limit:
        body.append(text(f"…and {len(data.questions) - limit} more", isSubtle=True))

    body.append(
        text(f"Requests waiting for you ({len(data.requests)})", weight="Bolder", spacing="Medium")
    )
    if not data.requests:
        body.append(text("Nothing waiting for you.", isSubtle=True))
    for r in data.requests[:limit]:
        via = f" (referred by {r.via_name})" if r.via_name else ""
        body.append(
            text(f"#{r.ask_id} **{r.asker_name}**{via}: “{_clip(r.question)}”", spacing="Small")
        )
    if len(data.requests) > limit:
        body.append(text(f"…and {len(data.requests) - limit} more", isSubtle=True))

    body += [
        text("What whoknows thinks you know", weight="Bolder", spacing="Medium"),
        {
            "type": "Input.Text",
            "id": SKILLS_INPUT,
            "label": "Your skills (separated by commas)",
            "placeholder": "e.g. Kubernetes, payroll, Spanish",
            "value": ", ".join(data.skills),
            "isMultiline": False,
            "maxLength": 2000,
        },
        text(
            "Learned from what you wrote and answered: "
            + (", ".join(data.topics) or "nothing yet"),
            isSubtle=True,
        ),
        text(
            f"Answers given: {data.answers_given} · requests in the last day: {data.asks_last_day}",
            isSubtle=True,
            spacing="Small",
        ),
        text("Being asked", weight="Bolder", spacing="Medium"),
        {
            "type": "Input.Toggle",
            "id": OPTED_OUT_INPUT,
            "title": "Opt out: don't route anyone's questions to me",
            "value": "true" if data.opted_out else "false",
            "valueOn": "true",
            "valueOff": "false",
        },
        _number_input(
            MAX_ASKS_INPUT,
            "Most requests per day (empty: org default; 0 pauses requests)",
            data.max_asks_per_day,
            0,
            MAX_ASKS_LIMIT,
        ),
        _number_input(
            QUIET_START_INPUT, "Quiet hours start (hour, 0-23, your time)", data.quiet_start, 0, 23
        ),
        _number_input(
            QUIET_END_INPUT, "Quiet hours end (hour, 0-23, your time)", data.quiet_end, 0, 23
        ),
        text(data.defaults + " Leave a field empty to use the default.", isSubtle=True),
    ]
    save = execute("Save", SAVE_SETTINGS, {"person_id": data.person_id}, style="positive")
    return adaptive_card(body, [save])


def stats_card(lines: list[str], notice: str = "") -> dict[str, Any]:
    """Admins: the org's numbers, with Refresh."""
    body = [text("How whoknows is doing", size="Medium")]
    body += [text(line, spacing="Small") for line in lines]
    if notice:
        body.append(text(notice, isSubtle=True))
    return adaptive_card(body, [execute("Refresh", STATS, {}, inputs=False)])


# ---------------------------------------------------------- invoke and dialog answers


def card_response(card: dict[str, Any]) -> dict[str, Any]:
    """An `adaptiveCard/action` answer that replaces the clicked card."""
    return {"statusCode": 200, "type": CARD_TYPE, "value": card}


def message_response(message: str) -> dict[str, Any]:
    """An `adaptiveCard/action` answer that shows a short message; the card stays."""
    return {"statusCode": 200, "type": MESSAGE_RESPONSE, "value": message}


def find_dialog(question: str = "") -> dict[str, Any]:
    """The "Find someone who knows" dialog (a message extension's fetchTask answer)."""
    card = adaptive_card(
        [
            text("What do you need to know? I'll find colleagues who can answer and ask them."),
            {
                "type": "Input.Text",
                "id": "question",
                "label": "Your question",
                "value": question,
                "isMultiline": True,
                "isRequired": True,
                "errorMessage": "Type the question first.",
                "maxLength": 4000,
            },
        ],
        [{"type": "Action.Submit", "title": "Find someone"}],
    )
    return {
        "task": {
            "type": "continue",
            "value": {"title": FIND_TITLE, "width": "medium", "card": attachment(card)},
        }
    }


def dialog_message(message: str) -> dict[str, Any]:
    """Close a dialog with a message for the user."""
    return {"task": {"type": "message", "value": message}}
