"""Distributed scheduler: Celery beat (run exactly one) fires the same periodic
jobs the embedded process runs in a thread; workers execute them through one
thin task.  Jobs do their work in the database with row locks and unique
constraints, so a late, repeated or overlapping run is harmless."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from celery import Celery, shared_task

if TYPE_CHECKING:
    from connect.bootstrap import Container

log = logging.getLogger(__name__)

_container: "Container | None" = None
_container_lock = threading.Lock()


def worker_container() -> "Container":
    """The worker process's container, built on first use (never at import)."""
    global _container
    with _container_lock:
        if _container is None:
            from connect.bootstrap import build_container

            # The jobs that embed (matching.vectors) load the model when they first run.
            _container = build_container(load_models=False)
        return _container


@shared_task(name="connect.periodic", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_periodic_job(name: str) -> None:
    job = worker_container().periodic_job(name)
    log.info("running periodic job %s", name)
    job.run()


def create_celery_app(container: "Container") -> Celery:
    broker = container.settings.scheduler.celery_broker
    if not broker:
        raise RuntimeError("CONNECT_CELERY_BROKER is not set")
    app = Celery("connect", broker=broker, set_as_current=True)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        timezone="UTC",
        enable_utc=True,
        broker_connection_retry_on_startup=True,
        beat_schedule={
            job.name: {"task": "connect.periodic", "schedule": job.interval_seconds, "args": (job.name,),
                       # A run that could not start within one interval is superseded by the next.
                       "options": {"expires": job.interval_seconds}}
            for job in container.periodic_jobs()
        },
    )
    return app
