"""The JVM engines (Kafka, Elasticsearch, OpenSearch): finding Java, fetching their jars with
Maven once into the shared cache (`engines_cache_dir`), compiling what the project adds to
them, and the launchers' JVM base classes (`JvmEngine`, `SearchNodeEngine`).

Tooling only, like the rest of `stack.engines`; nothing here runs at import time.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, ClassVar, Iterable, Sequence

from .base import Engine, EngineError, engines_cache_dir, install_hint, port_open
from .processes import tail_text

log = logging.getLogger(__name__)


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
                tail_text(proc.stdout or ""),
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


class JvmEngine(Engine):
    """An engine that runs on the JVM from jars resolved from Maven Central.

    Extra constructor arguments: ``heap`` (``-Xmx``), ``java`` (default: ``find_java()``),
    ``jvm_options`` added to the JVM's, and ``fast_start`` (C1-only JIT, which roughly halves
    start-up; pass ``False`` for long-running engines).
    """

    min_heap: ClassVar[str] = "128m"

    def __init__(self, data_dir: str | os.PathLike[str] | None = None, *, heap: str, java: str | None = None,
                 jvm_options: Sequence[str] = (), fast_start: bool = True, **options: Any) -> None:
        """``options``: those of every engine (``detached``, ``startup_timeout``, ``host``)."""
        super().__init__(data_dir, **options)
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
