"""Erasure benchmark: what compacting the embedded event log costs when MemberErased is published.

    python -m bench.erasure                      # 200,000 records, the member in 200 of them
    python -m bench.erasure --records 1000000 --mentions 1000

A log of N relationship events between other members (each a MeetingScheduled with an agenda),
plus the erased member's own member/profile records and K relationship records naming them, is
written (not measured); then the publish of MemberErased is timed: the transaction that deletes
and rewrites (a full scan of the log for the member's id) and the write-ahead log truncation.
Results go to bench/results/erasure.json with the machine they ran on.  No target: reported.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from bench._common import machine
from connect.adapters.events_embedded import EmbeddedTransport
from connect.events import OutgoingMessage
from schemas.events import EventData, MeetingScheduled, MemberDetailsChanged, MemberErased, MentorProfileChanged

AT = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


def _message(event: EventData) -> OutgoingMessage:
    return OutgoingMessage(event.TOPIC, event.key(), event.envelope(producer="bench", occurred_at=AT).to_bytes())


def _meeting(i: int, mentee: str) -> OutgoingMessage:
    return _message(MeetingScheduled(relationship_id=f"R{i}", mentor_id=f"T{i % 997}", mentee_id=mentee,
                                     meeting_id=f"X{i}", starts_at=AT, duration_minutes=30, mode="video",
                                     agenda=f"Agenda {i}", location_or_link="https://meet.example.org/x"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--mentions", type=int, default=200)
    args = parser.parse_args()
    started_on = machine()
    with tempfile.TemporaryDirectory() as folder:
        transport = EmbeddedTransport(Path(folder) / "events.db")
        publisher = transport.publisher()
        publisher.publish([_message(MemberDetailsChanged(member_id="M1", name="Ada", email="ada@example.org")),
                           _message(MentorProfileChanged(member_id="M1", available=True, headline="Underwriter"))])
        every = max(1, args.records // max(1, args.mentions))
        batch: list[OutgoingMessage] = []
        for i in range(args.records):
            batch.append(_meeting(i, "M1" if i % every == 0 else f"E{i}"))
            if len(batch) == 5000:
                publisher.publish(batch)
                batch = []
        publisher.publish(batch)
        size_before = os.path.getsize(Path(folder) / "events.db")
        began = time.perf_counter()
        publisher.publish([_message(MemberErased(member_id="M1"))])
        seconds = time.perf_counter() - began
        transport.close()
    result = {"records": args.records, "mentions": args.mentions, "erase_publish_seconds": round(seconds, 3),
              "log_bytes": size_before, "machine": started_on, "load_average_at_end": os.getloadavg()}
    out = Path(__file__).parent / "results" / "erasure.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print("records %d, naming the member %d: MemberErased publish (compaction + WAL truncation) %.3f s"
          % (args.records, args.mentions, seconds))


if __name__ == "__main__":
    main()
