"""Event path benchmark on real engines: outbox (PostgreSQL) -> relay -> Kafka -> notifier -> SMTP.

    python -m bench.events [--events 5000] [--rate 600] [--notifiers 2 --workers 4] [--sink counter|eml]

Measures
  relay_events_per_second   a backlog of N outbox rows drained to Kafka (acks=all, idempotent)
  emails_per_second         N events committed at --rate/s, until the SMTP sink accepted N emails
  relay_lag_ms p50/p99      outbox commit -> broker acknowledgement, during the end-to-end run
  cpu_ms_per_email          CPU per email of the notifier process(es), the sink process and this
                            process (load generator + relay)
The producer and the relay run in this process; the notifier (--notifiers processes of --workers
threads, like `connect run notifier`) and the SMTP sink (--sink counter: bench/smtp_counter.py,
--sink eml: the project's .eml sink) in their own.  Results go to bench/results/events.json.
Engines come from CONNECT_TEST_POSTGRES_URL / CONNECT_TEST_KAFKA_BOOTSTRAP when set, else the
local launchers of stack.engines.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from datetime import datetime, timezone
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Sequence

import orjson

from connect.events import OutgoingMessage
from schemas.events import MemberDetailsChanged, ProposalSent
from bench._common import machine, machine_cpu_seconds, percentile

RESULTS = Path(__file__).resolve().parent / "results" / "events.json"


class LagRecorder:
    """Wraps the relay's publisher: for each acknowledged message, now - the event's commit time."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner = inner
        self.lags_ms: list[float] = []

    def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        self.inner.publish(messages)
        acked = datetime.now(timezone.utc)
        for message in messages:
            occurred = datetime.fromisoformat(orjson.loads(message.value)["occurred_at"])
            self.lags_ms.append((acked - occurred).total_seconds() * 1000)


class EmlSink:
    """The project's SMTP sink (stack.engines.smtp) in its own process: parses every message and
    writes it as an .eml file, as `connect stack up` runs it."""

    def __init__(self, stack: ExitStack) -> None:
        from stack.engines.smtp import SmtpSinkEngine

        self.engine = stack.enter_context(SmtpSinkEngine())
        self.url = self.engine.url
        self.pid = self.engine.pid

    def reset(self) -> None:
        for path in self.engine.mail_dir.glob("*.eml"):
            path.unlink()

    def count(self) -> int:
        return sum(1 for _ in self.engine.mail_dir.glob("*.eml"))

    def message_ids(self) -> list[str]:
        return [BytesHeaderParser(policy=default_policy).parse(path.open("rb"))["Message-ID"]
                for path in self.engine.mail_dir.glob("*.eml")]


class CountingSink:
    """bench/smtp_counter.py in its own process: accepts and notes each Message-ID, nothing else."""

    def __init__(self, stack: ExitStack) -> None:
        from stack.engines.base import free_port, port_open

        folder = Path(tempfile.mkdtemp(prefix="bench-smtp-"))
        stack.callback(shutil.rmtree, folder, True)
        self.ids_file = folder / "ids.txt"
        self.ids_file.touch()
        port = free_port()
        process = subprocess.Popen([sys.executable, "-m", "bench.smtp_counter", "--port", str(port),
                                    "--out", str(self.ids_file)], cwd=Path(__file__).resolve().parents[1])
        stack.callback(process.wait, 10)
        stack.callback(process.terminate)
        deadline = time.monotonic() + 30
        while not port_open("127.0.0.1", port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the counting SMTP sink did not start")
            time.sleep(0.05)
        self.url = f"smtp://127.0.0.1:{port}"
        self.pid = process.pid
        self.skip = 0

    def _lines(self) -> list[bytes]:
        return self.ids_file.read_bytes().splitlines()

    def reset(self) -> None:
        self.skip = len(self._lines())

    def count(self) -> int:
        return len(self._lines()) - self.skip

    def message_ids(self) -> list[str]:
        return [line.decode() for line in self._lines()[self.skip:]]


def emit_rows(src, events: list) -> list[str]:  # type: ignore[no-untyped-def,type-arg]
    """Commit events to the outbox as one multi-row insert: the same rows `Outbox.add` writes, for
    a fraction of the producer's CPU (one INSERT per event, or a statement compiled anew for each
    chunk, would make this benchmark's producer, not the event path, a limit on this 2-core machine)."""
    now = datetime.now(timezone.utc)
    envelopes = [(event, event.envelope(producer=src.outbox.producer, occurred_at=now)) for event in events]
    rows = [{"event_id": str(envelope.event_id), "topic": event.TOPIC, "key": envelope.key, "type": envelope.type,
             "payload": envelope.to_bytes(), "occurred_at": now} for event, envelope in envelopes]
    with src.database.engine.begin() as conn:
        # With RETURNING, SQLAlchemy's "insertmanyvalues" sends the rows as one INSERT ... VALUES
        # (...), (...) from a statement compiled once; `.values(rows)` compiled it on every call.
        conn.execute(src.table.insert().returning(src.table.c.event_id), rows)
    return [row["event_id"] for row in rows]


def _retried(call, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    """`call()`, again while the broker answers with a retriable error (on a new broker the group
    coordinator is not available until the offsets topic exists)."""
    from kafka.errors import KafkaError

    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except KafkaError as exc:
            if not exc.retriable or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def start_group_at_end(bootstrap: str, group_id: str, topics: Sequence[str]) -> None:
    """Set the (new, empty) group's offsets to the current end of its topics: its consumers then
    read only what comes next.  A new group starts from the earliest offset, so on a long-lived
    broker each run's notifiers would first read (and filter out) every earlier run's events and
    this run's relay warm-up, inside the measured window: successive runs on one broker got slower."""
    from kafka import KafkaAdminClient, TopicPartition
    from kafka.admin import OffsetSpec

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        partitions = [TopicPartition(topic["name"], partition["partition_index"])
                      for topic in admin.describe_topics(list(topics)) if topic["error_code"] == 0
                      for partition in topic["partitions"]]
        if partitions:
            _retried(lambda: admin.reset_group_offsets(group_id, {tp: OffsetSpec.LATEST for tp in partitions}))
    finally:
        admin.close()


def wait_for_stable_group(bootstrap: str, group_id: str, members: int, timeout: float = 120.0) -> None:
    """Until all `members` consumers have joined the group and hold their partitions: a member
    joining during the measured window would pause the group for a rebalance."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        deadline = time.monotonic() + timeout
        while True:
            group = _retried(lambda: admin.describe_groups([group_id]))[group_id]
            if group["group_state"] == "Stable" and len(group["members"]) == members:
                return
            if time.monotonic() > deadline:
                raise RuntimeError("consumer group %s: %s with %d of %d members after %.0f s"
                                   % (group_id, group["group_state"], len(group["members"]), members, timeout))
            time.sleep(0.2)
    finally:
        admin.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (Linux /proc)."""
    from stack.engines.processes import process_stat

    fields = process_stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> dict:  # type: ignore[type-arg]
    parser = argparse.ArgumentParser(prog="python -m bench.events")
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=600.0, help="events committed per second end to end")
    parser.add_argument("--workers", type=int, default=8, help="notifier threads (parallel keys)")
    parser.add_argument("--ledger-group", type=int, default=1,
                        help="ledger rows per insert (>1: fewer round trips, wider duplicate window)")
    parser.add_argument("--notifiers", type=int, default=1, help="notifier processes in the consumer group")
    parser.add_argument("--sink", choices=("counter", "eml"), default="counter",
                        help="counter: a sink that only notes Message-IDs; eml: the project's parsing .eml sink")
    args = parser.parse_args(argv)
    host = machine()  # before any work: the load average says how busy the machine already was

    from stack.engines.kafka import KafkaEngine
    from stack.engines.postgres import PostgresEngine, create_database
    from services.notifier.domain.rules import message_id_for
    from tests.integration.notifier import pipeline

    with ExitStack() as stack:
        pg_url = os.environ.get("CONNECT_TEST_POSTGRES_URL") or stack.enter_context(PostgresEngine()).url
        pg_url = pg_url.replace("postgresql://", "postgresql+psycopg://", 1) if pg_url.startswith("postgresql://") \
            else pg_url
        bootstrap = os.environ.get("CONNECT_TEST_KAFKA_BOOTSTRAP") or stack.enter_context(KafkaEngine()).bootstrap
        # The sink runs as its own process, like a real mail relay (in-process it would share our GIL).
        sink = CountingSink(stack) if args.sink == "counter" else EmlSink(stack)
        db_url = create_database(pg_url, f"bench_{uuid.uuid4().hex[:10]}")
        src = pipeline.source(db_url, create=True)
        service = pipeline.notifier(db_url, sink.url, migrate=True)
        transport = pipeline.kafka(bootstrap)
        stack.callback(transport.close)
        prefix = uuid.uuid4().hex[:8]
        mentors = 100

        # 1. relay throughput: drain a backlog.
        backlog = [ProposalSent(relationship_id=f"warm-{prefix}-{n}", mentor_id=f"{prefix}-nobody",
                                mentee_id="x") for n in range(args.events)]
        for start in range(0, len(backlog), 500):
            src.emit(backlog[start:start + 500])
        relay = src.relay(transport, batch_size=500)
        relay.relay_once()  # connect, create topics
        began = time.perf_counter()
        drained = relay.drain()
        relay_seconds = time.perf_counter() - began

        # 2. end to end at a steady rate, relay and notifier running as in production.
        stop = threading.Event()
        recorder = LagRecorder(transport.publisher())
        live_relay = pipeline.OutboxRelay(src.database, src.table, recorder, pipeline.SystemClock(), batch_size=500)
        start_group_at_end(bootstrap, f"bench-{prefix}", pipeline.TOPICS)
        src.emit([MemberDetailsChanged(member_id=f"{prefix}-{i}", name=f"Mentor {i}",
                                       email=f"{prefix}-{i}@example.org") for i in range(mentors)])
        workers = [threading.Thread(target=live_relay.run, args=(stop, 0.01))]
        for worker in workers:
            worker.start()
        # The notifier in its own process, as `connect run notifier` runs it: sharing this process's
        # GIL with the producer and the relay would measure thread convoys, not the notifier.
        # Only this run's keys, should an event of an earlier run still come its way.
        notifier_processes = [subprocess.Popen(
            [sys.executable, "-m", "tests.integration.notifier.pipeline", "notifier"],
            cwd=Path(__file__).resolve().parents[1],
            env={**os.environ, "PIPELINE_DB_URL": db_url, "PIPELINE_KAFKA": bootstrap, "PIPELINE_SMTP_URL": sink.url,
                 "PIPELINE_GROUP": f"bench-{prefix}", "PIPELINE_KEY_PREFIX": prefix,
                 "PIPELINE_WORKERS": str(args.workers), "PIPELINE_LEDGER_GROUP": str(args.ledger_group)}) for _ in range(args.notifiers)]
        for process in notifier_processes:
            stack.callback(process.wait, 30)
            stack.callback(process.terminate)
        try:
            deadline = time.monotonic() + 120
            everyone = {f"{prefix}-{i}" for i in range(mentors)}
            while len(service.recipients(everyone)) < mentors and time.monotonic() < deadline:
                time.sleep(0.1)  # the notifiers have joined their group and read the directory
            wait_for_stable_group(bootstrap, f"bench-{prefix}", args.notifiers)
            sink.reset()
            recorder.lags_ms.clear()
            cpu_before = {"notifier": sum(cpu_seconds(p.pid) for p in notifier_processes), "sink": cpu_seconds(sink.pid),
                          "load_and_relay": cpu_seconds(os.getpid())}
            machine_before = machine_cpu_seconds()
            expected: set[str] = set()
            chunk = 10
            began = time.perf_counter()
            for n in range(0, args.events, chunk):
                events = [ProposalSent(relationship_id=f"{prefix}-rel-{k}", mentor_id=f"{prefix}-{k % mentors}",
                                       mentee_id=f"{prefix}-mentee") for k in range(n, n + chunk)]
                expected |= {message_id_for(eid, e.mentor_id) for eid, e in zip(emit_rows(src, events), events)}
                live_relay.wakeup.set()
                pause = began + (n + chunk) / args.rate - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
            emitted_seconds = time.perf_counter() - began
            deadline = time.monotonic() + 600
            while sink.count() < len(expected) and time.monotonic() < deadline:
                time.sleep(0.05)
            e2e_seconds = time.perf_counter() - began
            cpu_used = {"notifier": sum(cpu_seconds(p.pid) for p in notifier_processes) - cpu_before["notifier"],
                        "sink": cpu_seconds(sink.pid) - cpu_before["sink"],
                        "load_and_relay": cpu_seconds(os.getpid()) - cpu_before["load_and_relay"]}
            machine_after = machine_cpu_seconds()
        finally:
            stop.set()
            live_relay.wakeup.set()
            for worker in workers:
                worker.join(30)
            for process in notifier_processes:
                process.terminate()
        message_ids = sink.message_ids()
        received = set(message_ids)
        lags = recorder.lags_ms
        result = {
            "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": {**host, "load_average_at_end": os.getloadavg()},
            "events": args.events,
            "relay_events_per_second": round(drained / relay_seconds, 1),
            "offered_rate_per_second": args.rate,
            "notifier_processes": args.notifiers,
            "notifier_workers": args.workers,
            "ledger_group": args.ledger_group,
            "smtp_sink": args.sink,
            "emit_seconds": round(emitted_seconds, 2),
            "emails_per_second": round(len(expected) / e2e_seconds, 1),
            "emails_delivered": len(received & expected),
            "duplicate_emails": len(message_ids) - len(received),
            # CPU per email of the notifier process(es), of the sink process and of this one (load
            # generator + relay): robust to other load.
            "cpu_ms_per_email": {role: round(seconds * 1000 / len(expected), 2) for role, seconds in cpu_used.items()},
            # Every process on the machine (engines, relay, load generator included) over the run:
            # near `cores` busy means the cores were the limit; steal is time taken by other guests.
            "machine_cores_busy": round((machine_after["busy"] - machine_before["busy"]) / e2e_seconds, 2),
            "machine_cores_stolen": round((machine_after["steal"] - machine_before["steal"]) / e2e_seconds, 2),
            "relay_lag_ms": {"p50": round(percentile(lags, 50), 1), "p99": round(percentile(lags, 99), 1),
                             "max": round(max(lags), 1), "samples": len(lags)},
            "targets": {"emails_per_second": 500, "relay_lag_p99_ms": 1000},
        }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
