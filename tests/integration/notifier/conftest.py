"""A Kafka broker of this folder's own, which tests may SIGKILL and restart (on the same port and
data folder) without disturbing the shared broker other tests use."""

from __future__ import annotations

import os
import random
import signal
from typing import Iterator

import pytest

from stack.engines.kafka import KafkaEngine


class RestartableKafka(KafkaEngine):
    # A restarted broker waits until the registration of the one it replaces has no session left
    # before the controller lets it in: the broker session (9 s by default) was most of each
    # restart.  A shorter one, with heartbeats to match, brings it back sooner; what comes back is
    # the same broker with the same data, and the clients' fault handling is what is under test.
    FAST_RESTART = {"broker.session.timeout.ms": "4000", "broker.heartbeat.interval.ms": "500"}

    def __init__(self) -> None:
        super().__init__(overrides=self.FAST_RESTART)

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


@pytest.fixture
def fault_rng() -> random.Random:
    """The fault schedule's randomness, seeded: the seed is printed (shown with a failure's
    output), and CONNECT_FAULT_SEED=<seed> replays the same kills at the same points."""
    seed = int(os.environ.get("CONNECT_FAULT_SEED") or random.SystemRandom().randrange(2**32))
    print(f"\nfault seed: {seed} (CONNECT_FAULT_SEED={seed} repeats this schedule)")
    return random.Random(seed)
