"""Work that runs after Slack has been acknowledged.

Listeners acknowledge at once and hand everything that touches the core (ranking takes
50-300 ms) to `Jobs`: one worker thread by default, so inputs reach the lifecycle in the
order Slack sent them. `join()` waits until everything queued so far is done (tests and the
load benchmark use it instead of sleeping).

Every job submitted while an accepted input is being dispatched (`for_input`) is tied to
that input's intake row: once the dispatch and all its jobs have finished, `on_settled`
is called with the row id and the first error (None when all went well), and the adapter
marks the row done or failed. A job queued here and lost in a crash is therefore never
lost for good: its row is still unfinished and a restart replays it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

_STOP = object()


@dataclass
class _Input:
    """The jobs outstanding for one accepted input."""

    intake_id: int
    jobs: int = 0
    dispatching: bool = True
    error: str | None = None


class Jobs:
    """A FIFO of callables run by `workers` background threads."""

    def __init__(
        self,
        workers: int = 1,
        name: str = "whoknows-slack",
        on_settled: Callable[[int, str | None], None] | None = None,
    ) -> None:
        self._queue: queue.Queue[Any] = queue.Queue()
        self._idle = threading.Condition()
        self._unfinished = 0
        self._workers = workers
        self._name = name
        self._threads: list[threading.Thread] = []
        self._bound = threading.local()  # the input being dispatched on this thread
        self.on_settled = on_settled
        self._deadline: float | None = None  # set by stop(): no job starts after it

    def start(self) -> None:
        """Start the worker threads (idempotent)."""
        if self._threads:
            return
        for n in range(self._workers):
            thread = threading.Thread(target=self._run, name=f"{self._name}-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    @contextmanager
    def for_input(self, intake_id: int, replay: bool = False) -> Iterator[_Input]:
        """Tie every job submitted by this thread inside the block to the intake row
        `intake_id`; `replay` marks a restart replaying the row. Setting the yielded
        entry's `error` marks the input failed."""
        entry = _Input(intake_id)
        self._bound.entry, self._bound.replay = entry, replay
        try:
            yield entry
        except Exception as error:
            entry.error = entry.error or f"{type(error).__name__}: {error}"
            raise
        finally:
            self._bound.entry, self._bound.replay = None, False
            with self._idle:
                entry.dispatching = False
                settled = entry.jobs == 0
            if settled:
                self._settle(entry)

    def replaying(self) -> bool:
        """Whether this thread is dispatching an input again after a restart (a modal's
        trigger has long expired, say)."""
        return bool(getattr(self._bound, "replay", False))

    def submit(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
        """Queue `fn(*args, **kwargs)`; `what` names it in logs. Returns its future."""
        future: Future = Future()
        entry = getattr(self._bound, "entry", None)
        with self._idle:
            self._unfinished += 1
            if entry is not None:
                entry.jobs += 1
        self._queue.put((what, fn, args, kwargs, future, entry))
        return future

    def waiting(self) -> int:
        """How many jobs are queued or running."""
        with self._idle:
            return self._unfinished

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every job queued so far has finished; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._unfinished == 0, timeout)

    def stop(self, timeout: float = 30) -> None:
        """Finish what is queued, for at most `timeout` seconds, then stop the workers
        (after the job each is running). Jobs not started by then are dropped here and
        stay unfinished in the intake table, for the next start."""
        self._deadline = time.monotonic() + timeout
        for _ in self._threads:
            self._queue.put(_STOP)
        for thread in self._threads:
            thread.join(timeout + 60)  # the job a worker is in when the time is up
        self._threads = []
        self._deadline = None

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            what, fn, args, kwargs, future, entry = item
            if self._deadline is not None and time.monotonic() > self._deadline:
                self._drop(future)  # stopping and out of time: the intake row replays it
                continue
            error: str | None = None
            try:
                future.set_result(fn(*args, **kwargs))
            except Exception as failure:  # a job's failure must not kill the worker
                log.exception("slack job %s failed", what)
                future.set_exception(failure)
                error = f"{what}: {type(failure).__name__}: {failure}"
            finally:
                settled = None
                with self._idle:
                    if entry is not None:
                        entry.jobs -= 1
                        entry.error = entry.error or error
                        if entry.jobs == 0 and not entry.dispatching:
                            settled = entry
                if settled is not None:
                    self._settle(settled)
                with self._idle:  # counted done only once its input is marked settled
                    self._unfinished -= 1
                    self._idle.notify_all()

    def _drop(self, future: Future) -> None:
        future.cancel()
        with self._idle:
            self._unfinished -= 1
            self._idle.notify_all()

    def _settle(self, entry: _Input) -> None:
        if self.on_settled is None:
            return
        try:
            self.on_settled(entry.intake_id, entry.error)
        except Exception:  # the row stays unfinished and is replayed: safe, only late
            log.exception("could not mark intake row %d finished", entry.intake_id)
