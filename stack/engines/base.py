"""Shared machinery of the local engine launchers (tooling: tests, `connect stack`, benchmarks).

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
import ctypes
import ctypes.util
import fcntl
import hashlib
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
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable, Sequence

log = logging.getLogger(__name__)

STATE_FILE = "engine.json"
# Settings (ports) of the last successful start in a given folder, kept across stops so that a
# restarted local stack keeps its URLs.
LAST_FILE = "engine.last.json"

_PR_SET_PDEATHSIG = 1


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


def find_java() -> str:
    """The ``java`` to run engines with: ``CONNECT_JAVA``, then ``$JAVA_HOME/bin/java``, then PATH."""
    candidates = [os.environ.get("CONNECT_JAVA", "")]
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidates.append(str(Path(java_home) / "bin" / "java"))
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("java")
    if not found:
        raise EngineError(install_hint("java", "default-jdk-headless") + "; JAVA_HOME or CONNECT_JAVA picks another")
    return found


# C1-only JIT: the engines spend their short test lives loading classes, where C2's profiling
# and compiling mostly compete for the two CI cores; measured roughly halving OpenSearch starts.
FAST_START_JVM_OPTIONS = ("-XX:TieredStopAtLevel=1",)


def find_javac(java: str) -> str | None:
    """The compiler next to ``java`` (so both are one JDK), else the one on PATH."""
    sibling = Path(java).resolve().parent / "javac"
    if os.access(sibling, os.X_OK):
        return str(sibling)
    return shutil.which("javac")


# --------------------------------------------------------------------------- maven closures


@contextlib.contextmanager
def file_lock(path: Path):
    """Hold an exclusive lock on ``path`` (created if missing): one fetch or build at a time
    across the processes sharing the engines cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def files_digest(paths: Iterable[Path]) -> str:
    """One SHA-256 over the contents of ``paths``: the marker a cached artefact was built from."""
    sha = hashlib.sha256()
    for path in paths:
        sha.update(path.read_bytes())
    return sha.hexdigest()


def pom_digest(pom: Path) -> str:
    """SHA-256 of the pom's canonical XML (C14N 2.0 without comments, whitespace between elements
    stripped): what the jars depend on, so a comment or re-indented line keeps the cache."""
    return hashlib.sha256(ET.canonicalize(from_file=str(pom), strip_text=True).encode()).hexdigest()


def ensure_maven_lib(name: str, pom: Path, *, timeout: float = 900.0) -> Path:
    """Copy the runtime closure of ``pom`` into ``<cache>/<name>/lib`` once; return that folder.

    A marker holding the pom's digest (`pom_digest`) makes a half-finished copy or a pom whose
    content changed refetch; a
    file lock keeps parallel test workers from fetching into the same folder at once.
    """
    if not pom.is_file():
        raise EngineError("pom not found: %s (set CONNECT_DEPLOY_DIR to the repo's deploy/)" % pom)
    root = engines_cache_dir() / name
    lib = root / "lib"
    marker = lib / ".complete"
    digest = pom_digest(pom)
    # A marker written before the key was canonical holds the digest of the pom's bytes: the
    # same pom, so the same jars (accepting it spares the shared cache a copy per checkout).
    current = {digest, files_digest([pom])}
    if marker.is_file() and marker.read_text().strip() in current:
        return lib
    with file_lock(root / ".lock"):
        if marker.is_file() and marker.read_text().strip() in current:
            return lib
        mvn = shutil.which("mvn")
        if not mvn:
            raise EngineError("mvn not found; run deploy/install-system-deps.sh to install it")
        staging = Path(tempfile.mkdtemp(prefix="lib-", dir=root))
        started = time.monotonic()
        log.info("fetching %s jars with maven into %s", name, lib)
        try:
            proc = subprocess.run(
                [
                    mvn,
                    "-B",
                    "-q",
                    "-f",
                    str(pom),
                    "dependency:copy-dependencies",
                    "-DoutputDirectory=%s" % staging,
                ],
                cwd=str(root),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise EngineError("maven fetch of %s timed out after %ss" % (name, timeout)) from exc
        if proc.returncode != 0 or not any(staging.glob("*.jar")):
            shutil.rmtree(staging, ignore_errors=True)
            raise EngineError(
                "maven could not fetch the %s jars (exit %s)" % (name, proc.returncode),
                _tail_text(proc.stdout or ""),
            )
        if lib.exists():
            shutil.rmtree(lib)
        staging.rename(lib)
        marker.write_text(digest + "\n")
        log.info("fetched %s jars in %.1fs", name, time.monotonic() - started)
    return lib


def classpath(*entries: Path) -> str:
    """A JVM classpath; a folder named ``lib`` stands for every jar in it."""
    return os.pathsep.join(str(entry / "*") if entry.name == "lib" else str(entry) for entry in entries)


def ensure_classes(name: str, sources: Sequence[Path], lib: Path, java: str, *, into: str = "classes") -> Path:
    """Compile the project's ``sources`` against the jars of ``lib`` once, into
    ``<cache>/<name>/<into>``; return that folder. Recompiled when a source or the jars change."""
    for source in sources:
        if not source.is_file():
            raise EngineError("source not found: %s (set CONNECT_DEPLOY_DIR to the repo's deploy/)" % source)
    root = engines_cache_dir() / name
    classes = root / into
    marker = classes / ".complete"
    digest = files_digest([*sources, lib / ".complete"])
    if marker.is_file() and marker.read_text().strip() == digest:
        return classes
    with file_lock(root / ".lock"):
        if marker.is_file() and marker.read_text().strip() == digest:
            return classes
        javac = find_javac(java)
        if javac is None:
            raise EngineError("javac not found; a JDK is needed (run deploy/install-system-deps.sh)")
        if classes.exists():
            shutil.rmtree(classes)
        classes.mkdir(parents=True)
        proc = subprocess.run(
            [javac, "-nowarn", "-d", str(classes), "-cp", classpath(lib), *(str(source) for source in sources)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=300,
        )
        if proc.returncode != 0:
            raise EngineError("could not compile %s" % ", ".join(source.name for source in sources), proc.stdout)
        marker.write_text(digest + "\n")
    return classes


def cluster_health(url: str, timeout: float = 5.0) -> dict[str, Any]:
    """``GET /_cluster/health`` of an Elasticsearch or OpenSearch node, waiting up to a second for
    yellow; plain urllib, no client needed."""
    request = urllib.request.Request(
        url.rstrip("/") + "/_cluster/health?wait_for_status=yellow&timeout=1s",
        headers={"Accept": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback URL
        return json.loads(response.read().decode("utf-8"))


# --------------------------------------------------------------------------- processes


def _tail_text(text: str, lines: int = 60) -> str:
    return "\n".join(text.splitlines()[-lines:])


def tail_file(path: Path | None, lines: int = 60) -> str:
    if path is None or not path.is_file():
        return ""
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - 64 * 1024))
        data = handle.read().decode("utf-8", "replace")
    return _tail_text(data, lines)


def _libc():
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name, use_errno=True) if name else None


def _death_signal_arm(sig: int) -> Callable[[], None] | None:
    """A preexec hook asking the kernel to send ``sig`` to the child when we die.

    Covers the case atexit cannot: this interpreter killed outright (CI timeout, SIGKILL).
    libc is loaded here, in the parent, so the forked child only makes one system call.
    """
    libc = _libc()
    if libc is None:
        return None

    def arm() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)

    return arm


def process_stat(pid: int | str) -> list[str]:
    """The fields of ``/proc/<pid>/stat`` after the command name: ``[0]`` state, ``[1]`` parent,
    ``[2]`` process group, ``[11]``/``[12]`` user/system CPU ticks, ``[19]`` start time in ticks.
    The name may contain spaces and parentheses, so the fields resume after the last ')'.
    Raises OSError once the process is gone."""
    raw = Path("/proc/%s/stat" % pid).read_text()
    return raw[raw.rindex(")") + 2:].split()


def process_start_ticks(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks; tells a live engine from a recycled pid."""
    try:
        return int(process_stat(pid)[19])
    except OSError:
        return None


def pid_alive(pid: int, start_ticks: int | None = None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        if process_stat(pid)[0] == "Z":
            return False
    except OSError:
        return False
    if start_ticks is not None and process_start_ticks(pid) != start_ticks:
        return False
    return True


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
                _tail_text(output),
            )
        return output

    def _spawn(self, argv: Sequence[str], **options: Any) -> None:
        assert self.log_path is not None
        logfile = open(self.log_path, "ab")
        preexec: Callable[[], None] | None = None
        # The parent-death signal is tied to the spawning thread, so only arm it from the main
        # thread (a worker thread ending would otherwise take the engine with it).
        if not self.detached and threading.current_thread() is threading.main_thread():
            preexec = _death_signal_arm(int(self.stop_signal))
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


class JvmEngine(Engine):
    """An engine that runs on the JVM from jars resolved from Maven Central.

    Extra constructor arguments: ``heap`` (``-Xmx``), ``java`` (default: ``find_java()``),
    ``jvm_options`` added to the JVM's, and ``fast_start`` (C1-only JIT, which roughly halves
    start-up; pass ``False`` for long-running engines).
    """

    min_heap: ClassVar[str] = "128m"

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        heap: str,
        java: str | None = None,
        jvm_options: Sequence[str] = (),
        fast_start: bool = True,
        detached: bool = False,
        startup_timeout: float | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(data_dir, detached=detached, startup_timeout=startup_timeout, host=host)
        self.heap = heap
        self.java = java
        self.jvm_options = [*(FAST_START_JVM_OPTIONS if fast_start else ()), *jvm_options]
        self.lib: Path | None = None

    @classmethod
    def preflight(cls, data_dir: Path) -> None:
        find_java()

    def java_command(self, main: str, class_path: str, args: Sequence[str] = (),
                     options: Sequence[str] = ()) -> list[str]:
        assert self.root is not None and self.java is not None
        return [
            self.java,
            "-Xms%s" % self.min_heap,
            "-Xmx%s" % self.heap,
            *options,
            *self.jvm_options,
            "-Djava.awt.headless=true",
            "-Djava.io.tmpdir=%s" % (self.root / "tmp"),
            "-cp",
            class_path,
            main,
            *args,
        ]


class SearchNodeEngine(JvmEngine):
    """One node of a search cluster (Elasticsearch, OpenSearch) on ``http://127.0.0.1:<port>``,
    transport on ``transport_port``, ready once the cluster health is yellow or green.

    ``settings`` adds or replaces node settings (``elasticsearch.yml`` / ``opensearch.yml`` keys);
    subclasses start from ``base_settings()``, which turns disk-based shard allocation off so a
    nearly full CI disk does not turn indices read-only or red. ``jvm_options`` are added to the
    JVM's; ``fast_start=False`` drops the C1-only JIT option.
    """

    min_heap = "512m"
    stop_grace = 20.0
    default_startup_timeout = 120.0
    default_heap: ClassVar[str] = "512m"

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        port: int | None = None,
        transport_port: int | None = None,
        cluster_name: str = "connect-test",
        heap: str | None = None,
        settings: dict[str, str] | None = None,
        **jvm: Any,
    ) -> None:
        super().__init__(data_dir, heap=heap or self.default_heap, **jvm)
        self.port = port
        self.transport_port = transport_port
        self.cluster_name = cluster_name
        self.settings = dict(settings or {})

    def base_settings(self) -> dict[str, str]:
        return {
            "http.port": str(self.port),
            "transport.port": str(self.transport_port),
            "network.host": self.host,
            "discovery.type": "single-node",
            "cluster.routing.allocation.disk.threshold_enabled": "false",
        }

    def pick_ports(self) -> None:
        self.port = self.pick_port(self.port, "port")
        self.transport_port = self.pick_port(self.transport_port, "transport_port")

    def _build_url(self) -> str:
        return "http://%s:%s" % (self.host, self.port)

    def _ready(self) -> bool:
        if not port_open(self.host, self.port):  # type: ignore[arg-type]
            return False
        health = cluster_health(self.url, timeout=5.0)
        return health.get("status") in ("yellow", "green")

    def _state_settings(self) -> dict[str, Any]:
        return {"port": self.port, "transport_port": self.transport_port, "cluster_name": self.cluster_name}

    def _restore_settings(self, settings: dict[str, Any]) -> None:
        self.port = settings.get("port")
        self.transport_port = settings.get("transport_port")
        self.cluster_name = settings.get("cluster_name", self.cluster_name)
