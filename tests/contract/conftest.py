"""Until the shared harness offers `kafka_bootstrap` to tests outside tests/integration,
the contract suite starts its own broker (only when a Kafka-parametrised test runs)."""

import pytest


@pytest.fixture(scope="session")
def kafka_bootstrap():  # type: ignore[no-untyped-def]
    from connect.engines.kafka import KafkaEngine

    with KafkaEngine() as engine:
        yield engine.bootstrap
