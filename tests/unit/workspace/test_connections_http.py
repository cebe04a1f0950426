"""The "what you share" connections of the first conversation over matching's real HTTP API
(the distributed adapter), equal to the in-process adapter's; matching shares the comparable
facts with a service credential only."""

from __future__ import annotations

from services.relationships.adapters.connections import HttpConnections, InProcessConnections
from tests.unit.workspace.test_tools_api import test_first_conversation_starts_from_what_the_two_share as plant


def test_connections_over_http_equal_the_in_process_ones(client, pair, container, make_container, served_api):
    plant(client, pair)  # both profiles, and the in-process answer checked through the API
    in_process = InProcessConnections(lambda: container.service("matching")).between("M1", "M2")
    assert in_process

    service_token = container.dev_issuer.mint("svc-relationships", "Relationships service", "", roles=["service"])
    assert HttpConnections(served_api, lambda: service_token).between("M1", "M2") == in_process
    # Another member's token learns nothing about M1 and M2 (403): no connections, no error.
    stranger = container.dev_issuer.mint("M9", "Someone", "m9@example.org")
    assert HttpConnections(served_api, lambda: stranger).between("M1", "M2") == []

    distributed = make_container(matching_url="http://127.0.0.1:9", matching_token="t", var_dir=container.settings.var_dir.parent / "other")
    assert isinstance(distributed.service("relationships").workspace.connections, HttpConnections)
