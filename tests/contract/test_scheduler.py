"""One contract for the task scheduler port: the embedded thread and Celery (beat + a worker on
real Redis) run the same periodic jobs, again and again at about their interval, carry on after
a run that raised, and stop firing once stopped."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Callable, Iterator, Sequence

import pytest

from connect.scheduling import PeriodicJob

Start = Callable[[Sequence[PeriodicJob]], Callable[[], None]]


@pytest.fixture(params=["thread", pytest.param("celery", marks=pytest.mark.integration)])
def start_scheduler(request: pytest.FixtureRequest, tmp_path: Path,
                    monkeypatch: pytest.MonkeyPatch) -> Iterator[Start]:
    """start(jobs) runs the adapter with these jobs and returns stop()."""
    stops: list[Callable[[], None]] = []

    if request.param == "thread":
        from connect.adapters.scheduler_thread import ThreadScheduler

        def start(jobs: Sequence[PeriodicJob]) -> Callable[[], None]:
            stop = threading.Event()
            runner = threading.Thread(target=ThreadScheduler(jobs).run, args=(stop,), daemon=True)
            runner.start()

            def stopped() -> None:
                stop.set()
                runner.join(10)
            stops.append(stopped)
            return stopped
    else:
        from celery.beat import EmbeddedService
        from celery.contrib.testing.worker import start_worker

        from connect.adapters import scheduler_celery

        redis_url = request.getfixturevalue("redis_url")

        def start(jobs: Sequence[PeriodicJob]) -> Callable[[], None]:
            by_name = {job.name: job for job in jobs}
            # What the composition root gives the Celery adapter: settings and the jobs by name.
            container = SimpleNamespace(settings=SimpleNamespace(scheduler=SimpleNamespace(celery_broker=redis_url)),
                                        periodic_jobs=lambda: list(jobs), periodic_job=lambda name: by_name[name])
            monkeypatch.setattr(scheduler_celery, "_container", container)
            app = scheduler_celery.create_celery_app(container)  # type: ignore[arg-type]
            # A queue of this test's own: nothing it leaves in Redis reaches another test's worker.
            queue = "contract-%s" % uuid.uuid4().hex[:8]
            app.conf.task_default_queue = queue
            worker = start_worker(app, pool="solo", perform_ping_check=False, queues=[queue])
            worker.__enter__()
            beat = EmbeddedService(app, thread=True, schedule_filename=str(tmp_path / "beat-schedule"))
            beat.start()

            def stopped() -> None:
                beat.stop()
                beat.join(10)
                worker.__exit__(None, None, None)
                with app.connection_for_write() as connection:
                    connection.default_channel.queue_purge(queue)
            stops.append(stopped)
            return stopped

    yield start
    for stop in stops:
        try:
            stop()
        except Exception:  # noqa: BLE001 - already stopped by the test
            pass


def _times(runs: list[float], until: float, count: int) -> None:
    while len(runs) < count and time.monotonic() < until:
        time.sleep(0.05)


def test_each_job_runs_again_and_again_at_about_its_interval(start_scheduler: Start) -> None:
    fast: list[float] = []
    slow: list[float] = []
    began = time.monotonic()
    stop = start_scheduler([PeriodicJob("contract.fast", 1.0, lambda: fast.append(time.monotonic())),
                            PeriodicJob("contract.slow", 3.0, lambda: slow.append(time.monotonic()))])
    _times(fast, began + 30, 4)
    stop()
    elapsed = time.monotonic() - began
    assert len(fast) >= 4
    # Neither adapter promises punctuality (a run may be late, or two may follow closely when a
    # Celery worker starts), but a 1 s job is not run in a tight loop, and does not starve.
    assert len(fast) <= elapsed / 1.0 + 2, (len(fast), elapsed)
    assert max(later - earlier for earlier, later in zip(fast, fast[1:])) < 10
    assert 1 <= len(slow) < len(fast)


def test_a_run_that_raises_does_not_stop_later_runs(start_scheduler: Start) -> None:
    runs: list[float] = []

    def flaky() -> None:
        runs.append(time.monotonic())
        if len(runs) == 1:
            raise RuntimeError("the database went away for a moment")

    stop = start_scheduler([PeriodicJob("contract.flaky", 1.0, flaky)])
    _times(runs, time.monotonic() + 30, 3)
    stop()
    assert len(runs) >= 3


def test_nothing_runs_after_stop(start_scheduler: Start) -> None:
    runs: list[float] = []
    stop = start_scheduler([PeriodicJob("contract.tick", 1.0, lambda: runs.append(time.monotonic()))])
    _times(runs, time.monotonic() + 30, 2)
    stop()
    seen = len(runs)
    assert seen >= 2
    time.sleep(2.5)
    assert len(runs) == seen
