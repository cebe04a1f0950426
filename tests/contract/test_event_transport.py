"""One contract for every event transport: the embedded log and real Kafka behave alike
where consumers depend on it (per-key order, committed offsets, redelivery, dead letters)."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Iterator

import pytest

from connect.events import (ConsumerLoop, DependencyUnavailable, EventTransport, OutgoingMessage, PoisonMessage,
                            Record, TransientError, dead_letter_topic)


@pytest.fixture(params=["embedded", pytest.param("kafka", marks=pytest.mark.integration)])
def transport(request: pytest.FixtureRequest, tmp_path) -> Iterator[EventTransport]:  # type: ignore[no-untyped-def]
    if request.param == "embedded":
        from connect.adapters.events_embedded import EmbeddedTransport

        made: EventTransport = EmbeddedTransport(tmp_path / "events.db")
    else:
        from connect.adapters.events_kafka import KafkaTransport
        from connect.settings import EventSettings

        made = KafkaTransport(EventSettings(kafka_bootstrap=request.getfixturevalue("kafka_bootstrap")))
    yield made
    made.close()


@pytest.fixture
def topic() -> str:
    return f"contract.{uuid.uuid4().hex[:12]}.v1"


def group() -> str:
    return f"group-{uuid.uuid4().hex[:12]}"


def consume(consumer, count: int, timeout: float = 45.0) -> list[Record]:  # type: ignore[no-untyped-def]
    """Poll until `count` records arrived (a Kafka consumer first has to join its group)."""
    got: list[Record] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        got.extend(consumer.poll(0.5))
    return got


def nothing_more(consumer) -> bool:  # type: ignore[no-untyped-def]
    return not any(consumer.poll(0.3) for _ in range(3))


def test_round_trip_keeps_topic_key_and_value(transport, topic):
    transport.publisher().publish([OutgoingMessage(topic, "k1", b"one"), OutgoingMessage(topic, "k2", b"two")])
    consumer = transport.consumer(group(), [topic])
    records = consume(consumer, 2)
    assert sorted((r.topic, r.key, r.value) for r in records) == [(topic, "k1", b"one"), (topic, "k2", b"two")]
    consumer.close()


def test_each_keys_events_arrive_in_publish_order(transport, topic):
    publisher = transport.publisher()
    keys = ["rel-a", "rel-b", "rel-c", "rel-d"]
    for batch in range(5):
        publisher.publish([OutgoingMessage(topic, key, f"{key}:{batch * 10 + i}".encode())
                           for i in range(10) for key in keys])
    consumer = transport.consumer(group(), [topic])
    records = consume(consumer, 200)
    assert len(records) == 200
    for key in keys:
        seen = [int(r.value.decode().split(":")[1]) for r in records if r.key == key]
        assert seen == list(range(50))
    consumer.close()


def test_committed_offsets_survive_a_new_consumer(transport, topic):
    publisher = transport.publisher()
    group_id = group()
    publisher.publish([OutgoingMessage(topic, f"k{i}", f"old{i}".encode()) for i in range(5)])
    first = transport.consumer(group_id, [topic])
    first.commit(consume(first, 5))
    first.close()

    publisher.publish([OutgoingMessage(topic, f"k{i}", f"new{i}".encode()) for i in range(3)])
    second = transport.consumer(group_id, [topic])
    assert sorted(r.value for r in consume(second, 3)) == [b"new0", b"new1", b"new2"]
    assert nothing_more(second)
    second.close()


def test_records_not_committed_are_delivered_again(transport, topic):
    group_id = group()
    transport.publisher().publish([OutgoingMessage(topic, "one-key", f"m{i}".encode()) for i in range(4)])
    first = transport.consumer(group_id, [topic])
    records = consume(first, 4)
    assert [r.value for r in records] == [b"m0", b"m1", b"m2", b"m3"]
    first.commit(records[:2])  # "crash" after processing two
    first.close()

    second = transport.consumer(group_id, [topic])
    assert [r.value for r in consume(second, 2)] == [b"m2", b"m3"]
    second.close()


def test_poison_message_goes_to_the_dead_letter_topic_and_the_rest_flows(transport, topic):
    group_id = group()
    transport.publisher().publish([OutgoingMessage(topic, "k", v) for v in (b"ok-1", b"poison", b"ok-2")])
    handled: list[bytes] = []

    def handler(record: Record) -> None:
        if record.value == b"poison":
            raise PoisonMessage("cannot decode")
        handled.append(record.value)

    loop = ConsumerLoop(transport, group_id, [topic], handler)
    deadline = time.monotonic() + 45
    while len(handled) < 2 and time.monotonic() < deadline:
        loop.run_once(0.5)
    loop.close()
    assert handled == [b"ok-1", b"ok-2"]
    assert loop.dead_lettered == 1

    dlq = transport.consumer(group(), [dead_letter_topic(group_id)])
    assert [(r.key, r.value) for r in consume(dlq, 1)] == [("k", b"poison")]
    dlq.close()
    again = transport.consumer(group_id, [topic])
    assert nothing_more(again)  # the loop committed past all three
    again.close()


def test_a_record_that_keeps_failing_is_retried_then_dead_lettered(transport, topic):
    group_id = group()
    transport.publisher().publish([OutgoingMessage(topic, "k", b"flaky"), OutgoingMessage(topic, "k", b"fine")])
    attempts: list[bytes] = []
    pauses: list[float] = []

    def handler(record: Record) -> None:
        attempts.append(record.value)
        if record.value == b"flaky":
            raise TransientError("451 try later")

    loop = ConsumerLoop(transport, group_id, [topic], handler, max_attempts=4, backoff_seconds=0.1,
                        sleep=pauses.append)
    deadline = time.monotonic() + 45
    while b"fine" not in attempts and time.monotonic() < deadline:
        loop.run_once(0.5)
    loop.close()
    assert attempts == [b"flaky"] * 4 + [b"fine"]
    assert pauses == [0.1, 0.2, 0.4]  # exponential backoff between attempts
    dlq = transport.consumer(group(), [dead_letter_topic(group_id)])
    assert [r.value for r in consume(dlq, 1)] == [b"flaky"]
    dlq.close()


def test_a_record_waits_out_an_unavailable_dependency_and_is_never_dead_lettered(transport, topic):
    group_id = group()
    transport.publisher().publish([OutgoingMessage(topic, "k", b"needs-search"), OutgoingMessage(topic, "k", b"after")])
    handled: list[bytes] = []
    outage = {"failures_left": 10}  # far more than max_attempts

    def handler(record: Record) -> None:
        if record.value == b"needs-search" and outage["failures_left"]:
            outage["failures_left"] -= 1
            raise DependencyUnavailable("the search cluster does not answer")
        handled.append(record.value)

    # One pass without a stop event: the outage is raised and nothing is committed past the record.
    once = ConsumerLoop(transport, group_id, [topic], handler, max_attempts=3, backoff_seconds=0.001)
    with pytest.raises(DependencyUnavailable):
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            once.run_once(0.5)
    once.close()
    # The running loop waits for the dependency, however many tries it takes, then goes on.
    loop = ConsumerLoop(transport, group_id, [topic], handler, max_attempts=3, backoff_seconds=0.001,
                        max_backoff_seconds=0.01)
    stop = threading.Event()
    deadline = time.monotonic() + 45
    while len(handled) < 2 and time.monotonic() < deadline:
        loop.run_once(0.5, stop)
    loop.close()
    assert handled == [b"needs-search", b"after"] and outage["failures_left"] == 0
    assert once.dead_lettered == loop.dead_lettered == 0
    again = transport.consumer(group_id, [topic])
    assert nothing_more(again)
    again.close()


def test_groups_are_independent(transport, topic):
    transport.publisher().publish([OutgoingMessage(topic, f"k{i}", f"v{i}".encode()) for i in range(3)])
    one, two = transport.consumer(group(), [topic]), transport.consumer(group(), [topic])
    first = consume(one, 3)
    one.commit(first)
    assert sorted(r.value for r in first) == [b"v0", b"v1", b"v2"]
    assert sorted(r.value for r in consume(two, 3)) == [b"v0", b"v1", b"v2"]
    one.close()
    two.close()


def test_a_parallel_consumer_loop_keeps_each_keys_order_and_commits_everything(transport, topic):
    group_id = group()
    keys = [f"key-{k}" for k in range(6)]
    transport.publisher().publish([OutgoingMessage(topic, key, f"{key}:{i}".encode())
                                   for i in range(15) for key in keys])
    seen: dict[str, list[int]] = {key: [] for key in keys}

    def handler(record: Record) -> None:
        time.sleep(0.001)  # let lanes interleave
        seen[record.key or ""].append(int(record.value.decode().split(":")[1]))

    loop = ConsumerLoop(transport, group_id, [topic], handler, workers=4)
    deadline = time.monotonic() + 45
    while sum(map(len, seen.values())) < 90 and time.monotonic() < deadline:
        loop.run_once(0.5)
    loop.close()
    assert seen == {key: list(range(15)) for key in keys}
    again = transport.consumer(group_id, [topic])
    assert nothing_more(again)
    again.close()
