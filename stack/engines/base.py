"""The engine launchers' base (tooling: tests, `connect stack`, benchmarks): ports, the shared
jar cache's location, and `Engine` - start, wait, stop, state files; `PortEngine` for the
one-port servers. The JVM engines' toolchain and base classes are in `jvm.py`; what is asked of
the operating system about processes is in `processes.py`.

An engine is an external server process (PostgreSQL, Redis, Kafka, OpenSearch, an SMTP sink)
started on free loopback ports with its data in a folder of its own. Two ways to run one:

* attached (tests): ``engine.start()`` ... ``engine.stop()``. The child lives in its own process
  group, is stopped by ``stop()``, by an ``atexit`` hook, and - when started from the main thread
  - receives a signal from the kernel if this interpreter dies without running either.
* detached (``connect stack up``): ``Engine(data_dir=..., detached=True).start()`` writes
  ``<data_dir>/engine.json``; a later process finds it again with ``Engine.attach(data_dir)``
  and stops it with ``Engine.stop_detached(data_dir)``.

Nothing here starts at import time.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, ClassVar, Sequence

from .processes import death_signal_hook, pid_alive, process_start_ticks, tail_file, tail_text

log = logging.getLogger(__name__)

STATE_FILE = "engine.json"
# Settings (ports) of the last successful start in a given folder, kept across stops so that a
# restarted local stack keeps its URLs.
LAST_FILE = "engine.last.json"


class EngineError(RuntimeError):
    """An engine could not be prepared, started or reached; carries the tail of its log."""

    def __init__(self, message: str, log_tail: str = "") -> None:
        super().__init__(message)
        self.log_tail = log_tail

    def __str__(self) -> str:
        text = super().__str__()
        if self.log_tail:
            return "%s\n--- log tail ---\n%s" % (text, self.log_tail)
        return text


# --------------------------------------------------------------------------- ports

_handed_out: set[int] = set()
_ports_lock = threading.Lock()


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel just handed out for ``host``; never the same one twice per process.

    There is a window between closing the probe socket and the engine binding the port; the
    set of handed-out ports at least keeps two engines of one run from racing each other.
    """
    with _ports_lock:
        for _ in range(50):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((host, 0))
                port = sock.getsockname()[1]
            if port not in _handed_out:
                _handed_out.add(port)
                return port
    raise EngineError("could not find a free port on %s" % host)


def port_bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Servers set SO_REUSEADDR too, so a port still in TIME_WAIT counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------- locations


def engines_cache_dir() -> Path:
    """Where fetched engine jars live; ``CONNECT_ENGINES_CACHE`` overrides."""
    configured = os.environ.get("CONNECT_ENGINES_CACHE")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "connect" / "engines"


def install_hint(program: str, package: str) -> str:
    """The one line that says a program is missing and which command installs it."""
    return "%s not found: install it with `apt-get install %s` (or `make engines`)" % (program, package)


# --------------------------------------------------------------------------- engines alive here

_live: "set[Engine]" = set()
_live_lock = threading.Lock()
_atexit_registered = False


def _stop_all_at_exit() -> None:
    with _live_lock:
        engines = list(_live)
    for engine in engines:
        try:
            engine.stop()
        except Exception:  # noqa: BLE001 - interpreter is exiting; best effort for each
            log.exception("could not stop %s at exit", engine.name)


def _track(engine: "Engine") -> None:
    global _atexit_registered
    with _live_lock:
        _live.add(engine)
        if not _atexit_registered:
            atexit.register(_stop_all_at_exit)
            _atexit_registered = True


def _untrack(engine: "Engine") -> None:
    with _live_lock:
        _live.discard(engine)


class Engine:
    """One external server on loopback. Subclasses fill in ``_prepare``, ``_command``, ``_ready``.

    Constructor arguments shared by all engines:

    * ``data_dir``: folder for data, config and log. ``None`` means a fresh temp folder that
      ``stop()`` deletes; a given folder is kept (and reused by the next start).
    * ``detached``: run for other processes (``connect stack up``): no atexit stop, no
      parent-death signal, a state file in ``data_dir`` for :meth:`attach` / :meth:`stop_detached`.
    * ``startup_timeout``: seconds ``start()`` waits for readiness before giving up.
    * ``host``: the loopback address to bind.
    """

    name: ClassVar[str] = "engine"
    stop_signal: ClassVar[int] = signal.SIGTERM
    stop_grace: ClassVar[float] = 20.0
    default_startup_timeout: ClassVar[float] = 60.0

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        detached: bool = False,
        startup_timeout: float | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        if detached and data_dir is None:
            raise ValueError("a detached %s needs a data_dir to keep its state in" % self.name)
        self.host = host
        self.detached = detached
        self.startup_timeout = startup_timeout or self.default_startup_timeout
        self._given_dir = Path(data_dir).resolve() if data_dir is not None else None
        self.root: Path | None = self._given_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.pid: int | None = None
        self._start_ticks: int | None = None
        self._url: str | None = None
        self.started_seconds: float | None = None
        self._ports: set[int] = set()
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ public API

    @property
    def url(self) -> str:
        if self._url is None:
            raise EngineError("%s is not started" % self.name)
        return self._url

    @property
    def log_path(self) -> Path | None:
        return self.root / ("%s.log" % self.name) if self.root else None

    def log_tail(self, lines: int = 60) -> str:
        return tail_file(self.log_path, lines)

    def is_running(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        return self.pid is not None and pid_alive(self.pid, self._start_ticks)

    def start(self) -> "Engine":
        """Start the server and return once it answers a real request; raise EngineError otherwise."""
        with self._lock:
            if self.is_running():
                return self
            began = time.monotonic()
            if self.root is None:
                self.root = Path(tempfile.mkdtemp(prefix="connect-%s-" % self.name))
            self.root.mkdir(parents=True, exist_ok=True)
            if self._given_dir is not None:
                self._refuse_if_already_running()
            if not self.detached:
                _track(self)
            try:
                self._prepare()
                # The readiness clock starts at the spawn: fetching jars or laying out a home in
                # `_prepare` (minutes, once) is not the server being slow to start.
                spawned = time.monotonic()
                self._spawn(self._command(), **self._spawn_options())
                self._url = self._build_url()
                self._wait_ready(spawned)
                self._after_ready()
            except BaseException as exc:
                tail = self.log_tail()
                self.stop()
                if isinstance(exc, EngineError):
                    if not exc.log_tail:
                        exc.log_tail = tail
                    raise
                if isinstance(exc, Exception):
                    raise EngineError("%s failed to start: %s" % (self.name, exc), tail) from exc
                raise
            self.started_seconds = time.monotonic() - began
            if self._given_dir is not None:
                self._write_json(LAST_FILE, self._state_settings())
            if self.detached:
                self._write_json(STATE_FILE, self.state())
            log.info("%s ready at %s in %.1fs", self.name, self._url, self.started_seconds)
            return self

    def stop(self) -> None:
        """Stop the server (signal, wait, kill the group if needed) and drop a temp data folder."""
        with self._lock:
            owned = self.pid is not None
            try:
                self._terminate()
            finally:
                _untrack(self)
                with _ports_lock:
                    _handed_out.difference_update(self._ports)
                self._ports.clear()
                self.process = None
                self.pid = None
                self._url = None
                if self.root is not None:
                    # Only the object that ran (or attached to) the process may drop its state file.
                    if owned:
                        with contextlib.suppress(FileNotFoundError):
                            (self.root / STATE_FILE).unlink()
                    if self._given_dir is None:
                        shutil.rmtree(self.root, ignore_errors=True)
                        self.root = None

    def __enter__(self) -> "Engine":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return "<%s url=%s pid=%s root=%s>" % (type(self).__name__, self._url, self.pid, self.root)

    # ------------------------------------------------------------------ detached mode

    def state(self) -> dict[str, Any]:
        return {
            "engine": self.name,
            "pid": self.pid,
            "start_ticks": self._start_ticks,
            "url": self._url,
            "started_at": time.time(),
            "settings": self._state_settings(),
        }

    @classmethod
    def read_state(cls, data_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
        path = Path(data_dir) / STATE_FILE
        try:
            return json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            return None

    @classmethod
    def attach(cls, data_dir: str | os.PathLike[str]) -> "Engine | None":
        """The detached engine running in ``data_dir``, or None (a stale state file is removed)."""
        state = cls.read_state(data_dir)
        if not state or state.get("engine") != cls.name or not state.get("pid"):
            return None
        engine = cls(data_dir, detached=True)
        engine.pid = int(state["pid"])
        engine._start_ticks = state.get("start_ticks")
        engine._url = state.get("url")
        engine._restore_settings(state.get("settings") or {})
        if not engine.is_running():
            with contextlib.suppress(FileNotFoundError):
                (Path(data_dir) / STATE_FILE).unlink()
            return None
        return engine

    @classmethod
    def stop_detached(cls, data_dir: str | os.PathLike[str]) -> bool:
        """Stop the detached engine of ``data_dir``; False when none was running."""
        engine = cls.attach(data_dir)
        if engine is None:
            return False
        engine.stop()
        return True

    # ------------------------------------------------------------------ for subclasses

    @classmethod
    def preflight(cls, data_dir: Path) -> None:
        """Refuse now, with an `EngineError` of one line, what would make a start in ``data_dir``
        fail later (a program not installed, a folder the server may not enter)."""

    def _prepare(self) -> None:
        """Write config, format storage, fetch jars; runs before the server is spawned."""

    def _command(self) -> Sequence[str]:
        raise NotImplementedError

    def _spawn_options(self) -> dict[str, Any]:
        return {}

    def _build_url(self) -> str:
        raise NotImplementedError

    def _ready(self) -> bool:
        """One readiness probe: True once the server serves real requests."""
        raise NotImplementedError

    def _after_ready(self) -> None:
        """Post-start provisioning (e.g. create a database)."""

    def _state_settings(self) -> dict[str, Any]:
        return {}

    def _restore_settings(self, settings: dict[str, Any]) -> None:
        """Re-read ports and the like from a state file when attaching."""

    # ------------------------------------------------------------------ internals

    def _refuse_if_already_running(self) -> None:
        other = type(self).attach(self.root)  # type: ignore[arg-type]
        if other is not None:
            raise EngineError("%s already runs from %s (pid %s)" % (self.name, self.root, other.pid))

    def run_tool(self, argv: Sequence[str], *, timeout: float = 120.0, **options: Any) -> str:
        """Run a one-shot helper (initdb, storage format); its output goes to the engine log."""
        proc = subprocess.run(
            list(argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            cwd=str(self.root),
            **options,
        )
        output = proc.stdout.decode("utf-8", "replace")
        if self.log_path is not None:
            with open(self.log_path, "a", encoding="utf-8") as handle:
                handle.write("$ %s\n%s\n" % (" ".join(argv), output))
        if proc.returncode != 0:
            raise EngineError(
                "%s: %s exited with %s" % (self.name, Path(argv[0]).name, proc.returncode),
                tail_text(output),
            )
        return output

    def _spawn(self, argv: Sequence[str], **options: Any) -> None:
        assert self.log_path is not None
        logfile = open(self.log_path, "ab")
        preexec: Callable[[], None] | None = None
        # The parent-death signal is tied to the spawning thread, so only arm it from the main
        # thread (a worker thread ending would otherwise take the engine with it).
        if not self.detached and threading.current_thread() is threading.main_thread():
            preexec = death_signal_hook(int(self.stop_signal))
        try:
            self.process = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=logfile,
                stderr=subprocess.STDOUT,
                cwd=str(self.root),
                # Own session and process group: killpg reaches the whole tree, and a Ctrl-C in
                # the terminal does not hit a detached engine.
                start_new_session=True,
                preexec_fn=preexec,
                close_fds=True,
                **options,
            )
        finally:
            logfile.close()
        self.pid = self.process.pid
        self._start_ticks = process_start_ticks(self.pid)
        log.debug("%s spawned pid %s: %s", self.name, self.pid, " ".join(argv))

    def _wait_ready(self, began: float) -> None:
        deadline = began + self.startup_timeout
        last_error: Exception | None = None
        delay = 0.1
        while True:
            if not self.is_running():
                code = self.process.returncode if self.process is not None else None
                raise EngineError("%s exited during startup (exit %s)" % (self.name, code), self.log_tail())
            try:
                if self._ready():
                    return
            except Exception as exc:  # noqa: BLE001 - probes fail in many ways until ready
                last_error = exc
            if time.monotonic() > deadline:
                detail = " (last probe error: %s)" % last_error if last_error else ""
                raise EngineError(
                    "%s not ready after %.0fs%s" % (self.name, self.startup_timeout, detail),
                    self.log_tail(),
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 1.0)

    def _signal_group(self, sig: int) -> None:
        if self.pid is None:
            return
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            pass
        except PermissionError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def _wait_exit(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None:
                try:
                    self.process.wait(timeout=min(0.2, max(0.01, deadline - time.monotonic())))
                    return True
                except subprocess.TimeoutExpired:
                    continue
            if self.pid is None or not pid_alive(self.pid, self._start_ticks):
                return True
            time.sleep(0.1)
        return False

    def _group_alive(self) -> bool:
        if self.pid is None:
            return False
        try:
            os.killpg(self.pid, 0)
            return True
        except (ProcessLookupError, PermissionError):
            return False

    def _terminate(self) -> None:
        if self.pid is None:
            return
        if self.is_running():
            self._signal_group(int(self.stop_signal))
            if not self._wait_exit(self.stop_grace):
                log.warning("%s (pid %s) ignored signal %s; killing it", self.name, self.pid, self.stop_signal)
        # Leftover group members (e.g. backends of a killed postmaster) go too.
        if self.is_running() or self._group_alive():
            self._signal_group(signal.SIGKILL)
            self._wait_exit(5.0)
        if self.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=1)

    def _write_json(self, name: str, data: dict[str, Any]) -> None:
        assert self.root is not None
        path = self.root / name
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2))
        tmp.replace(path)

    def pick_port(self, current: int | None, key: str = "port") -> int:
        """``current`` if set, else the port of the last start in this folder if still free, else a new one."""
        if current:
            return current
        if self._given_dir is not None:
            try:
                last = json.loads((self._given_dir / LAST_FILE).read_text()).get(key)
            except (OSError, ValueError, AttributeError):
                last = None
            if isinstance(last, int) and last not in _handed_out and port_bindable(self.host, last):
                with _ports_lock:
                    _handed_out.add(last)
                self._ports.add(last)
                return last
        port = free_port(self.host)
        self._ports.add(port)
        return port


class PortEngine(Engine):
    """An engine serving on one TCP port (``port``): the given one, else the last start's in this
    folder while still free, else a free one; kept in the state file for :meth:`attach`."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        port: int | None = None,
        detached: bool = False,
        startup_timeout: float | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(data_dir, detached=detached, startup_timeout=startup_timeout, host=host)
        self.port = port

    def _prepare(self) -> None:
        self.port = self.pick_port(self.port, "port")

    def _state_settings(self) -> dict[str, Any]:
        return {"port": self.port}

    def _restore_settings(self, settings: dict[str, Any]) -> None:
        self.port = settings.get("port")
