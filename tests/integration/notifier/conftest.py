"""A Kafka broker of this folder's own, which tests may SIGKILL and restart (on the same port and
data folder) without disturbing the shared broker other tests use."""

from __future__ import annotations

import signal
from typing import Iterator

import pytest

from stack.engines.kafka import KafkaEngine


class RestartableKafka(KafkaEngine):
    def kill(self) -> None:
        """SIGKILL the broker, keeping its data folder and ports for `restart()`."""
        with self._lock:
            self._signal_group(signal.SIGKILL)
            self._wait_exit(15.0)
            self.process = None
            self.pid = None

    def restart(self) -> "RestartableKafka":
        self.start()
        return self


@pytest.fixture(scope="module")
def own_kafka(kafka_bootstrap: str) -> Iterator[RestartableKafka]:
    # Asking for kafka_bootstrap first makes the harness skip (or fail in CI) consistently when
    # Kafka cannot run here at all.
    engine = RestartableKafka()
    engine.start()
    yield engine
    engine.stop()
