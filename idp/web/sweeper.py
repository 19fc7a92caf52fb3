"""Expired rows go on their own: each worker sweeps a batch now and then, no cron needed."""

from __future__ import annotations

import logging
import random
import threading
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy.exc import OperationalError

from idp.clock import now
from idp.config import Settings
from idp.database import rollback_quietly
from idp.extensions import db
from idp.manage.housekeeping import sweep

log = logging.getLogger(__name__)


class Sweeper:
    """teardown_request: at most once per `sweep_seconds` per worker, delete expired rows."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.interval = timedelta(seconds=settings.sweep_seconds)
        self.next_at: datetime | None = None
        self.lock = threading.Lock()

    def __call__(self, error: BaseException | None) -> None:
        at = now()
        if error is not None or (self.next_at is not None and at < self.next_at):
            return
        if not self.lock.acquire(blocking=False):
            return  # another thread of this worker is sweeping
        try:
            if self.next_at is None:
                # Workers started together spread out instead of sweeping in step.
                self.next_at = at + self.interval * random.random()
                return
            self.next_at = at + self.interval
            counts = sweep(self.settings, now=at)
            if any(counts.values()):
                log.info("swept expired rows: %s", counts)
        except OperationalError:
            # The database is away or a table is locked (an outage): not a bug, even in tests.
            rollback_quietly()
            log.warning("sweeping expired rows failed: database unavailable", exc_info=True)
        except Exception:
            # Housekeeping must never turn a served request into an error.
            db.session.rollback()
            log.exception("sweeping expired rows failed")
            if current_app.testing:
                raise
        finally:
            self.lock.release()
