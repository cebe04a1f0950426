"""The ops service's wiring: its index adapter chosen by `CONNECT_SEARCH_URL`, its consumer.

Ops keeps no database and serves no API, so it is not among the services every
process builds (`connect.settings.SERVICES`); `connect run ops` wires it alone.
"""

from __future__ import annotations

from connect.bootstrap import ConsumerSpec
from connect.settings import Settings
from services.ops.interfaces import OpsIndex
from services.ops.services import EventMirror
from services.ops.tasks import GROUP_ID, ROLE, all_topics


def open_index(search_url: str) -> OpsIndex | None:
    """The adapter for `CONNECT_SEARCH_URL`, or None for the embedded engine (no ops mirror)."""
    scheme, _, rest = search_url.partition("+")
    if scheme == "opensearch" and rest:
        from services.ops.adapters.opensearch import OpenSearchOpsIndex

        return OpenSearchOpsIndex(rest)
    if scheme == "elasticsearch" and rest:
        from services.ops.adapters.elasticsearch import ElasticsearchOpsIndex

        return ElasticsearchOpsIndex(rest)
    return None


def ops_consumer(settings: Settings) -> ConsumerSpec | None:
    """The mirror's consumer spec, or None in the embedded shape (no search cluster)."""
    if not settings.search.search_url:
        return None
    index = open_index(settings.search.search_url)
    if index is None:
        return None
    mirror = EventMirror(index, settings.search.ops_index_prefix)
    return ConsumerSpec(group_id=GROUP_ID, topics=all_topics(), handler=mirror, role=ROLE)
