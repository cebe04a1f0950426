"""The ops mirror against real Elasticsearch and OpenSearch: events in through a real
transport and the consumer loop, documents out in daily connect-events-* indices with
the dashboards' mapping, duplicates collapsed, poison dead-lettered.  Checked through
the REST API both engines share, so one test holds both adapters."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx

from connect.adapters.events_embedded import EmbeddedTransport
from connect.events import OutgoingMessage
from services.ops.bootstrap import ops_consumer
from services.ops.services import EventMirror
from services.ops.tasks import MirrorLoop, all_topics
from connect.settings import Settings
from schemas.events import (RELATIONSHIPS_TOPIC, Envelope, EventData, ProposalAccepted, ProposalExpired,
                            ProposalRejected, ProposalReminderDue, ProposalSent)

SENT_AT = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


def _message(envelope: Envelope) -> OutgoingMessage:
    return OutgoingMessage(topic=RELATIONSHIPS_TOPIC, key=envelope.key, value=envelope.to_bytes())


def test_events_become_dashboard_documents_once_each(search_cluster: Any, tmp_path: Path) -> None:
    # The embedded shape has no cluster to mirror into: no consumer at all.
    assert ops_consumer(Settings(search_url=None)) is None and ops_consumer(Settings(search_url="embedded:")) is None
    prefix = f"test-events-{uuid.uuid4().hex[:8]}"
    spec = ops_consumer(Settings(search_url=search_cluster.search_url, ops_index_prefix=prefix))
    assert spec is not None and spec.group_id == "ops-mirror" and spec.role == "ops"
    assert set(spec.topics) == set(all_topics())
    assert isinstance(spec.handler, EventMirror)
    spec.handler.clock_index = f"{prefix}.clock"

    accepted_rel, expired_rel, rejected_rel = (str(uuid.uuid4()) for _ in range(3))
    pair = {"mentor_id": "M1", "mentee_id": "E1"}

    def event(data: EventData, at: datetime) -> Envelope:
        return data.envelope(producer="relationships", occurred_at=at)

    sent = event(ProposalSent(relationship_id=accepted_rel, areas=["career_planning"], **pair), SENT_AT)
    reminder = event(ProposalReminderDue(relationship_id=accepted_rel, day=3, **pair), SENT_AT + timedelta(days=3))
    accepted = event(ProposalAccepted(relationship_id=accepted_rel, actor_id="M1", **pair),
                     SENT_AT + timedelta(days=4, hours=2))
    expired = event(ProposalExpired(relationship_id=expired_rel, **pair), SENT_AT + timedelta(days=21))
    rejected = event(ProposalRejected(relationship_id=rejected_rel, actor_id="M1", **pair),
                     SENT_AT + timedelta(hours=1))
    from_the_future = Envelope(event_id=uuid.uuid4(), type="MentoringCircleFormed", version=1,
                               occurred_at=SENT_AT, producer="circles", key="C1", data={"size": 4})
    first_batch = [sent, reminder, event(ProposalSent(relationship_id=expired_rel, **pair), SENT_AT), expired,
                   event(ProposalSent(relationship_id=rejected_rel, **pair), SENT_AT), rejected, from_the_future]

    transport = EmbeddedTransport(tmp_path / "events.db")
    publisher = transport.publisher()
    loop = MirrorLoop(transport, spec.handler)
    try:
        publisher.publish([_message(e) for e in first_batch])
        assert loop.run_once(timeout_seconds=0) == len(first_batch)
        # A later batch: the answer's clock comes from the cluster, not from the batch.  At-least-once:
        # the accepted event arrives twice, and one record is not an event at all.
        publisher.publish([_message(accepted), _message(accepted),
                           OutgoingMessage(RELATIONSHIPS_TOPIC, accepted_rel, b"\x00not json")])
        assert loop.run_once(timeout_seconds=0) == 3
        assert loop.run_once(timeout_seconds=0) == 0
    finally:
        loop.close()
        transport.close()
    assert loop.dead_lettered == 1

    client = httpx.Client(base_url=search_cluster.url, timeout=30)
    try:
        client.post(f"/{prefix}-*/_refresh").raise_for_status()
        # Daily indices named after each event's own time, not the time it was mirrored.
        indices = set(client.get(f"/{prefix}-*").json())
        assert indices == {f"{prefix}-2026.12.01", f"{prefix}-2026.12.04", f"{prefix}-2026.12.05",
                           f"{prefix}-2026.12.22"}

        docs = {hit["_id"]: hit["_source"] for hit in client.post(
            f"/{prefix}-*/_search", json={"size": 100, "query": {"match_all": {}}}).json()["hits"]["hits"]}
        assert len(docs) == 8  # the duplicate collapsed onto its event id
        answer = docs[str(accepted.event_id)]
        assert answer["type"] == "ProposalAccepted" and answer["status"] == "accepted"
        assert answer["relationship_id"] == accepted_rel and answer["mentor_id"] == "M1"
        assert answer["accepted"] == 1 and answer["outcome"] == "accepted"
        assert answer["answer_seconds"] == int(timedelta(days=4, hours=2).total_seconds())
        assert docs[str(reminder.event_id)]["day"] == 3
        assert docs[str(expired.event_id)]["outcome"] == "expired"
        assert docs[str(rejected.event_id)]["answer_seconds"] == 3600  # its clock started in the same batch
        assert docs[str(rejected.event_id)]["status"] == "rejected"
        assert docs[str(from_the_future.event_id)]["data"] == {"size": 4}

        mapping = client.get(f"/{prefix}-2026.12.01/_mapping").json()[f"{prefix}-2026.12.01"]["mappings"]
        properties = mapping["properties"]
        assert properties["occurred_at"]["type"] == "date"
        assert properties["type"]["type"] == properties["event_id"]["type"] == "keyword"
        assert properties["data"]["type"] == {"elasticsearch": "flattened", "opensearch": "flat_object"}[
            search_cluster.kind]

        # The aggregations the dashboards run: acceptance rate, median answer time, reminders by day.
        aggs = client.post(f"/{prefix}-*/_search", json={"size": 0, "aggs": {
            "acceptance": {"avg": {"field": "accepted"}},
            "answer": {"percentiles": {"field": "answer_seconds", "percents": [50]}},
            "payload": {"filter": {"term": {"data.areas": "career_planning"}}},
            "reminders": {"filter": {"term": {"type": "ProposalReminderDue"}},
                          "aggs": {"days": {"terms": {"field": "day"}}}},
        }}).json()["aggregations"]
        assert aggs["acceptance"]["value"] == 1 / 3  # accepted, rejected, expired
        assert 3600 <= aggs["answer"]["values"]["50.0"] <= answer["answer_seconds"]
        assert aggs["payload"]["doc_count"] == 1
        assert [b["key"] for b in aggs["reminders"]["days"]["buckets"]] == [3]
    finally:
        # By name: Elasticsearch 8 refuses to delete indices by wildcard.
        for name in client.get(f"/{prefix}*").json():
            client.delete(f"/{name}")
        client.delete(f"/_index_template/{prefix}")
        client.close()
