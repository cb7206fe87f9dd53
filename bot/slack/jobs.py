"""Work that runs after Slack has been acknowledged.

Listeners acknowledge at once and hand everything that touches the core (ranking takes
50-300 ms) to `Jobs`: one worker thread by default, so inputs reach the lifecycle in the
order Slack sent them. `join()` waits until everything queued so far is done (tests and the
load benchmark use it instead of sleeping).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

log = logging.getLogger(__name__)

_STOP = object()


class Jobs:
    """A FIFO of callables run by `workers` background threads."""

    def __init__(self, workers: int = 1, name: str = "whoknows-slack") -> None:
        self._queue: queue.Queue[Any] = queue.Queue()
        self._idle = threading.Condition()
        self._unfinished = 0
        self._workers = workers
        self._name = name
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start the worker threads (idempotent)."""
        if self._threads:
            return
        for n in range(self._workers):
            thread = threading.Thread(target=self._run, name=f"{self._name}-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def submit(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
        """Queue `fn(*args, **kwargs)`; `what` names it in logs. Returns its future."""
        future: Future = Future()
        with self._idle:
            self._unfinished += 1
        self._queue.put((what, fn, args, kwargs, future))
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
        """Finish what is queued, then stop the workers."""
        for _ in self._threads:
            self._queue.put(_STOP)
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            what, fn, args, kwargs, future = item
            try:
                future.set_result(fn(*args, **kwargs))
            except Exception as error:  # a job's failure must not kill the worker
                log.exception("slack job %s failed", what)
                future.set_exception(error)
            finally:
                with self._idle:
                    self._unfinished -= 1
                    self._idle.notify_all()
