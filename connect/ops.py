"""The ops mirror: every event, as a document in a daily `connect-events-YYYY.MM.DD` index.

Operators look at the platform through Kibana dashboards (deploy/kibana/) built
on these documents.  The mirror is one more consumer (group `ops-mirror`, role
`ops`: `connect run ops`) on every topic.  It is wired only where a search
cluster is configured (`CONNECT_SEARCH_URL` with an `opensearch+` or
`elasticsearch+` scheme); the embedded shape has no Kibana to feed.

Documents are idempotent: `_id` is the event id and the index follows from the
event's own `occurred_at`, so a redelivered event overwrites itself.  Besides
the envelope, a document carries what the dashboards need precomputed, since
Kibana cannot join events: `status` (the relationship status the event leads
to), `outcome` / `accepted` for answered or expired proposals (the average of
`accepted` is the acceptance rate), and `answer_seconds`, the time from the
proposal being sent (or last reopened) to the mentor's answer.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Sequence

import typer
from pydantic import ValidationError

from connect.events import ConsumerLoop, EventTransport, PoisonMessage, Record
from schemas.events import EVENT_TYPES, MEMBERS_TOPIC, PROFILES_TOPIC, Envelope, MemberErased, erased_from

if TYPE_CHECKING:
    from connect.bootstrap import ConsumerSpec
    from connect.settings import Settings

log = logging.getLogger(__name__)

GROUP_ID = "ops-mirror"
ROLE = "ops"
# When each open proposal was last sent or reopened, keyed by relationship id.  Its
# name stays outside the `connect-events-*` pattern so dashboards never count it.
PROPOSAL_CLOCK_INDEX = "connect-ops-proposal-clock"

# The relationship status each event leads to (CONTRACT.md, Relationships).
STATUS_AFTER = {
    "ProposalSent": "pending", "ProposalEdited": "pending", "ProposalReopened": "pending",
    "ProposalReminderDue": "pending", "ProposalAccepted": "accepted", "ProposalRejected": "rejected",
    "ProposalWithdrawn": "withdrawn", "RelationshipWithdrawn": "withdrawn", "ProposalExpired": "expired",
    "RelationshipCompleted": "completed",
}
OUTCOMES = {"ProposalAccepted": "accepted", "ProposalRejected": "rejected", "ProposalExpired": "expired"}
ANSWERS = {"ProposalAccepted", "ProposalRejected"}
CLOCK_STARTS = {"ProposalSent", "ProposalReopened"}

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
    if envelope.type in STATUS_AFTER:
        doc["status"] = STATUS_AFTER[envelope.type]
    if envelope.type in OUTCOMES:
        doc["outcome"] = OUTCOMES[envelope.type]
        doc["accepted"] = 1 if envelope.type == "ProposalAccepted" else 0
    return doc


class OpsIndex(Protocol):
    """The port: the little of a search cluster the mirror needs."""

    flat_object_type: str

    def put_template(self, name: str, body: dict[str, Any]) -> None: ...

    def bulk(self, actions: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
        """Index every (index, id, document) in one request; raise unless all were stored."""

    def mget(self, index: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The sources of those ids that exist (realtime: no refresh needed)."""

    def find(self, index_pattern: str, query: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
        """Every (index, id, source) matching the query, after a refresh (small result sets)."""

    def delete(self, actions: Sequence[tuple[str, str]]) -> None:
        """Delete every (index, id) in one request; raise unless all were handled."""

    def close(self) -> None: ...


class EventMirror:
    """Records in, documents out: one bulk request per batch (plus the proposal clock).

    Usable as a per-record consumer handler too (`__call__`), but the ops role runs
    `MirrorLoop`, which hands it whole polled batches: one request per event caps
    the mirror at a few dozen events a second, one per batch keeps up with the
    platform's peak.
    """

    def __init__(self, index: OpsIndex, prefix: str = "connect-events", clock_index: str = PROPOSAL_CLOCK_INDEX,
                 now: Any = lambda: datetime.now(timezone.utc)) -> None:
        self.index = index
        self.prefix = prefix
        self.clock_index = clock_index
        self.now = now
        self._template_ready = False
        self._lock = threading.Lock()

    def ensure_template(self) -> None:
        with self._lock:
            if not self._template_ready:
                self.index.put_template(self.prefix, index_template(self.prefix, self.index.flat_object_type))
                self._template_ready = True
                log.info("index template for %s-* in place", self.prefix)

    def mirror_batch(self, records: Sequence[Record]) -> list[tuple[Record, str]]:
        """Store the documents of every event among `records`; return the records that are
        not events, with the reason, for the caller to dead-letter."""
        poison: list[tuple[Record, str]] = []
        docs: list[dict[str, Any]] = []
        mirrored_at = self.now()
        for record in records:
            try:
                envelope = Envelope.from_bytes(record.value)
            except (ValidationError, ValueError) as exc:
                poison.append((record, f"not an event envelope: {exc}"))
                continue
            docs.append(document(envelope, record.topic, mirrored_at))
        if not docs:
            return poison
        self.ensure_template()
        actions = [(index_for(self.prefix, datetime.fromisoformat(doc["occurred_at"])), doc["event_id"], doc)
                   for doc in docs]
        actions += [(self.clock_index, relationship_id, {"relationship_id": relationship_id, "since": since})
                    for relationship_id, since in self._time_answers(docs).items()]
        self.index.bulk(actions)
        for doc in docs:
            if doc["type"] == MemberErased.TYPE:
                self.erase_member(doc["member_id"])
        return poison

    def erase_member(self, member_id: str) -> None:
        """Apply an erasure to the mirror as the embedded log applies it to itself:
        the member's own records (members and profiles topics) go, and relationship
        documents that mention them keep their figures but lose the personal text
        (`schemas.events.erased_from` decides which fields)."""
        mentions = {"bool": {"should": [{"term": {field: member_id}} for field in
                                        ("key", "member_id", "mentor_id", "mentee_id", "actor_id",
                                         "data.alternatives.member_id")],
                             "minimum_should_match": 1}}
        found = self.index.find(f"{self.prefix}-*", mentions)
        deletions: list[tuple[str, str]] = []
        rewrites: list[tuple[str, str, dict[str, Any]]] = []
        for index, doc_id, source in found:
            if source.get("type") == MemberErased.TYPE:
                continue
            if source.get("topic") in (MEMBERS_TOPIC, PROFILES_TOPIC) and source.get("key") == member_id:
                deletions.append((index, doc_id))
                continue
            envelope = Envelope(event_id=source["event_id"], type=source["type"], version=source.get("version", 1),
                                occurred_at=source["occurred_at"], producer=source.get("producer", ""),
                                key=source["key"], data=source.get("data") or {})
            scrubbed = erased_from(envelope, member_id)
            if scrubbed is None:
                continue
            doc = document(scrubbed, source["topic"], datetime.fromisoformat(source["mirrored_at"]))
            if "answer_seconds" in source:
                doc["answer_seconds"] = source["answer_seconds"]
            rewrites.append((index, doc_id, doc))
        if deletions:
            self.index.delete(deletions)
        if rewrites:
            self.index.bulk(rewrites)
        log.info("erasure of a member applied to the ops mirror: %s documents deleted, %s scrubbed",
                 len(deletions), len(rewrites))

    def _time_answers(self, docs: list[dict[str, Any]]) -> dict[str, str]:
        """Set `answer_seconds` on answers; return the clock starts this batch moves."""
        answered = {doc["relationship_id"] for doc in docs
                    if doc["type"] in ANSWERS and doc.get("relationship_id")}
        stored = self.index.mget(self.clock_index, sorted(answered)) if answered else {}
        starts: dict[str, str] = {}
        for doc in docs:  # in record order, which is per-relationship order
            relationship_id = doc.get("relationship_id")
            if not relationship_id:
                continue
            if doc["type"] in CLOCK_STARTS:
                starts[relationship_id] = doc["occurred_at"]
            elif doc["type"] in ANSWERS:
                since = starts.get(relationship_id) or stored.get(relationship_id, {}).get("since")
                if since is None:
                    continue
                seconds = (datetime.fromisoformat(doc["occurred_at"]) - datetime.fromisoformat(since)).total_seconds()
                # A clock newer than the answer only shows up when a batch is redone after its
                # clock was already moved on; no figure beats a wrong one.
                if seconds >= 0:
                    doc["answer_seconds"] = int(seconds)
        return starts

    def __call__(self, record: Record) -> None:
        for _, reason in self.mirror_batch([record]):
            raise PoisonMessage(reason)


class MirrorLoop(ConsumerLoop):
    """The ops role's consumer loop: each polled batch is mirrored in one bulk request,
    records that are not events are dead-lettered, and only then are offsets committed.

    A failure (cluster down, bulk partly refused) drops the consumer, so the next poll
    resumes from the committed offsets and redoes the batch: documents are idempotent,
    and nothing is dead-lettered for an outage.
    """

    def __init__(self, transport: EventTransport, mirror: EventMirror) -> None:
        super().__init__(transport, GROUP_ID, all_topics(), mirror)
        self.mirror = mirror

    def run_once(self, timeout_seconds: float = 0.5, stop: threading.Event | None = None) -> int:
        consumer = self.consumer
        records = consumer.poll(timeout_seconds)
        if not records:
            return 0
        try:
            for record, reason in self.mirror.mirror_batch(records):
                self._dead_letter(record, reason)
            consumer.commit(records)
        except BaseException:
            self.close()
            raise
        return len(records)


def all_topics() -> list[str]:
    return sorted({cls.TOPIC for cls in EVENT_TYPES.values()})


def open_index(search_url: str) -> OpsIndex | None:
    """The adapter for `CONNECT_SEARCH_URL`, or None for the embedded engine (no ops mirror)."""
    scheme, _, rest = search_url.partition("+")
    if scheme == "opensearch" and rest:
        from connect.adapters.ops_opensearch import OpenSearchOpsIndex

        return OpenSearchOpsIndex(rest)
    if scheme == "elasticsearch" and rest:
        from connect.adapters.ops_elasticsearch import ElasticsearchOpsIndex

        return ElasticsearchOpsIndex(rest)
    return None


def ops_consumer(settings: "Settings") -> "ConsumerSpec | None":
    """The mirror's consumer spec, or None in the embedded shape (no search cluster)."""
    from connect.bootstrap import ConsumerSpec

    if not settings.search.search_url:
        return None
    index = open_index(settings.search.search_url)
    if index is None:
        return None
    mirror = EventMirror(index, settings.search.ops_index_prefix)
    return ConsumerSpec(group_id=GROUP_ID, topics=all_topics(), handler=mirror, role=ROLE)


# --- commands --------------------------------------------------------------------

ops_app = typer.Typer(help="Operations: the Kibana side of the distributed shape.", no_args_is_help=True)


def saved_objects_path() -> Path:
    from connect.settings import deploy_dir

    return deploy_dir() / "kibana" / "connect-dashboards.ndjson"


@ops_app.command("import-dashboards")
def import_dashboards(
    kibana_url: str = typer.Option(None, "--kibana-url", help="Kibana base URL (default CONNECT_KIBANA_URL)."),
    file: Path = typer.Option(None, "--file", help="Saved objects NDJSON (default deploy/kibana/)."),
) -> None:
    """Import the data view, visualisations and dashboard on connect-events-* into Kibana."""
    import httpx

    from connect.settings import Settings

    url = kibana_url or Settings().search.kibana_url
    if not url:
        typer.echo("no Kibana URL: pass --kibana-url or set CONNECT_KIBANA_URL", err=True)
        raise typer.Exit(2)
    path = file or saved_objects_path()
    try:
        response = httpx.post(
            f"{url.rstrip('/')}/api/saved_objects/_import", params={"overwrite": "true"},
            headers={"kbn-xsrf": "true"}, files={"file": (path.name, path.read_bytes(), "application/ndjson")},
            timeout=60.0,
        )
    except httpx.HTTPError as exc:
        typer.echo(f"could not reach Kibana at {url}: {exc}", err=True)
        raise typer.Exit(1) from None
    if response.status_code != 200:
        typer.echo(f"Kibana answered {response.status_code}: {response.text}", err=True)
        raise typer.Exit(1)
    result = response.json()
    if not result.get("success"):
        typer.echo(f"import failed: {result.get('errors')}", err=True)
        raise typer.Exit(1)
    typer.echo(f"imported {result.get('successCount', 0)} saved objects into {url}")


def run_ops() -> None:
    """Mirror every event into the connect-events-* indices for Kibana."""
    from connect.bootstrap import build_container
    from connect.cli import _settings, _wait_for_signal

    settings = _settings()
    spec = ops_consumer(settings)
    if spec is None:
        typer.echo("the ops mirror needs CONNECT_SEARCH_URL=opensearch+http://... or elasticsearch+http://...",
                   err=True)
        raise typer.Exit(2)
    container = build_container(settings)
    stop = threading.Event()
    loop = MirrorLoop(container.transport, spec.handler)  # type: ignore[arg-type]
    # The loop runs in a thread because signal handlers only run in the main thread.
    thread = threading.Thread(target=loop.run, args=(stop,), name=f"consumer-{spec.group_id}")
    thread.start()
    _wait_for_signal(stop)
    thread.join(10.0)
    spec.handler.index.close()  # type: ignore[attr-defined]
    container.close()


def register(app: typer.Typer) -> None:
    from connect.cli import run_app

    app.add_typer(ops_app, name="ops")
    run_app.command("ops")(run_ops)
