"""Plain-text renderings of intents, for the console sandbox and the demo transcript.

Pure functions from an intent to the lines a person would read; no I/O.
"""

from __future__ import annotations

from bot.lifecycle.intents import (
    AnswerConfirmed,
    AnswerPosted,
    AskClosed,
    AskExpert,
    FollowUpAnswered,
    FollowUpAsked,
    Intent,
    Notice,
    SimilarFound,
    StatusUpdate,
)


def render(intent: Intent) -> str:
    """What the recipient of `intent` reads."""
    match intent:
        case AskExpert():
            return ask_text(intent)
        case AskClosed():
            return f"[request #{intent.ask_id} updated: {intent.outcome}] {intent.detail}"
        case AnswerPosted():
            via = f", reached via {', '.join(intent.chain)}" if intent.chain else ""
            return (
                f"{intent.answerer_name} answered your question #{intent.question_id}"
                f"{via} (answer #{intent.answer_id}):\n  “{intent.text}”\n"
                f"  → accept {intent.answer_id} · followup {intent.question_id} <text> · "
                f"resolve {intent.question_id}"
            )
        case FollowUpAsked():
            return (
                f"{intent.asker_name} has a follow-up on “{intent.question}”:\n"
                f"  “{intent.text}”\n  → respond {intent.question_id} <text>"
            )
        case FollowUpAnswered():
            return (
                f"{intent.answerer_name} replied on question #{intent.question_id}:\n"
                f"  “{intent.text}”"
            )
        case AnswerConfirmed():
            return (
                f"{intent.confirmer_name} confirmed {intent.answerer_name}'s answer "
                f"to question #{intent.question_id}."
            )
        case SimilarFound():
            lines = [
                f"Before I ask anyone: these earlier answers look close to question "
                f"#{intent.question_id}:"
            ]
            for m in intent.matches:
                lines.append(f"  • “{m['question']}” — {m['answerer']}: “{m['answer']}”")
                if m.get("url"):  # a chat thread
                    lines.append(f"    {m['url']}")
            lines.append(f"  → helped {intent.question_id} · nothelped {intent.question_id}")
            return "\n".join(lines)
        case StatusUpdate():
            return f"[question #{intent.question_id}] {intent.text}"
        case Notice():
            return intent.text
    return f"[{intent.kind}]"


def ask_text(intent: AskExpert) -> str:
    """A request to an expert: the question, who asks, why them, how they are connected."""
    if intent.via_name:
        opening = f"{intent.via_name} thinks you might know this"
    else:
        opening = f"{intent.asker_name} has a question I think you can help with"
    lines = [
        f"{opening} (request #{intent.ask_id}):",
        f"  “{intent.question}”",
        f"  asked by {intent.asker_name}",
    ]
    if intent.note:
        lines.append(f"  note from {intent.via_name}: “{intent.note}”")
    if intent.reason and not intent.via_name:
        lines.append(f"  why you: {intent.reason}")
    if intent.connection:
        lines.append(f"  connection: {intent.connection}")
    lines.append(
        f"  → answer {intent.ask_id} <text> · refer {intent.ask_id} <person> [note] · "
        f"pass {intent.ask_id} · snooze {intent.ask_id}"
    )
    return "\n".join(lines)
