"""The ops mirror's documents: one per event, in a daily `connect-events-YYYY.MM.DD` index.

Operators look at the platform through Kibana dashboards (deploy/kibana/) built
on these documents.  Documents are idempotent: `_id` is the event id and the
index follows from the event's own `occurred_at`, so a redelivered event
overwrites itself.  Besides the envelope, a document carries what the dashboards
need precomputed, since Kibana cannot join events: `status` (the relationship
status the event leads to), `outcome` / `accepted` for answered or expired
proposals (the average of `accepted` is the acceptance rate), and
`answer_seconds`, the time from the proposal being sent (or last reopened) to
the mentor's answer.  What an event means for the lifecycle is read from its
type in `schemas.events`, never kept here.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from schemas.events import EVENT_TYPES, Envelope, ProposalAccepted, ProposalExpired

# When each open proposal was last sent or reopened, keyed by relationship id.  Its
# name stays outside the `connect-events-*` pattern so dashboards never count it.
PROPOSAL_CLOCK_INDEX = "connect-ops-proposal-clock"

# Envelope and payload fields lifted to the top level, typed for aggregations.
_KEYWORDS = ("event_id", "type", "producer", "key", "topic", "relationship_id", "mentor_id", "mentee_id",
             "member_id", "actor_id", "status", "outcome")


def mapping(data_type: str) -> dict[str, Any]:
    """The explicit mapping; `data_type` is the engine's name for a flattened object
    (`flattened` on Elasticsearch, `flat_object` on OpenSearch)."""
    properties: dict[str, Any] = {name: {"type": "keyword"} for name in _KEYWORDS}
    properties.update({
        "occurred_at": {"type": "date"},
        "mirrored_at": {"type": "date"},
        "version": {"type": "integer"},
        "day": {"type": "integer"},
        "accepted": {"type": "byte"},
        "answer_seconds": {"type": "long"},
        "reason": {"type": "text"},
        # The whole payload, searchable by path (data.areas: ...) without a mapping per event type.
        "data": {"type": data_type},
    })
    # Unknown top-level fields are kept in _source but never mapped: no mapping explosion.
    return {"dynamic": False, "properties": properties}


def index_template(prefix: str, data_type: str) -> dict[str, Any]:
    return {
        "index_patterns": [f"{prefix}-*"],
        "priority": 100,
        "template": {
            "settings": {"number_of_shards": 1, "auto_expand_replicas": "0-1"},
            "mappings": mapping(data_type),
        },
    }


def index_for(prefix: str, occurred_at: datetime) -> str:
    return f"{prefix}-{occurred_at.astimezone(timezone.utc):%Y.%m.%d}"


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _lifecycle(event_type: str) -> Any:
    """The event class of a type name (its lifecycle facts), or None for a type we do not know."""
    return EVENT_TYPES.get(event_type)


def starts_proposal(event_type: str) -> bool:
    return bool(getattr(_lifecycle(event_type), "STARTS_PROPOSAL", False))


def answers_proposal(event_type: str) -> bool:
    return bool(getattr(_lifecycle(event_type), "ANSWERS_PROPOSAL", False))


def document(envelope: Envelope, topic: str, mirrored_at: datetime) -> dict[str, Any]:
    """The ops document of one event (without `answer_seconds`, which needs the proposal clock)."""
    data = envelope.data
    doc: dict[str, Any] = {
        "event_id": str(envelope.event_id), "type": envelope.type, "version": envelope.version,
        "occurred_at": _utc(envelope.occurred_at).isoformat(), "producer": envelope.producer,
        "key": envelope.key, "topic": topic, "mirrored_at": mirrored_at.isoformat(), "data": data,
    }
    for name in ("relationship_id", "mentor_id", "mentee_id", "member_id", "actor_id", "reason", "day"):
        if data.get(name) is not None:
            doc[name] = data[name]
    lifecycle = _lifecycle(envelope.type)
    status = getattr(lifecycle, "STATUS_AFTER", None)
    if status is not None:
        doc["status"] = status
    if answers_proposal(envelope.type) or lifecycle is ProposalExpired:
        # The proposal's outcome: where the answer or the expiry moved it.
        doc["outcome"] = status
        doc["accepted"] = 1 if lifecycle is ProposalAccepted else 0
    return doc


def time_answers(docs: list[dict[str, Any]], stored: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Set `answer_seconds` on the answers among `docs` (in record order, which is
    per-relationship order), from the clock starts among them or else `stored`, the
    proposal clock's documents by relationship id; return the clock starts they move."""
    starts: dict[str, str] = {}
    for doc in docs:
        relationship_id = doc.get("relationship_id")
        if not relationship_id:
            continue
        if starts_proposal(doc["type"]):
            starts[relationship_id] = doc["occurred_at"]
        elif answers_proposal(doc["type"]):
            since = starts.get(relationship_id) or stored.get(relationship_id, {}).get("since")
            if since is None:
                continue
            seconds = (datetime.fromisoformat(doc["occurred_at"]) - datetime.fromisoformat(since)).total_seconds()
            # A clock newer than the answer only shows up when a batch is redone after its
            # clock was already moved on; no figure beats a wrong one.
            if seconds >= 0:
                doc["answer_seconds"] = int(seconds)
    return starts
