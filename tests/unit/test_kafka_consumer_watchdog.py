"""The Kafka consumer adapter replaces a consumer whose group coordinator stays unknown (a
kafka-python client that keeps looking for it after a broker restart would stall its group).
kafka-python's consumer is faked here; the broker-kill fault test exercises the real thing."""

from __future__ import annotations

from typing import Any

from connect.adapters.events_kafka import KafkaConsumerAdapter, KafkaTransport
from connect.settings import EventSettings


class _Coordinator:
    def __init__(self, unknown: bool) -> None:
        self.unknown = unknown
        self.joined = True

    def coordinator_unknown(self) -> bool:
        return self.unknown

    def stable(self) -> bool:
        return self.joined and not self.unknown


class _Consumer:
    def __init__(self, unknown: bool) -> None:
        self._coordinator = _Coordinator(unknown)
        self.closed = False
        self.polls = 0

    def poll(self, timeout_ms: int, max_records: int) -> dict[Any, Any]:
        self.polls += 1
        return {}

    def close(self, autocommit: bool, timeout_ms: int) -> None:
        self.closed = True


def _adapter(made: list[_Consumer], unknown_first: bool) -> KafkaConsumerAdapter:
    adapter = KafkaConsumerAdapter(KafkaTransport(EventSettings(kafka_bootstrap="127.0.0.1:1")), "notifier",
                                   ["connect.relationships.v1"])

    def connect() -> _Consumer:
        made.append(_Consumer(unknown=unknown_first and not made))
        return made[-1]

    adapter._connect = connect  # type: ignore[method-assign]
    return adapter


def test_a_consumer_without_a_coordinator_for_too_long_is_replaced() -> None:
    made: list[_Consumer] = []
    adapter = _adapter(made, unknown_first=True)
    adapter.stuck_after_seconds = 0.0
    adapter.poll(0.01)  # connects; the coordinator is unknown from here on
    adapter.poll(0.01)  # first sight of the unknown coordinator: the clock starts
    assert len(made) == 1 and not made[0].closed
    adapter.poll(0.01)  # still unknown, past the limit: closed and replaced
    assert len(made) == 2 and made[0].closed and not made[1].closed
    adapter.poll(0.01)
    assert len(made) == 2 and made[1].polls == 2  # the new one has its coordinator: kept


def test_a_coordinator_that_comes_back_in_time_keeps_the_consumer() -> None:
    made: list[_Consumer] = []
    adapter = _adapter(made, unknown_first=True)
    adapter.stuck_after_seconds = 3600.0
    for _ in range(5):
        adapter.poll(0.01)
    made[0]._coordinator.unknown = False
    adapter.poll(0.01)
    assert len(made) == 1 and not made[0].closed and made[0].polls == 6


def test_a_coordinator_found_and_lost_again_without_a_stable_membership_still_counts() -> None:
    made: list[_Consumer] = []
    adapter = _adapter(made, unknown_first=False)
    adapter.stuck_after_seconds = 0.0
    adapter.poll(0.01)
    made[0]._coordinator.joined = False  # found, but never a stable member of the group
    adapter.poll(0.01)  # the clock starts
    made[0]._coordinator.unknown = True
    adapter.poll(0.01)  # lost again, past the limit: replaced
    assert len(made) == 2 and made[0].closed
