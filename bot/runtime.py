"""Everything a running whoknows needs, built once from the settings.

Slack, Teams and the console sandbox each build one Runtime and hand its scheduler their
own deliverer; the core objects are the same under every platform.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from bot.encoding import encoder_from_settings
from bot.lifecycle.accounts import Accounts
from bot.lifecycle.clock import Clock, SystemClock
from bot.lifecycle.flow import Flow
from bot.lifecycle.scheduler import Deliverer, Scheduler
from bot.lifecycle.stats import OrgStats, org_stats
from bot.router import Router
from bot.settings import Settings
from bot.training import retrain_if_due
from data.intake_store import IntakeStore
from data.store import Store
from embeddings.encoder import Encoder
from embeddings.indexer import index_pending

log = logging.getLogger(__name__)

# How often the running bot checks whether the ranking model is due for retraining.
TRAINING_CHECK = timedelta(minutes=10)
# Handled platform inputs are kept this long (to look into), then forgotten, hourly.
INTAKE_KEEP = timedelta(days=7)
INTAKE_PRUNE_EVERY = timedelta(hours=1)


class Runtime:
    """The store, the model, the router and the lifecycle, wired together."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock | None = None,
        encoder: Encoder | None = None,
        store: Store | None = None,
    ) -> None:
        self.settings = settings
        self.store = store or Store(settings.db_path)
        self.encoder = encoder or encoder_from_settings(settings)
        index_pending(self.store, self.encoder)  # knowledge imported while the bot was down
        self.clock = clock or SystemClock()
        self.router = Router(self.store, self.encoder, settings)
        self.flow = Flow(self.store, self.router, settings, self.clock)
        self.accounts = Accounts(self.store, self.flow.lc, self.clock)
        self.intake = IntakeStore(self.store)  # platform inputs, on disk before their ack
        self._next_training_check: datetime | None = None
        self._next_prune: datetime | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def maintain(self) -> int:
        """Background upkeep, run by the scheduler: embed knowledge added since the last
        call (new answers, imports), save the router's vector index once enough vectors
        changed since it was saved, forget handled intake rows older than INTAKE_KEEP
        (hourly), and, at most every TRAINING_CHECK, retrain the ranking
        model if enough questions were answered since it was last fitted. Returns how many
        items were embedded."""
        indexed = index_pending(self.store, self.encoder)
        self.router.save_index()
        # The intake's connection never checkpoints (to keep acks fast): do it here, off the
        # request path, so the write-ahead log stays small even when only intake writes.
        self.store.checkpoint()
        now = self.clock.now()
        if self._next_prune is None or now >= self._next_prune:
            self._next_prune = now + INTAKE_PRUNE_EVERY
            pruned = self.intake.prune(now - INTAKE_KEEP)
            if pruned:
                log.info("forgot %d handled platform inputs older than %s", pruned, INTAKE_KEEP)
        if self._next_training_check is None or now >= self._next_training_check:
            self._next_training_check = now + TRAINING_CHECK
            if retrain_if_due(self.store, self.encoder, self.settings) is not None:
                log.info("retrained the ranking model from the answered questions")
        return indexed

    def scheduler(self, deliverer: Deliverer) -> Scheduler:
        """A scheduler that delivers through `deliverer`."""
        return Scheduler(self.flow, deliverer, indexer=self.maintain)

    def start(self, deliverer: Deliverer) -> Scheduler:
        """Run the scheduler in a background thread until `stop()`."""
        scheduler = self.scheduler(deliverer)
        self._stop.clear()
        self._thread = threading.Thread(
            target=scheduler.run_forever, args=(self._stop,), name="whoknows-scheduler", daemon=True
        )
        self._thread.start()
        return scheduler

    def stop(self) -> None:
        """Stop the background scheduler (if running) and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def stats(self) -> OrgStats:
        """Org-wide numbers for admins."""
        return org_stats(self.flow.lc)
