from __future__ import annotations

import logging
import threading
import time
from typing import Sequence

from connect.scheduling import PeriodicJob

log = logging.getLogger(__name__)


class ThreadScheduler:
    """Runs periodic jobs in one background thread of the serving process."""

    def __init__(self, jobs: Sequence[PeriodicJob]) -> None:
        self.jobs = list(jobs)

    def run(self, stop: threading.Event) -> None:
        next_run = {job.name: time.monotonic() for job in self.jobs}
        while not stop.is_set() and self.jobs:
            now = time.monotonic()
            for job in self.jobs:
                if now >= next_run[job.name]:
                    try:
                        job.run()
                    except Exception:  # a failed run is retried at the next interval
                        log.exception("periodic job %s failed", job.name)
                    next_run[job.name] = time.monotonic() + job.interval_seconds
            stop.wait(max(0.05, min(next_run.values()) - time.monotonic()))
