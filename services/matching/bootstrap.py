from __future__ import annotations

from pathlib import Path

from connect.auth import MemberHook
from connect.bootstrap import ConsumerSpec, Container, ServiceModule
from connect.dev_oidc import DevAccount
from connect.outbox import OutboxRelay
from connect.scheduling import PeriodicJob
from schemas.events import MEMBERS_TOPIC, PROFILES_TOPIC, RELATIONSHIPS_TOPIC
from services.matching import api
from services.matching.adapters import orm
from services.matching.adapters.embedder_onnx import DeferredEmbedder, load_embedder
from services.matching.adapters.search import DeferredSearchIndex, build_search_index
from services.matching.interfaces import Embedder, SearchIndex
from services.matching.services import MatchingService
from services.matching.tasks import IndexerHandler, RelationshipProjector


# How often the live index is checked for vectors of the configured model and for the shared
# analysis (an index made before meaning existed, under another model, or whose cluster stemmed
# the text itself, is rebuilt once, in the background).
VECTOR_CHECK_SECONDS = 300.0


def wire(container: Container) -> ServiceModule:
    database = container.database("matching")
    settings = container.settings
    embedder: Embedder
    index: SearchIndex
    if container.load_models:
        # CONNECT_EMBEDDING_MODEL, loaded now: a model that cannot load stops start-up, naming the setting.
        embedder = load_embedder(settings.embedding)
        # Chosen by CONNECT_SEARCH_URL: tantivy under var/search, OpenSearch or Elasticsearch.
        index = build_search_index(settings.search, settings.var_dir, embedder)
    else:  # a process that may never search (Celery worker, relay...): both on first use
        embedder = DeferredEmbedder(settings.embedding)
        index = DeferredSearchIndex(lambda: build_search_index(settings.search, settings.var_dir, embedder))
    facade = MatchingService(database, container.clock, index, after_commit=container.wake_relays,
                             embedder=embedder)
    index.on_switch = facade.catch_up_index  # type: ignore[attr-defined]
    container.authenticator.on_seen.append(MemberHook(facade.member_seen, facade.knows_details))
    # First of all hooks: a deleted member's token is refused before anything records them.
    container.authenticator.on_seen.insert(0, MemberHook(facade.refuse_inactive, facade.confirmed_active))
    indexer = IndexerHandler(facade)
    return ServiceModule(
        name="matching",
        database=database,
        migrations=Path(__file__).parent / "migrations",
        router=api.router,
        relay=OutboxRelay(database, orm.outbox, container.transport.publisher(), container.clock),
        consumers=[
            ConsumerSpec("matching-indexer", [PROFILES_TOPIC, MEMBERS_TOPIC], indexer, role="indexer",
                         batch_handler=indexer.handle_records),
            ConsumerSpec("matching-relationships", [RELATIONSHIPS_TOPIC], RelationshipProjector(facade),
                         role="indexer"),
        ],
        jobs=[PeriodicJob("matching.vectors", VECTOR_CHECK_SECONDS, facade.rebuild_if_stale)],
        ready_checks={"search": lambda: index.ping()},
        facade=facade,
        dev_accounts=lambda: [DevAccount(e["member_id"], e["name"], e["email"], holds=e["holds"])
                              for e in facade.sign_in_examples()],
    )
