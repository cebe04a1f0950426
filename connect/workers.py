"""`connect serve --workers N`: the embedded shape with N API processes on one port.

One Python process serves search requests on little more than one core (the GIL),
so the embedded shape scales its API by processes over the same state: SQLite files
in WAL mode and the tantivy index folder, both safe to read from many processes.

Exactly one process, this one, does what must happen once: migrations, the
development issuer's key, the first search index, and, while serving, the
background work (relays, consumers, the sweep) -- so the embedded index keeps a
single writer, its indexer.  The other N-1 processes only serve HTTP, search the
index read-only and reload it when the indexer commits.  Each process listens on the
port with a socket of its own (SO_REUSEPORT), so the kernel spreads connections
evenly: with one shared socket, whichever process was idle at accept() took them, and
a run could find one process serving nearly every keep-alive connection while the
other sat idle.

Freshness: a change written by any process reaches the index through this
process's relay, which polls its outbox every 0.5 s when not woken in-process, so
a change made through another worker is searchable within ~0.6 s (the same
process: ~0.1 s).

Supervision: this process watches the others and starts a replacement for any that
exits (a crash, an OOM kill, `kill -9`), at once the first time and with a growing
pause when a process keeps dying right after it starts.  Meanwhile the kernel sends new
connections to the sockets still open, so the API keeps answering; `/readyz` of every
process reports `api.workers` as an error until each extra process serves again.  Which
processes serve is kept in shared memory (one flag per extra process).  Nothing
restarts this first process: that is the job of whatever runs `connect serve`.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import threading
import time
from typing import Any, Callable

from connect.bootstrap import Container

log = logging.getLogger(__name__)


def prepare_shared_state(container: Container) -> None:
    """What must happen exactly once, before any API process reads the shared state."""
    container.upgrade_databases()
    if container.dev_issuer is not None:
        container.dev_issuer.private_key  # noqa: B018 - creates the key file once; workers only read it
    container.cursors  # noqa: B018 - the same for the cursor key (connect/cursors.py)
    # Opening every store once creates what is created on first use (the search index and
    # its alias file), so that API processes never race to create them.
    for name, check in container.ready_checks().items():
        try:
            check()
        except Exception as exc:  # a store that is down now may come up later; readiness reports it
            log.warning("%s is not ready before serving: %s", name, exc)


def bind(host: str, port: int, *, shared: bool = True) -> socket.socket:
    """A listening socket; `shared` ones (SO_REUSEPORT) split the port's connections."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if shared:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def claim_port(host: str, port: int) -> int:
    """Fail, as a plain server would, when something already listens on the port.

    SO_REUSEPORT would let a second `connect serve --workers` join the first one's port and
    quietly take half its connections; a socket that cannot share finds that out first."""
    with bind(host, port, shared=False) as probe:
        return probe.getsockname()[1]  # the one the kernel chose, when asked for port 0


def _serve_on(app: object, sock: socket.socket, max_head_bytes: int, on_started: Callable[[], None] | None = None) -> None:
    from connect.http_server import serve

    serve(app, max_head_bytes=max_head_bytes, sockets=[sock], on_started=on_started)


def _stop_when_orphaned(parent: int) -> None:
    # Without the main process nothing relays or indexes: leave rather than serve stale data.
    while os.getppid() == parent:
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)


def workers_check(serving: Any) -> Callable[[], None]:
    """The `/readyz` check of `api.workers`: every extra API process serves."""
    def check() -> None:
        waiting = sum(1 for flag in serving if not flag)
        if waiting:
            raise RuntimeError("%d of %d extra API processes not serving (starting or replacing one that "
                               "stopped)" % (waiting, len(serving)))
    return check


def _api_process(host: str, port: int, parent: int, serving: Any, slot: int) -> None:
    """Entry point of an extra API process (started with `spawn`: a fresh interpreter)."""
    os.environ["CONNECT_SEARCH_INDEX_WRITES"] = "false"
    from connect import logs
    from connect.bootstrap import build_container
    from connect.settings import Settings
    from connect.web import create_site

    settings = Settings()
    logs.configure(settings.api.log_level, settings.api.log_json)
    threading.Thread(target=_stop_when_orphaned, args=(parent,), name="orphan-watch", daemon=True).start()
    container = build_container(settings)
    app = create_site(container, background=False, migrate=False, ready_checks={"api.workers": workers_check(serving)})

    def started() -> None:
        serving[slot] = 1

    _serve_on(app, bind(host, port), settings.api.max_header_bytes, on_started=started)


class Supervisor:
    """Starts the extra API processes and replaces any that exits, until `stop`."""

    #: A process that lived less than this is restarted after a pause, doubling up to MAX_PAUSE.
    QUICK_DEATH_SECONDS = 10.0
    MAX_PAUSE_SECONDS = 30.0

    def __init__(self, host: str, port: int, count: int) -> None:
        self.host, self.port = host, port
        self._spawn = multiprocessing.get_context("spawn")
        self.serving = self._spawn.Array("b", count, lock=False)  # 1: that extra process serves
        self.processes: list[Any] = [None] * count
        self._started_at = [0.0] * count
        self._pause = [0.0] * count
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="api-supervisor", daemon=True)

    def _start(self, slot: int) -> None:
        self.serving[slot] = 0
        process = self._spawn.Process(target=_api_process, name=f"connect-api-{slot + 1}", daemon=True,
                                      args=(self.host, self.port, os.getpid(), self.serving, slot))
        process.start()
        self.processes[slot], self._started_at[slot] = process, time.monotonic()

    def start(self) -> None:
        for slot in range(len(self.processes)):
            self._start(slot)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stopping.is_set():
            by_sentinel = {process.sentinel: slot for slot, process in enumerate(self.processes)}
            for sentinel in multiprocessing.connection.wait(list(by_sentinel), timeout=1.0):
                if self._stopping.is_set():
                    return
                slot = by_sentinel[sentinel]
                dead = self.processes[slot]
                dead.join(0)
                self.serving[slot] = 0
                lived = time.monotonic() - self._started_at[slot]
                pause = self._pause[slot] = (0.0 if lived >= self.QUICK_DEATH_SECONDS
                                             else min(max(1.0, 2 * self._pause[slot]), self.MAX_PAUSE_SECONDS))
                log.error("API process %s (pid %s) exited with %s after %.1f s; starting a replacement%s",
                          dead.name, dead.pid, dead.exitcode, lived, " in %.0f s" % pause if pause else "")
                if self._stopping.wait(pause):
                    return
                self._start(slot)

    def stop(self) -> None:
        self._stopping.set()
        for process in self.processes:
            if process is not None:
                process.terminate()
        for process in self.processes:
            if process is not None:
                process.join(10)
        self._thread.join(5)


def serve_workers(container: Container, host: str, port: int, workers: int) -> None:
    from connect.web import create_site

    prepare_shared_state(container)
    port = claim_port(host, port)
    sock = bind(host, port)
    supervisor = Supervisor(host, port, workers - 1)
    supervisor.start()
    log.info("serving Connect on http://%s:%s with %s API processes", host, port, workers)
    try:
        app = create_site(container, background=True, migrate=False,
                          ready_checks={"api.workers": workers_check(supervisor.serving)})
        _serve_on(app, sock, container.settings.api.max_header_bytes)
    finally:
        supervisor.stop()
        sock.close()
