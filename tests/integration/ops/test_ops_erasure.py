"""Erasure reaches the ops mirror: after MemberErased, no document in connect-events-*
carries the member's personal data, and the dashboards' figures survive."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx

from connect.adapters.events_embedded import EmbeddedTransport
from connect.events import OutgoingMessage
from services.ops.bootstrap import ops_consumer
from services.ops.tasks import MirrorLoop
from connect.settings import Settings
from schemas.events import (AlternativeMentor, Envelope, EventData, MemberDetailsChanged, MemberErased,
                            ProposalAccepted, ProposalExpired, ProposalSent)

AT = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
CANARY_NAME = "Zebedee Canarywood"
CANARY_EMAIL = "zebedee.canary@example.org"
CANARY_TEXT = "canary-proposal-text-7f3a"


def _message(envelope: Envelope) -> OutgoingMessage:
    return OutgoingMessage(topic=envelope.topic, key=envelope.key, value=envelope.to_bytes())


def test_member_erased_scrubs_and_deletes_mirror_documents(search_cluster: Any, tmp_path: Path) -> None:
    prefix = f"test-erasure-{uuid.uuid4().hex[:8]}"
    spec = ops_consumer(Settings(search_url=search_cluster.search_url, ops_index_prefix=prefix))
    assert spec is not None
    spec.handler.clock_index = f"{prefix}.clock"
    erased, other = "E-ERASED", "M-OTHER"
    rel, expired_rel = str(uuid.uuid4()), str(uuid.uuid4())

    def event(data: EventData, at: datetime) -> Envelope:
        return data.envelope(producer="test", occurred_at=at)

    before = [
        event(MemberDetailsChanged(member_id=erased, name=CANARY_NAME, email=CANARY_EMAIL), AT),
        event(MemberDetailsChanged(member_id=other, name="Olive Other", email="olive@example.org"), AT),
        event(ProposalSent(relationship_id=rel, mentor_id=other, mentee_id=erased, message=CANARY_TEXT,
                           goals=CANARY_TEXT), AT),
        event(ProposalAccepted(relationship_id=rel, mentor_id=other, mentee_id=erased, actor_id=other),
              AT + timedelta(hours=5)),
        event(ProposalExpired(relationship_id=expired_rel, mentor_id="M-THIRD", mentee_id="E-THIRD",
                              alternatives=[AlternativeMentor(member_id=erased, name=CANARY_NAME, headline="x"),
                                            AlternativeMentor(member_id=other, name="Olive Other")]),
              AT + timedelta(days=21)),
    ]
    transport = EmbeddedTransport(tmp_path / "events.db")
    publisher = transport.publisher()
    loop = MirrorLoop(transport, spec.handler)
    client = httpx.Client(base_url=search_cluster.url, timeout=30)

    def search() -> list[dict[str, Any]]:
        client.post(f"/{prefix}-*/_refresh").raise_for_status()
        return client.post(f"/{prefix}-*/_search", json={"size": 100}).json()["hits"]["hits"]

    try:
        publisher.publish([_message(e) for e in before])
        assert loop.run_once(timeout_seconds=0) == len(before)
        everything = json.dumps(search())
        assert CANARY_NAME in everything and CANARY_TEXT in everything  # the canaries were planted

        publisher.publish([_message(event(MemberErased(member_id=erased), AT + timedelta(days=30)))])
        assert loop.run_once(timeout_seconds=0) == 1
        hits = search()
        dumped = json.dumps(hits)
        for canary in (CANARY_NAME, CANARY_EMAIL, CANARY_TEXT):
            assert canary not in dumped
        by_type = {}
        for hit in hits:
            by_type.setdefault(hit["_source"]["type"], []).append(hit["_source"])
        # The other member's directory record and the erasure itself stay; the erased one's went.
        assert [d["key"] for d in by_type["MemberDetailsChanged"]] == [other]
        assert by_type["MemberErased"][0]["member_id"] == erased
        # Figures the dashboards need survive the scrub.
        accepted = by_type["ProposalAccepted"][0]
        assert accepted["answer_seconds"] == 5 * 3600 and accepted["accepted"] == 1
        assert by_type["ProposalSent"][0]["mentee_id"] == erased  # a reference, not personal data
        assert [a["member_id"] for a in by_type["ProposalExpired"][0]["data"]["alternatives"]] == [other]
    finally:
        loop.close()
        transport.close()
        # By name: Elasticsearch 8 refuses to delete indices by wildcard.
        for name in client.get(f"/{prefix}*").json():
            client.delete(f"/{name}")
        client.delete(f"/_index_template/{prefix}")
        client.close()
