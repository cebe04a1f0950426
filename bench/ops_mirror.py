"""Ops mirror throughput: events/s from the consumer into the connect-events-* indices.

    python -m bench.ops_mirror [--events 20000] [--batch 500] [--opensearch-url http://127.0.0.1:9200]

Feeds synthetic proposal lifecycles (sent, reminder, accepted/rejected/expired) to
`EventMirror.mirror_batch` in batches the size a consumer poll returns, the way the
`ops` role's `MirrorLoop` does, and reports events/s; then, for comparison, the rate
of one request per event (the plain per-record handler) on a small sample.  The
transport is left out: Kafka's own rate is measured by the relay benchmark.

OpenSearch comes from --opensearch-url, else the launcher in stack/engines (stopped
at the end).  Results go to bench/results/ops_mirror.json with the machine they ran on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from services.ops.adapters.opensearch import OpenSearchOpsIndex
from connect.events import Record
from services.ops.services import EventMirror
from schemas.events import (RELATIONSHIPS_TOPIC, ProposalAccepted, ProposalExpired, ProposalRejected,
                            ProposalReminderDue, ProposalSent)

RESULTS = Path(__file__).resolve().parent / "results" / "ops_mirror.json"


def lifecycle_records(count: int) -> list[Record]:
    """About `count` events: proposals with a reminder and an outcome, in per-key order."""
    start = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
    outcomes = (ProposalAccepted, ProposalRejected, ProposalExpired)
    records: list[Record] = []
    n = 0
    while len(records) < count:
        relationship_id = str(uuid.uuid4())
        pair = {"relationship_id": relationship_id, "mentor_id": f"M{n % 500}", "mentee_id": f"E{n}"}
        sent_at = start + timedelta(minutes=n)
        events = [ProposalSent(**pair).envelope(producer="relationships", occurred_at=sent_at),
                  ProposalReminderDue(day=3, **pair).envelope(producer="relationships",
                                                              occurred_at=sent_at + timedelta(days=3)),
                  outcomes[n % 3](**pair).envelope(producer="relationships",
                                                   occurred_at=sent_at + timedelta(days=4 + n % 17))]
        for envelope in events:
            records.append(Record(RELATIONSHIPS_TOPIC, 0, len(records), relationship_id, envelope.to_bytes()))
        n += 1
    return records[:count]


def measure(url: str, events: int, batch: int) -> dict[str, Any]:
    index = OpenSearchOpsIndex(url)
    prefix = f"bench-events-{os.getpid()}"
    mirror = EventMirror(index, prefix=prefix, clock_index=f"{prefix}.clock")
    try:
        mirror.ensure_template()
        records = lifecycle_records(events)
        began = time.perf_counter()
        for offset in range(0, len(records), batch):
            mirror.mirror_batch(records[offset:offset + batch])
        batched = time.perf_counter() - began

        sample = lifecycle_records(300)
        began = time.perf_counter()
        for record in sample:
            mirror(record)
        single = time.perf_counter() - began
        return {
            "events": events, "batch": batch,
            "batched_events_per_second": round(events / batched),
            "per_record_events_per_second": round(len(sample) / single),
        }
    finally:
        index.client.indices.delete(index=f"{prefix}-*,{prefix}.clock", ignore_unavailable=True)
        index.client.indices.delete_index_template(name=prefix)
        index.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--opensearch-url", default=os.environ.get("CONNECT_BENCH_OPENSEARCH_URL"))
    args = parser.parse_args()

    engine = None
    url = args.opensearch_url
    if not url:
        from stack.engines.opensearch import OpenSearchEngine

        engine = OpenSearchEngine(heap="512m").start()
        url = engine.url
    try:
        result = measure(url, args.events, args.batch)
    finally:
        if engine is not None:
            engine.stop()
    result.update({"measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                   "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                               "platform": platform.platform()}})
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"ops mirror: {result['batched_events_per_second']} events/s in batches of {args.batch} "
          f"({result['per_record_events_per_second']} events/s one request per event)")


if __name__ == "__main__":
    main()
