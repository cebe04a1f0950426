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
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import threading
import time

from connect.bootstrap import Container

log = logging.getLogger(__name__)


def prepare_shared_state(container: Container) -> None:
    """What must happen exactly once, before any API process reads the shared state."""
    container.upgrade_databases()
    if container.dev_issuer is not None:
        container.dev_issuer.private_key  # noqa: B018 - creates the key file once; workers only read it
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


def _serve_on(app: object, sock: socket.socket) -> None:
    import uvicorn

    config = uvicorn.Config(app, log_config=None, access_log=False)  # type: ignore[arg-type]
    uvicorn.Server(config).run(sockets=[sock])


def _stop_when_orphaned(parent: int) -> None:
    # Without the main process nothing relays or indexes: leave rather than serve stale data.
    while os.getppid() == parent:
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)


def _api_process(host: str, port: int, parent: int) -> None:
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
    _serve_on(create_site(container, background=False, migrate=False), bind(host, port))


def serve_workers(container: Container, host: str, port: int, workers: int) -> None:
    from connect.web import create_site

    prepare_shared_state(container)
    port = claim_port(host, port)
    sock = bind(host, port)
    spawn = multiprocessing.get_context("spawn")
    extra = [spawn.Process(target=_api_process, args=(host, port, os.getpid()), name=f"connect-api-{n}", daemon=True)
             for n in range(1, workers)]
    for process in extra:
        process.start()
    log.info("serving Connect on http://%s:%s with %s API processes", host, port, workers)
    try:
        _serve_on(create_site(container, background=True, migrate=False), sock)
    finally:
        for process in extra:
            process.terminate()
        for process in extra:
            process.join(10)
        sock.close()
