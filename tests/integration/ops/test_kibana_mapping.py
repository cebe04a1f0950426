"""The Kibana objects (deploy/kibana/connect-dashboards.ndjson) against the mapping a real
Elasticsearch node gives the `connect-events-*` indices the ops mirror creates: every field
the data view and the visualisations use exists there with a type that use accepts.

Kibana itself cannot run here; this is the closest check to importing the objects."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

from connect.adapters.events_embedded import EmbeddedTransport
from connect.events import OutgoingMessage
from connect.settings import SearchSettings, Settings
from schemas.events import (EventData, ProposalAccepted, ProposalExpired, ProposalReminderDue, ProposalSent,
                            RelationshipCompleted)
from services.ops.bootstrap import ops_consumer
from services.ops.domain.mirror import PROPOSAL_CLOCK_INDEX
from services.ops.tasks import MirrorLoop
from tests.kibana_objects import of_type, problems

AT = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


def test_the_dashboards_fields_exist_with_compatible_types_on_elasticsearch(elasticsearch_url: str,
                                                                             tmp_path: Path) -> None:
    prefix = SearchSettings().ops_index_prefix
    (view,) = of_type("index-pattern")
    assert view["attributes"]["title"] == f"{prefix}-*"
    spec = ops_consumer(Settings(search_url=f"elasticsearch+{elasticsearch_url}"))
    assert spec is not None
    rel = str(uuid.uuid4())
    pair = {"relationship_id": rel, "mentor_id": "M1", "mentee_id": "E1"}

    def event(data: EventData, at: datetime) -> OutgoingMessage:
        envelope = data.envelope(producer="relationships", occurred_at=at)
        return OutgoingMessage(topic=envelope.topic, key=envelope.key, value=envelope.to_bytes())

    # One of each event type the dashboards count, over two days: two daily indices.
    events = [event(ProposalSent(**pair), AT), event(ProposalReminderDue(day=3, **pair), AT + timedelta(days=3)),
              event(ProposalAccepted(actor_id="M1", **pair), AT + timedelta(days=3, hours=1)),
              event(ProposalExpired(relationship_id=str(uuid.uuid4()), mentor_id="M2", mentee_id="E2"), AT),
              event(RelationshipCompleted(actor_id="E1", **pair), AT + timedelta(days=3, hours=2))]
    transport = EmbeddedTransport(tmp_path / "events.db")
    loop = MirrorLoop(transport, spec.handler)
    client = httpx.Client(base_url=elasticsearch_url, timeout=30)
    try:
        transport.publisher().publish(events)
        assert loop.run_once(timeout_seconds=0) == len(events)
        mappings = client.get(f"/{prefix}-*/_mapping").json()
        assert set(mappings) == {f"{prefix}-2026.12.01", f"{prefix}-2026.12.04"}
        for index, body in mappings.items():
            assert problems(body["mappings"]["properties"]) == [], index
    finally:
        loop.close()
        transport.close()
        # By name: Elasticsearch 8 refuses to delete indices by wildcard.
        for name in [*client.get(f"/{prefix}-*").json(), PROPOSAL_CLOCK_INDEX]:
            client.delete(f"/{name}", params={"ignore_unavailable": "true"})
        client.delete(f"/_index_template/{prefix}")
        client.close()
