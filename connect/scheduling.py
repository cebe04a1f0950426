"""The task scheduler port: periodic jobs such as the relationships sweep.

Embedded: `adapters.scheduler_thread.ThreadScheduler` runs each job in the
serving process.  Distributed: `adapters.scheduler_celery` turns the same jobs
into a Celery beat schedule whose thin, idempotent tasks run on workers.  Jobs
are written to be safe when two runs overlap, so either adapter may fire late
or twice without harm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class PeriodicJob:
    name: str  # also the Celery task name
    interval_seconds: float
    run: Callable[[], object]
