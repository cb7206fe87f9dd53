"""The console sandbox: play several people of an org in one terminal, no chat platform.

`Sandbox` wires the real core (store, router, flow, scheduler) to a transcript deliverer
that prints each message to its recipient and appends it to a JSONL file beside the
database. `ConsoleShell` is the command loop; `whoknows console` starts it.
"""

from __future__ import annotations

import cmd
import json
import os
import re
import shlex
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.console_messages import render
from bot.lifecycle.flow import FlowError, Outcome
from bot.lifecycle.intents import Intent
from bot.lifecycle.scheduler import TickReport
from bot.runtime import Runtime
from bot.settings import Settings
from data.lifecycle_store import from_iso, to_iso
from data.store import Store
from embeddings.encoder import Encoder

CLOCK_KEY = "sandbox_clock"
# The longest `wait`: enough to play out any timer, far from the end of the calendar.
MAX_WAIT = timedelta(days=365)
# The largest number a request, question or answer can have (SQLite's largest integer).
MAX_NUMBER = 2**63 - 1


def next_working_afternoon(moment: datetime) -> datetime:
    """The next weekday 14:00 UTC at or after `moment`: a time when most of an org in
    Europe and the Americas is at work, so the sandbox's requests go out at once."""
    day = moment.astimezone(UTC).replace(hour=14, minute=0, second=0, microsecond=0)
    if day < moment:
        day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


class StoredClock:
    """A hand-moved clock whose time is kept in the store, so a restarted sandbox resumes
    at the same moment."""

    def __init__(self, store: Store, start: datetime | None = None) -> None:
        self.store = store
        if store.get_meta(CLOCK_KEY) is None:
            self._save(start or next_working_afternoon(datetime.now(UTC)))

    def now(self) -> datetime:
        """The sandbox's current time."""
        moment = from_iso(self.store.get_meta(CLOCK_KEY))
        assert moment is not None
        return moment

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward; returns the new time."""
        moment = self.now() + delta
        self._save(moment)
        return moment

    def _save(self, moment: datetime) -> None:
        self.store.set_meta(CLOCK_KEY, to_iso(moment))


class TranscriptDeliverer:
    """Delivers intents by writing them to a JSONL transcript (and echoing them).

    Each line is written and fsync'ed before the delivery counts, and carries the outbox
    key, so `find_delivered` can tell after a crash whether a message already went out.
    """

    def __init__(
        self,
        path: Path,
        name_of: Callable[[str], str],
        echo: Callable[[str, str], None] | None = None,
    ) -> None:
        self.path = path
        self.name_of = name_of
        self.echo = echo
        self._delivered: dict[str, str] = {}
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    entry = json.loads(line)
                    self._delivered[entry["key"]] = entry["key"]

    def deliver(self, intent: Intent, key: str, message_ref: str | None) -> str:
        """Append the rendered intent to the transcript."""
        to = intent.recipient
        text = render(intent)
        entry = {
            "key": key,
            "kind": intent.kind,
            "to": to,
            "question": intent.question_id,
            "updates": message_ref,
            "text": text,
        }
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(entry) + "\n")
            out.flush()
            os.fsync(out.fileno())
        self._delivered[key] = key
        if self.echo:
            self.echo(self.name_of(to) if to else "everyone", text)
        return key

    def find_delivered(self, key: str) -> str | None:
        """The key, if a message with it is in the transcript."""
        return self._delivered.get(key)

    def entries(self) -> list[dict]:
        """Every delivered message, in order."""
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]


class Sandbox:
    """The real whoknows core on one database, with a stored clock and a transcript."""

    def __init__(
        self,
        settings: Settings,
        db: Path,
        encoder: Encoder | None = None,
        echo: Callable[[str, str], None] | None = None,
        start: datetime | None = None,
    ) -> None:
        self.settings = settings
        self.store = Store(db)
        self.clock = StoredClock(self.store, start)
        self.runtime = Runtime(settings, clock=self.clock, encoder=encoder, store=self.store)
        self.flow = self.runtime.flow
        self.deliverer = TranscriptDeliverer(Path(f"{db}.transcript.jsonl"), self.name, echo)
        self.scheduler = self.runtime.scheduler(self.deliverer)

    def name(self, person_id: str) -> str:
        """A person's display name."""
        person = self.store.get_person(person_id)
        return person.name if person else person_id

    def run(self) -> TickReport:
        """Fire due timers and deliver what is waiting."""
        return self.scheduler.run_once()

    def advance(self, delta: timedelta) -> TickReport:
        """Move the clock and let everything that became due happen."""
        self.clock.advance(delta)
        return self.run()


_DURATION = re.compile(r"^([+-]?)(\d+(?:\.\d+)?)\s*([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
_PER_DAY = {"m": 24 * 60, "h": 24, "d": 1}


def parse_duration(text: str) -> timedelta:
    """'30m', '4h', '2d' -> a timedelta, longer than zero and at most MAX_WAIT.

    Raises ValueError, with a message for the user, for anything else."""
    found = _DURATION.match(text.strip().lower())
    if not found:
        raise ValueError("give a duration like 30m, 4h or 2d")
    sign, number, unit = found.groups()
    amount = float(number)  # digits only: never nan; inf for absurdly many
    if sign == "-":
        raise ValueError("time only moves forward: give a duration like 30m, 4h or 2d")
    if amount == 0:
        raise ValueError("give a duration longer than zero, like 30m, 4h or 2d")
    if amount / _PER_DAY[unit] > MAX_WAIT.days:
        raise ValueError(f"wait at most {MAX_WAIT.days} days at a time ({text.strip()} is longer)")
    return timedelta(**{_UNITS[unit]: amount})


class ConsoleShell(cmd.Cmd):
    """Commands for playing the org's people. `help` lists them."""

    intro = (
        "whoknows console sandbox. `as <person>` picks who you are; `help` lists "
        "commands; `quit` leaves (everything is kept in the database)."
    )

    def __init__(self, sandbox: Sandbox, me: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.sandbox = sandbox
        self.flow = sandbox.flow
        self.me: str | None = me
        self._set_prompt()

    # ---------------------------------------------------------------- plumbing

    def say(self, text: str) -> None:
        """Print a line to the shell's output."""
        self.stdout.write(text + "\n")

    def _set_prompt(self) -> None:
        who = self.sandbox.name(self.me) if self.me else "nobody"
        self.prompt = f"[{who} · {self.sandbox.clock.now():%a %H:%M} UTC] > "

    def onecmd(self, line: str) -> bool:
        """Run one command, report its outcome, then let due work happen."""
        try:
            stop = super().onecmd(line)
        except (FlowError, ValueError) as problem:
            self.say(f"! {problem}")
            stop = False
        self.sandbox.run()
        self._set_prompt()
        return bool(stop)

    def emptyline(self) -> bool:
        return False

    def default(self, line: str) -> bool:
        self.say(f"! unknown command {line.split()[0]!r}; try `help`")
        return False

    def _who_am_i(self) -> str:
        if not self.me:
            raise ValueError("pick who you are first: as <person>")
        return self.me

    def _report(self, outcome: Outcome) -> None:
        self.say(("✓ " if outcome.ok else "✗ ") + outcome.message)

    def _resolve_person(self, ref: str) -> str:
        if not ref.strip():
            raise ValueError("name someone: an id, an email or part of a name")
        person = self.sandbox.store.find_person(ref)
        if person:
            return person.id
        matches = [p for p in self.sandbox.store.people() if ref.lower() in p.name.lower()]
        if len(matches) == 1:
            return matches[0].id
        if not matches:
            raise ValueError(f"nobody called {ref!r} in the directory")
        raise ValueError(f"{ref!r} could be {', '.join(p.name for p in matches[:5])}")

    @staticmethod
    def _number_and_rest(arg: str, what: str) -> tuple[int, str]:
        head, _, rest = arg.strip().partition(" ")
        digits = head.lstrip("#")
        if not (digits.isascii() and digits.isdigit()):  # not "²", which isdigit() takes
            raise ValueError(f"give the {what} number first")
        # Longer than any number the database can hold (and int() refuses 4,300 digits).
        if len(digits) > len(str(MAX_NUMBER)) or int(digits) > MAX_NUMBER:
            raise ValueError(f"There is no {what} #{digits}.")
        return int(digits), rest.strip()

    # ---------------------------------------------------------------- identity

    def do_as(self, arg: str) -> None:
        """as <person>: become someone (id, email or part of the name)."""
        self.me = self._resolve_person(arg.strip())
        self.say(f"You are now {self.sandbox.name(self.me)} ({self.me}).")

    def do_people(self, arg: str) -> None:
        """people [text]: list people whose name, title or team contains text."""
        needle = arg.strip().lower()
        for p in self.sandbox.store.people():
            line = f"{p.id:24} {p.name} — {p.title or ''}, {p.team or ''}"
            if needle in line.lower():
                self.say(line)

    # ------------------------------------------------------------------ asking

    def do_ask(self, arg: str) -> None:
        """ask <question>: ask whoknows directly (routed at once)."""
        self._report(self.flow.ask(self._who_am_i(), arg, origin="console"))

    def do_post(self, arg: str) -> None:
        """post <question>: post in a team channel; routed if nobody replies in time."""
        outcome = self.flow.ask(
            self._who_am_i(), arg, origin="channel", place={"channel": "#general"}
        )
        self._report(outcome)
        if outcome.question_id:
            self.say(
                f"  (question #{outcome.question_id}; `thread {outcome.question_id}` "
                "replies as a colleague)"
            )

    def do_thread(self, arg: str) -> None:
        """thread <q#>: reply in the channel thread of a waiting question (cancels routing)."""
        qid, _ = self._number_and_rest(arg, "question")
        self._report(self.flow.human_replied(qid, self._who_am_i()))

    def do_helped(self, arg: str) -> None:
        """helped <q#>: the earlier answers shown answered my question."""
        qid, _ = self._number_and_rest(arg, "question")
        self._report(self.flow.similar_result(qid, self._who_am_i(), helped=True))

    def do_nothelped(self, arg: str) -> None:
        """nothelped <q#>: the earlier answers did not help; find someone."""
        qid, _ = self._number_and_rest(arg, "question")
        self._report(self.flow.similar_result(qid, self._who_am_i(), helped=False))

    # --------------------------------------------------------- answering asks

    def do_answer(self, arg: str) -> None:
        """answer <request#> <text>: answer a request sent to you."""
        ask_id, text = self._number_and_rest(arg, "request")
        self._report(self.flow.answer(ask_id, self._who_am_i(), text))

    def do_refer(self, arg: str) -> None:
        """refer <request#> <person> [note]: suggest a colleague who may know."""
        ask_id, rest = self._number_and_rest(arg, "request")
        parts = shlex.split(rest)
        if not parts:
            raise ValueError("name the colleague to refer")
        referee = self._resolve_person(parts[0])
        self._report(self.flow.refer(ask_id, self._who_am_i(), referee, " ".join(parts[1:])))

    def do_pass(self, arg: str) -> None:
        """pass <request#>: you don't know; someone else will be asked."""
        ask_id, _ = self._number_and_rest(arg, "request")
        self._report(self.flow.pass_(ask_id, self._who_am_i()))

    def do_snooze(self, arg: str) -> None:
        """snooze <request#>: be reminded later."""
        ask_id, _ = self._number_and_rest(arg, "request")
        self._report(self.flow.snooze(ask_id, self._who_am_i()))

    # ------------------------------------------------------------ after answers

    def do_followup(self, arg: str) -> None:
        """followup <q#> <text>: ask the person who answered something more."""
        qid, text = self._number_and_rest(arg, "question")
        self._report(self.flow.follow_up(qid, self._who_am_i(), text))

    def do_respond(self, arg: str) -> None:
        """respond <q#> <text>: reply to a follow-up on a question you answered."""
        qid, text = self._number_and_rest(arg, "question")
        self._report(self.flow.reply(qid, self._who_am_i(), text))

    def do_accept(self, arg: str) -> None:
        """accept <answer#>: accept an answer to your question (resolves it)."""
        answer_id, _ = self._number_and_rest(arg, "answer")
        self._report(self.flow.accept(answer_id, self._who_am_i()))

    def do_confirm(self, arg: str) -> None:
        """confirm <answer#>: vouch for an answer to a question that reached you."""
        answer_id, _ = self._number_and_rest(arg, "answer")
        self._report(self.flow.confirm(answer_id, self._who_am_i()))

    def do_resolve(self, arg: str) -> None:
        """resolve <q#>: close your question."""
        qid, _ = self._number_and_rest(arg, "question")
        self._report(self.flow.resolve(qid, self._who_am_i()))

    # ---------------------------------------------------------------- looking

    def do_inbox(self, arg: str) -> None:
        """inbox: requests waiting for you and your questions."""
        me = self._who_am_i()
        requests = self.flow.requests_for(me)
        self.say(f"Requests waiting for {self.sandbox.name(me)}: {len(requests) or 'none'}")
        for ask, q in requests:
            self.say(
                f"  #{ask.id} from {self.sandbox.name(q.asker_id)}: “{q.text}” "
                f"(due {ask.due_at:%a %H:%M})"
            )
        questions = self.flow.questions_of(me)
        self.say(f"Your questions: {len(questions) or 'none'}")
        for q in questions:
            self.say(f"  #{q.id} [{q.state}] “{q.text}”")

    def do_show(self, arg: str) -> None:
        """show <q#>: a question's whole story."""
        qid, _ = self._number_and_rest(arg, "question")
        q = self.flow.question(qid)
        self.say(
            f"#{q.id} [{q.state}] “{q.text}” asked by {self.sandbox.name(q.asker_id)} "
            f"at {q.created_at:%a %H:%M}"
        )
        for a in self.flow.lc.asks_of_question(q.id):
            via = f" via {self.sandbox.name(a.via_id)}" if a.via_id else ""
            self.say(
                f"  request #{a.id} → {self.sandbox.name(a.person_id)}{via} "
                f"(hop {a.hop}): {a.state}"
            )
        for ans in self.flow.lc.answers_of(q.id):
            mark = " ✓ accepted" if ans.accepted else ""
            confirmed = [self.sandbox.name(p) for p in self.flow.lc.confirmations_of(ans.id)]
            also = f" (confirmed by {', '.join(confirmed)})" if confirmed else ""
            self.say(
                f"  answer #{ans.id} by {self.sandbox.name(ans.person_id)}{mark}{also}: "
                f"“{ans.text}”"
            )

    def do_clock(self, arg: str) -> None:
        """clock: the sandbox time."""
        self.say(f"It is {self.sandbox.clock.now():%A %Y-%m-%d %H:%M} UTC.")

    def do_wait(self, arg: str) -> None:
        """wait <duration>: let time pass (30m, 4h, 2d; at most 365 days); timers fire."""
        delta = parse_duration(arg)
        try:
            self.sandbox.clock.advance(delta)
        except OverflowError:  # only after thousands of years of waiting
            raise ValueError("the sandbox clock cannot go past the year 9999") from None
        self.say(f"… {arg.strip()} later.")

    def do_quit(self, arg: str) -> bool:
        """quit: leave the console."""
        return True

    do_EOF = do_quit
