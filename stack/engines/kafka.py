"""A single-node Apache Kafka 4.x (KRaft, broker and controller in one JVM) from Maven Central jars.

The jars come from ``deploy/engines/kafka/pom.xml`` through Maven into the engines cache (see
``jvm.ensure_maven_lib``); the broker then runs straight from that classpath, without the
Kafka distribution's shell scripts.
"""

from __future__ import annotations

import base64
import os
import uuid
from pathlib import Path
from typing import Any, Sequence

from connect.settings import deploy_dir

from .base import port_open
from .jvm import JvmEngine, classpath, ensure_maven_lib, find_java
from .processes import tail_file


def fetch() -> Path:
    """Make sure the broker's jars are in the cache; return the lib folder."""
    return ensure_maven_lib("kafka", deploy_dir() / "engines" / "kafka" / "pom.xml")


def new_cluster_id() -> str:
    """A cluster id in Kafka's own format: 16 random bytes, URL-safe base64 without padding."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
        # Kafka's own generator avoids a leading '-' because CLI tools would take it for an option.
        if not text.startswith("-"):
            return text


class KafkaEngine(JvmEngine):
    """Kafka on ``host:port`` with its KRaft controller on ``controller_port``.

    ``url`` (also ``bootstrap``) is the bootstrap address ``127.0.0.1:<port>``. Topics are
    created on first use with ``num_partitions`` partitions; all internal topics have one replica.
    ``overrides`` adds or replaces ``server.properties`` entries; ``jvm_options`` are added to
    the JVM's; ``fast_start=False`` drops the C1-only JIT option (for long-running brokers).
    """

    name = "kafka"
    stop_grace = 20.0
    default_startup_timeout = 90.0

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        port: int | None = None,
        controller_port: int | None = None,
        num_partitions: int = 3,
        heap: str = "512m",
        overrides: dict[str, str] | None = None,
        **jvm: Any,
    ) -> None:
        super().__init__(data_dir, heap=heap, **jvm)
        self.port = port
        self.controller_port = controller_port
        self.num_partitions = num_partitions
        self.overrides = dict(overrides or {})

    @property
    def bootstrap(self) -> str:
        return self.url

    @property
    def server_log(self) -> Path | None:
        return self.root / "server.log" if self.root else None

    def log_tail(self, lines: int = 60) -> str:
        parts = []
        for label, path in (("stdout", self.log_path), ("server.log", self.server_log)):
            text = tail_file(path, lines)
            if text:
                parts.append("[%s]\n%s" % (label, text))
        return "\n".join(parts)

    def server_properties(self) -> dict[str, str]:
        assert self.root is not None
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": "1@%s:%s" % (self.host, self.controller_port),
            "listeners": "PLAINTEXT://%s:%s,CONTROLLER://%s:%s" % (self.host, self.port, self.host, self.controller_port),
            "advertised.listeners": "PLAINTEXT://%s:%s" % (self.host, self.port),
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.root / "data"),
            "num.partitions": str(self.num_partitions),
            "auto.create.topics.enable": "true",
            "offsets.topic.replication.factor": "1",
            # Fifty offsets partitions (the default) make the first consumer group wait for all of them.
            "offsets.topic.num.partitions": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
        }
        props.update(self.overrides)
        return props

    def _jvm(self, main: str, *args: str) -> list[str]:
        assert self.root is not None and self.lib is not None
        log_config = deploy_dir() / "engines" / "kafka-log4j2.properties"
        return self.java_command(main, classpath(self.lib), args, options=(
            "-Dlog4j2.configurationFile=%s" % log_config,
            "-Dkafka.logs.dir=%s" % self.root,
        ))

    def _prepare(self) -> None:
        assert self.root is not None
        self.java = self.java or find_java()
        self.lib = fetch()
        self.port = self.pick_port(self.port, "port")
        self.controller_port = self.pick_port(self.controller_port, "controller_port")
        (self.root / "tmp").mkdir(exist_ok=True)
        config = self.root / "server.properties"
        config.write_text("".join("%s=%s\n" % item for item in self.server_properties().items()))
        if not (self.root / "data" / "meta.properties").exists():
            id_file = self.root / "cluster.id"
            if not id_file.exists():
                id_file.write_text(new_cluster_id())
            cluster_id = id_file.read_text().strip()
            self.run_tool(
                self._jvm("kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(config), "--ignore-formatted"),
                timeout=120,
            )

    def _command(self) -> Sequence[str]:
        assert self.root is not None
        return self._jvm("kafka.Kafka", str(self.root / "server.properties"))

    def _build_url(self) -> str:
        return "%s:%s" % (self.host, self.port)

    def _ready(self) -> bool:
        if not port_open(self.host, self.port):  # type: ignore[arg-type]
            return False
        from kafka.admin import KafkaAdminClient

        admin = KafkaAdminClient(
            bootstrap_servers=self.url,
            client_id="connect-engine-probe",
            request_timeout_ms=5000,
        )
        try:
            cluster = admin.describe_cluster()
            return bool(cluster.get("brokers")) and cluster.get("controller_id", -1) != -1
        finally:
            admin.close()

    def _state_settings(self) -> dict[str, Any]:
        return {"port": self.port, "controller_port": self.controller_port}

    def _restore_settings(self, settings: dict[str, Any]) -> None:
        self.port = settings.get("port")
        self.controller_port = settings.get("controller_port")

