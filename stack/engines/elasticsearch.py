"""A one-node Elasticsearch 8.19 from Maven Central jars: the server of the distribution.

Maven Central has the server (``org.elasticsearch:elasticsearch``) and the HTTP transport
module (``org.elasticsearch.plugin:transport-netty4``), not the distribution's other modules.
``fetch`` lays the jars out as an Elasticsearch home in the engines cache:

* ``home/lib``: every jar but Netty's, on the JVM's module path as the distribution has them;
* ``home/modules/transport-netty4``: Netty and the module, with the descriptor from its jar;
* ``home/modules/connect-standin``: the project's stand-in for the parts of the unpublished
  modules that Connect calls (``deploy/engines/elasticsearch/standin/StandInPlugin.java``:
  ``GET``/``HEAD /`` and three analysis components), compiled and jarred here.

The node is started by ``deploy/engines/elasticsearch/ConnectElasticsearch.java`` (compiled into
the cache too), which builds it as the distribution's bootstrap does after its production checks.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Sequence

from connect.settings import deploy_dir

from .base import EngineError, engines_cache_dir
from .jvm import SearchNodeEngine, classpath, ensure_classes, ensure_maven_lib, file_lock, files_digest, find_java

MAIN_CLASS = "ConnectElasticsearch"
NETTY_MODULE = "transport-netty4"
STANDIN_MODULE = "connect-standin"
STANDIN_CLASS = "connect.standin.StandInPlugin"


def _sources() -> Path:
    return deploy_dir() / "engines" / "elasticsearch"


def version() -> str:
    """The Elasticsearch release the pom names: the one line tests, stack and compose run."""
    found = re.search(r"<elasticsearch\.version>([^<]+)<", (_sources() / "pom.xml").read_text())
    if found is None:
        raise EngineError("no <elasticsearch.version> in %s" % (_sources() / "pom.xml"))
    return found.group(1)


def image() -> str:
    """The official image of that release, as docker-compose.yml names it (tests on a Docker host)."""
    return "elasticsearch:%s" % version()


def fetch(java: str | None = None) -> tuple[Path, Path]:
    """Fetch the jars, compile the launcher and the stand-in, lay out the home, once;
    return (home folder, launcher classes folder)."""
    java = java or find_java()
    lib = ensure_maven_lib("elasticsearch", _sources() / "pom.xml")
    launcher = ensure_classes("elasticsearch", [_sources() / ("%s.java" % MAIN_CLASS)], lib, java, into="launcher")
    standin = ensure_classes("elasticsearch", [_sources() / "standin" / "StandInPlugin.java"], lib, java,
                             into="standin")
    return _ensure_home(lib, standin), launcher


def _ensure_home(lib: Path, standin: Path) -> Path:
    root = engines_cache_dir() / "elasticsearch"
    home = root / "home"
    marker = home / ".complete"
    digest = files_digest([lib / ".complete", standin / ".complete"])
    if marker.is_file() and marker.read_text().strip() == digest:
        return home
    with file_lock(root / ".lock"):
        if marker.is_file() and marker.read_text().strip() == digest:
            return home
        staging = Path(tempfile.mkdtemp(prefix="home-", dir=root))
        try:
            _lay_out_home(lib, standin, staging)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        if home.exists():
            shutil.rmtree(home)
        staging.rename(home)
        marker.write_text(digest + "\n")
    return home


def _lay_out_home(lib: Path, standin: Path, home: Path) -> None:
    netty = home / "modules" / NETTY_MODULE
    for folder in (home / "lib", netty, home / "modules" / STANDIN_MODULE, home / "plugins"):
        folder.mkdir(parents=True)
    module_jar = None
    for jar in sorted(lib.glob("*.jar")):
        if jar.name.startswith(NETTY_MODULE + "-"):
            module_jar = jar
        target = netty if jar.name.startswith(("netty-", NETTY_MODULE + "-")) else home / "lib"
        (target / jar.name).symlink_to(jar)
    if module_jar is None:
        raise EngineError("no %s jar among the fetched jars in %s" % (NETTY_MODULE, lib))
    with zipfile.ZipFile(module_jar) as jar_file:
        descriptor = jar_file.read("META-INF/es-plugins/%s/plugin-descriptor.properties" % NETTY_MODULE).decode()
    (netty / "plugin-descriptor.properties").write_text(descriptor)
    version = re.search(r"^elasticsearch\.version=(\S+)$", descriptor, re.MULTILINE)
    if version is None:
        raise EngineError("no elasticsearch.version in the %s descriptor" % NETTY_MODULE)
    module = home / "modules" / STANDIN_MODULE
    with zipfile.ZipFile(module / ("%s.jar" % STANDIN_MODULE), "w") as jar_file:
        for path in sorted(standin.rglob("*.class")):
            jar_file.write(path, path.relative_to(standin).as_posix())
    # A classic plugin must name the exact server version it runs in.
    (module / "plugin-descriptor.properties").write_text(
        "description=Connect's stand-in for the parts of unpublished modules it calls\n"
        "version=%s\nname=%s\nclassname=%s\njava.version=17\nelasticsearch.version=%s\n"
        % (version.group(1), STANDIN_MODULE, STANDIN_CLASS, version.group(1))
    )


class ElasticsearchEngine(SearchNodeEngine):
    """Elasticsearch, one node, security off (no x-pack: the Maven Central server has none);
    see ``SearchNodeEngine`` for the options."""

    name = "elasticsearch"

    def __init__(self, data_dir: str | os.PathLike[str] | None = None, **options: Any) -> None:
        super().__init__(data_dir, **options)
        self.home: Path | None = None
        self.classes: Path | None = None

    def node_settings(self) -> dict[str, str]:
        assert self.root is not None
        settings = {
            **self.base_settings(),
            "cluster.name": self.cluster_name,
            "node.name": "node-1",
            "path.data": str(self.root / "data"),
            "path.logs": str(self.root / "logs"),
            # Warnings, plus the node's start and stop milestones, to the engine log.
            "logger.level": "WARN",
            "logger.org.elasticsearch.node.Node": "INFO",
        }
        settings.update(self.settings)
        return settings

    def _prepare(self) -> None:
        assert self.root is not None
        self.java = self.java or find_java()
        self.home, self.classes = fetch(self.java)
        self.pick_ports()
        (self.root / "tmp").mkdir(exist_ok=True)

    def _command(self) -> Sequence[str]:
        assert self.root is not None and self.home is not None and self.classes is not None
        return self.java_command(
            MAIN_CLASS, classpath(self.classes),
            [str(self.home), str(self.root / "config"),
             *("%s=%s" % item for item in self.node_settings().items())],
            options=("--module-path", str(self.home / "lib"), "--add-modules", "ALL-MODULE-PATH",
                     "-XX:+ExitOnOutOfMemoryError", "-Dlog4j2.disable.jmx=true", "-Dfile.encoding=UTF-8"),
        )
