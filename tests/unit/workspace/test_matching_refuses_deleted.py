"""Distributed shape: the matching API, alone in its process, refuses a deleted member's token
(403) once it consumed AccountDeleted, and seeing the token again does not reactivate them."""

from __future__ import annotations

from typing import Iterator

import pytest

from connect.bootstrap import Container, build_container
from connect.events import OutgoingMessage
from connect.settings import Settings
from schemas.events import AccountDeleted


@pytest.fixture
def container(tmp_path, clock) -> Iterator[Container]:  # type: ignore[no-untyped-def]
    only_matching = build_container(Settings(var_dir=tmp_path / "var"), clock=clock, services=("matching",))
    only_matching.upgrade_databases()
    yield only_matching
    only_matching.close()


def test_matching_refuses_a_deleted_members_token(client, auth, container, deliver, clock):
    ada, grace = auth("M1", name="Ada"), auth("M2", name="Grace")
    assert client.get("/v1/members/me", headers=ada).status_code == 200
    deleted = AccountDeleted(member_id="M1")
    container.transport.publisher().publish([OutgoingMessage(
        deleted.TOPIC, deleted.key(), deleted.envelope(producer="relationships", occurred_at=clock.now()).to_bytes())])
    deliver()

    for _ in range(2):  # the second answer comes from what the first one learnt
        refused = client.get("/v1/taxonomy", headers=ada)
        assert refused.status_code == 403 and refused.json()["type"].endswith("account-deleted"), refused.text
    assert client.get("/v1/taxonomy", headers=grace).status_code == 200
    assert container.service("matching").get_member("M1")["active"] is False
