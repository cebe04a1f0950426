"""The distributed timer path: the platform's `connect.periodic` task, sent through real
Redis, run by a real `connect run worker` process, sweeping the relationships database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select

from connect.adapters.scheduler_celery import create_celery_app
from connect.bootstrap import Container
from connect.settings import Settings
from services.relationships.adapters import orm
from tests.unit.relationships.conftest import proposal_body


def _ran(log_path: Path, task_id: str) -> bool:
    """The worker logged this task's success (Celery's own `Task connect.periodic[<id>] succeeded`)."""
    return f"connect.periodic[{task_id}] succeeded" in log_path.read_text(errors="replace")


def _onnxruntime_loaded_in_session(session_id: int) -> list[int]:
    """The processes of this session (the worker and its pool) that have onnxruntime mapped."""
    loaded = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == session_id and "onnxruntime" in (stat.parent / "maps").read_text():
                loaded.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue  # a process that ended meanwhile
    return loaded


def test_celery_worker_runs_the_sweep_from_redis(client, auth, container, mentor, clock, redis_url, tmp_path):
    # The worker sweeps as of the real time: send the proposal four days ago.
    clock.set(datetime.now(timezone.utc) - timedelta(days=4))
    mentor("M2")
    rel = client.post("/v1/proposals", json=proposal_body("M2"), headers=auth("M1")).json()

    database = container.services["relationships"].database
    env = {**os.environ, "CONNECT_CELERY_BROKER": redis_url, "CONNECT_RELATIONSHIPS_DATABASE_URL": database.url,
           "CONNECT_VAR_DIR": str(tmp_path / "worker-var"), "CONNECT_LOG_JSON": "false"}
    env.pop("CONNECT_DATABASE_URL", None)
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        worker = subprocess.Popen([str(Path(sys.executable).with_name("connect")), "run", "worker",
                                   "--concurrency", "1"], env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        # A sender of our own, like beat: the broker is all it needs.
        celery = create_celery_app(Container(Settings(celery_broker=redis_url, var_dir=tmp_path / "sender-var"),
                                             container.clock))
        deadline = time.monotonic() + 90
        sent = []
        next_send = time.monotonic()
        while time.monotonic() < deadline and not sent:
            if time.monotonic() >= next_send:
                # Like beat: fire the periodic task every 2 s; an unclaimed message only waits in Redis.
                celery.send_task("connect.periodic", args=("relationships.sweep",))
                next_send = time.monotonic() + 2
            # Looked for often: the reminder counts from the moment it is there, not the next send.
            time.sleep(0.2)
            with database.session() as session:
                sent = session.execute(select(orm.reminders.c.day, orm.reminders.c.sent)
                                       .where(orm.reminders.c.relationship_id == rel["id"])).all()
            assert worker.poll() is None, log_path.read_text()[-3000:]
        assert [(r.day, r.sent) for r in sent] == [(3, True)], log_path.read_text()[-3000:]
        # Every further run of the task is harmless: still one reminder, once that run is known to
        # have finished (not merely after some time, which would pass had it never run).
        again = celery.send_task("connect.periodic", args=("relationships.sweep",))
        deadline = time.monotonic() + 60
        while not _ran(log_path, again.id):
            assert time.monotonic() < deadline and worker.poll() is None, log_path.read_text()[-3000:]
            time.sleep(0.2)
        with database.session() as session:
            assert len(session.execute(select(orm.reminders.c.day)
                                       .where(orm.reminders.c.relationship_id == rel["id"])).all()) == 1
        # A worker that has only swept never loaded matching's embedding model (nor onnxruntime).
        assert _onnxruntime_loaded_in_session(worker.pid) == []
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(5)
