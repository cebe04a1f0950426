"""Fault tests of the event path on real Kafka, PostgreSQL and SMTP.

CONNECT_FAULT_EVENTS sets how many events flow while the broker is killed and
CONNECT_FAULT_KILL_EVENTS how many while relay and notifier processes are killed: 10,000 each
by default, the issue's figure (about 1.5 minutes per test on 2 cores); smaller for a quick run.

When and what to kill is drawn from a seeded generator: each test prints its seed, and
CONNECT_FAULT_SEED=<seed> replays the same choices (`fault_rng` in conftest.py).
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from connect.events import OutgoingMessage, dead_letter_topic
from schemas.events import MEMBERS_TOPIC, RELATIONSHIPS_TOPIC, MemberDetailsChanged, ProposalSent
from services.notifier.domain.rules import message_id_for
from services.notifier.tasks import PARALLEL_WORKERS
from tests.integration.notifier import pipeline
from tests.waiting import eventually

ROOT = Path(__file__).resolve().parents[3]


def _members(prefix: str, count: int) -> list[MemberDetailsChanged]:
    return [MemberDetailsChanged(member_id=f"{prefix}-{i}", name=f"Mentor {i}", email=f"{prefix}-{i}@example.org")
            for i in range(count)]


def _proposals(prefix: str, mentors: int, count: int, start: int = 0) -> list[ProposalSent]:
    return [ProposalSent(relationship_id=f"{prefix}-rel-{n}", mentor_id=f"{prefix}-{n % mentors}",
                         mentee_id=f"{prefix}-mentee", actor_id=f"{prefix}-mentee") for n in range(start, start + count)]


def _received(smtp_sink, expected: set[str]) -> collections.Counter[str]:  # type: ignore[no-untyped-def]
    return collections.Counter({mid: n for mid, n in smtp_sink.message_id_counts().items() if mid in expected})


@pytest.mark.timeout(900)
def test_broker_sigkilled_and_restarted_while_events_flow(own_kafka, pg_database, smtp_sink, fault_rng):
    total = int(os.environ.get("CONNECT_FAULT_EVENTS", "10000"))
    prefix = uuid.uuid4().hex[:8]
    smtp_sink.clear()
    src = pipeline.source(pg_database, create=True)
    service = pipeline.notifier(pg_database, smtp_sink.url, migrate=True)
    threads_before = set(threading.enumerate())
    transport = pipeline.kafka(own_kafka.bootstrap)
    stop = threading.Event()
    relay = src.relay(transport, batch_size=200)
    # The production worker count: parallel per-key lanes, as `connect run notifier` runs them.
    loop = pipeline.notifier_loop(transport, service, group_id="notifier", workers=PARALLEL_WORKERS)
    workers = [threading.Thread(target=relay.run, args=(stop, 0.05)),
               threading.Thread(target=loop.run, args=(stop, 0.2))]
    for worker in workers:
        worker.start()
    try:
        mentors = 50
        src.emit(_members(prefix, mentors))
        eventually(lambda: service.recipient(f"{prefix}-{mentors - 1}") is not None, 60, "the directory")

        expected: set[str] = set()
        emitted = threading.Event()

        def produce() -> None:
            step = 20
            for start in range(0, total, step):
                events = _proposals(prefix, mentors, step, start)
                for event_id, event in zip(src.emit(events), events):
                    expected.add(message_id_for(event_id, event.mentor_id))
                time.sleep(0.05)
            emitted.set()

        producer = threading.Thread(target=produce)
        producer.start()
        kills = 0
        while kills < 3:
            time.sleep(fault_rng.uniform(1.0, 3.0))
            own_kafka.kill()
            kills += 1
            time.sleep(1.0)
            own_kafka.restart()
        producer.join(300)
        assert emitted.is_set()
        # Woken by the sink at each message, instead of counting 10,000 Message-IDs five times a
        # second in the process the sink and the notifier share.  Duplicates count here too: the
        # group's committed offsets below are what says every email is in.
        smtp_sink.wait_for(total, timeout=600)
        # Any duplicate is sent before its record is committed: once the group is past every
        # record, every email there will be is in.
        eventually(lambda: pipeline.caught_up(src, own_kafka.bootstrap, "notifier"), 120,
                    "the notifier to commit past every event")
        received = _received(smtp_sink, expected)
        assert set(received) == expected
        assert [mid for mid, n in received.items() if n > 1] == []
    finally:
        stop.set()
        relay.wakeup.set()
        for worker in workers:
            worker.join(60)
        transport.close()
    # A producer discarded after a kill left its network thread running for good (kafka-python's
    # close() gave up at its flush); the transport must leave none behind.
    eventually(lambda: not _producer_threads(threads_before), 10, "producer network threads to stop")


def _producer_threads(before: set[threading.Thread]) -> list[str]:
    return [t.name for t in threading.enumerate() if t not in before and t.name.endswith("-network-thread")]


@pytest.mark.timeout(300)
def test_a_publish_cut_off_by_a_broker_kill_leaves_no_producer_thread(own_kafka):
    threads_before = set(threading.enumerate())
    transport = pipeline.kafka(own_kafka.bootstrap)
    publisher = transport.publisher()
    topic = f"fault-producer-{uuid.uuid4().hex[:8]}"
    publisher.publish([OutgoingMessage(topic, "warm", b"up")])
    failed: list[BaseException] = []

    def publish_a_lot() -> None:
        try:
            publisher.publish([OutgoingMessage(topic, f"k{n}", b"x" * 500) for n in range(30000)])
        except Exception as exc:
            failed.append(exc)

    sending = threading.Thread(target=publish_a_lot)
    sending.start()
    # Kill the broker once batches are in flight: some acknowledged, the publish not finished.
    eventually(lambda: pipeline.end_offset(own_kafka.bootstrap, topic) > 1 or not sending.is_alive(), 60,
                "the first batches to reach the broker")
    assert sending.is_alive() and not failed, "the publish finished before the broker could be killed"
    own_kafka.kill()
    try:
        sending.join(120)
        assert failed, "the publish should have failed with the broker gone"
        # The producer was discarded; its network thread must have stopped with it.
        eventually(lambda: not _producer_threads(threads_before), 10, "the discarded producer's thread to stop")
    finally:
        own_kafka.restart()
        transport.close()


def _spawn(role: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "tests.integration.notifier.pipeline", role], cwd=ROOT,
                            env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.mark.timeout(900)
def test_relay_and_notifier_processes_sigkilled_at_random_points(kafka_bootstrap, pg_database, smtp_sink,
                                                                fault_rng):
    total = int(os.environ.get("CONNECT_FAULT_KILL_EVENTS", "10000"))
    prefix = uuid.uuid4().hex[:8]
    smtp_sink.clear()
    src = pipeline.source(pg_database, create=True)
    service = pipeline.notifier(pg_database, smtp_sink.url, migrate=True)
    mentors = 30
    workers = PARALLEL_WORKERS  # the notifier's production setting: parallel per-key lanes
    env = {"PIPELINE_DB_URL": pg_database, "PIPELINE_KAFKA": kafka_bootstrap, "PIPELINE_SMTP_URL": smtp_sink.url,
           "PIPELINE_GROUP": f"notifier-{prefix}", "PIPELINE_KEY_PREFIX": prefix, "PIPELINE_WORKERS": str(workers)}
    roles = {"relay": _spawn("relay", env), "notifier": _spawn("notifier", env)}
    # Addresses first: members and relationships are different topics, with no order between them.
    src.emit(_members(prefix, mentors))
    eventually(lambda: service.recipient(f"{prefix}-{mentors - 1}") is not None, 120, "the directory")
    expected: set[str] = set()

    def produce() -> None:
        for start in range(0, total, 20):
            events = _proposals(prefix, mentors, 20, start)
            expected.update(message_id_for(eid, e.mentor_id) for eid, e in zip(src.emit(events), events))
            time.sleep(0.05)

    # Where each process dies, drawn from the seeded generator over the flow of events: the
    # notifier at delivered-email counts, the relay at emitted-event counts (the producer is
    # still writing its outbox), one point in each third of 5-85 % of the run, so every kill
    # lands while events flow through the victim (not at start-up, before any email).
    low, width = total // 20, (total * 17 // 20 - total // 20) // 3
    points = {victim: [fault_rng.randrange(low + i * width, low + (i + 1) * width) for i in range(3)]
              for victim in ("notifier", "relay")}
    progress = {"notifier": lambda: len(smtp_sink.messages), "relay": lambda: len(expected)}
    at_kills: list[tuple[str, int, int]] = []  # (victim, events emitted, emails delivered)

    producer = threading.Thread(target=produce)
    producer.start()
    try:
        deadline = time.monotonic() + 600
        while any(points.values()) and time.monotonic() < deadline:
            time.sleep(0.05)
            for victim, due in points.items():
                if due and progress[victim]() >= due[0]:
                    due.pop(0)
                    roles[victim].send_signal(signal.SIGKILL)
                    roles[victim].wait()
                    at_kills.append((victim, len(expected), len(smtp_sink.messages)))
                    roles[victim] = _spawn(victim, env)
        # Woken by the sink at each message rather than polling; duplicates count too, so a
        # timeout here is left to the assertions below to explain (what is missing).
        with contextlib.suppress(TimeoutError):
            smtp_sink.wait_for(total, timeout=max(0.0, deadline - time.monotonic()))
        # Every email there will be, duplicates included, is in once the group is past every record.
        eventually(lambda: pipeline.caught_up(src, kafka_bootstrap, f"notifier-{prefix}"), 120,
                    "the notifier to commit past every event")
    finally:
        producer.join(60)
        for process in roles.values():
            process.terminate()
        for process in roles.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
    received = _received(smtp_sink, expected)
    duplicates = sum(received.values()) - len(received)
    print(f"\nkills (victim, emitted, delivered): {at_kills}; emails: {len(received)} distinct of {total}, "
          f"duplicates: {duplicates}")
    assert not any(points.values()), f"kills not reached by the deadline: {points}"
    assert set(received) == expected  # nothing lost
    # A duplicate needs a notifier kill between the SMTP server's acceptance and the ledger's confirmation,
    # a window each worker thread may be in at the moment of the kill (docs/events.md).
    assert duplicates <= sum(victim == "notifier" for victim, _emitted, _delivered in at_kills) * workers


def _publish_and_learn_addresses(transport, loop, service, members) -> None:  # type: ignore[no-untyped-def]
    """Members and relationships are different topics with no order between them: let the
    notifier's directory learn the addresses before the events that need them."""
    transport.publisher().publish([OutgoingMessage(MEMBERS_TOPIC, e.key, e.to_bytes()) for e in members])
    deadline = time.monotonic() + 60
    while any(service.recipient(e.key) is None for e in members) and time.monotonic() < deadline:
        loop.run_once(0.5)


def test_smtp_451_three_times_then_250_gives_one_message(kafka_bootstrap, pg_database, smtp_sink):
    prefix = uuid.uuid4().hex[:8]
    smtp_sink.clear()
    service = pipeline.notifier(pg_database, smtp_sink.url, migrate=True)
    transport = pipeline.kafka(kafka_bootstrap)
    [member] = _members(prefix, 1)
    [proposal] = _proposals(prefix, 1, 1)
    envelopes = [e.envelope(producer="test", occurred_at=service.clock.now()) for e in (member, proposal)]
    loop = pipeline.notifier_loop(transport, service, group_id=f"notifier-{prefix}", backoff_seconds=0.1,
                                  key_prefix=prefix)
    _publish_and_learn_addresses(transport, loop, service, envelopes[:1])
    smtp_sink.program(451, 451, 451)
    transport.publisher().publish([OutgoingMessage(e.topic, e.key, e.to_bytes()) for e in envelopes[1:]])
    wanted = message_id_for(str(envelopes[1].event_id), proposal.mentor_id)
    deadline = time.monotonic() + 60
    while not _received(smtp_sink, {wanted}) and time.monotonic() < deadline:
        loop.run_once(0.5)
    for _ in range(3):
        loop.run_once(0.3)  # nothing more may come
    loop.close()
    transport.close()
    assert _received(smtp_sink, {wanted}) == {wanted: 1}
    assert [a.code for a in smtp_sink.attempts] == [451, 451, 451, 250]
    assert loop.dead_lettered == 0


def test_poison_message_is_dead_lettered_while_healthy_messages_keep_flowing(kafka_bootstrap, pg_database,
                                                                             smtp_sink):
    prefix = uuid.uuid4().hex[:8]
    group_id = f"notifier-{prefix}"
    smtp_sink.clear()
    service = pipeline.notifier(pg_database, smtp_sink.url, migrate=True)
    transport = pipeline.kafka(kafka_bootstrap)
    now = service.clock.now()
    members = [e.envelope(producer="test", occurred_at=now) for e in _members(prefix, 3)]
    loop = pipeline.notifier_loop(transport, service, group_id=group_id, key_prefix=prefix)
    _publish_and_learn_addresses(transport, loop, service, members)
    proposals = [e.envelope(producer="test", occurred_at=now) for e in _proposals(prefix, 3, 6)]
    poison = b'{"event_id": "not-a-uuid", "type": "ProposalSent"}'
    # The poison pill sits on the same key (so the same partition) ahead of healthy events.
    batch = [OutgoingMessage(RELATIONSHIPS_TOPIC, proposals[0].key, poison)]
    batch += [OutgoingMessage(RELATIONSHIPS_TOPIC, proposals[0].key, proposals[0].to_bytes())]
    batch += [OutgoingMessage(RELATIONSHIPS_TOPIC, e.key, e.to_bytes()) for e in proposals[1:]]
    transport.publisher().publish(batch)
    wanted = {message_id_for(str(e.event_id), e.data["mentor_id"]) for e in proposals}
    deadline = time.monotonic() + 60
    while len(_received(smtp_sink, wanted)) < len(wanted) and time.monotonic() < deadline:
        loop.run_once(0.5)
    loop.close()
    assert set(_received(smtp_sink, wanted)) == wanted
    assert loop.dead_lettered == 1
    dlq = transport.consumer(f"inspect-{prefix}", [dead_letter_topic(group_id)])
    got: list[bytes] = []
    deadline = time.monotonic() + 30
    while not got and time.monotonic() < deadline:
        got += [r.value for r in dlq.poll(0.5)]
    dlq.close()
    transport.close()
    assert got == [poison]
