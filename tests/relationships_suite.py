"""What the relationships suite shares: its two databases, and reading what it published.

Every test of the suite runs twice: on SQLite (the embedded shape) and on PostgreSQL (the
distributed shape's database, from the harness, marked `integration`).  The suite's conftest
files (tests/unit/relationships, tests/unit/workspace, tests/integration/relationships) take
`container` from here, so a test added there runs on both without anyone listing it.  Only
the relationships database changes; the other services stay embedded.
`-m "not integration"` keeps the SQLite half.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Sequence

import pytest
from sqlalchemy import Table, func, inspect, select, text

from connect.bootstrap import Container
from connect.events import OutgoingMessage
from schemas.events import MEMBERS_TOPIC, RELATIONSHIPS_TOPIC, EventData, MemberDetailsChanged, MentorProfileChanged

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]


@pytest.fixture(params=BACKENDS)
def relationships_database(request: pytest.FixtureRequest) -> str | None:
    """The relationships database URL under test: None for the embedded SQLite file."""
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("relationships_pg_database")


@pytest.fixture
def container(make_container: Callable[..., Container], relationships_database: str | None) -> Container:
    if relationships_database is None:
        return make_container()
    # Cloned from a database the harness migrated once this run: nothing left to upgrade.
    return make_container(relationships_database_url=relationships_database, migrated={"relationships"})


def publish(container: Container, *events: EventData) -> None:
    """Put events on the transport the way matching's relay would."""
    container.transport.publisher().publish([
        OutgoingMessage(e.TOPIC, e.key(), e.envelope(producer="matching", occurred_at=container.clock.now()).to_bytes())
        for e in events])


def announce_mentor(container: Container, member_id: str, name: str, available: bool = True) -> None:
    """A mentor as the matching service announces one (what the relationships projection reads)."""
    publish(container, MemberDetailsChanged(member_id=member_id, name=name, email=f"{member_id.lower()}@example.org"),
            MentorProfileChanged(member_id=member_id, available=available, expertise=["career_planning"]))


def published(container: Container, *, topics: Sequence[str] = (RELATIONSHIPS_TOPIC, MEMBERS_TOPIC),
              types: Sequence[str] = (), key: str | None = None) -> list[dict[str, Any]]:
    """The events on `topics` so far (the relationships relay drained first), oldest first,
    of `types` and `key` when given.  Reads from the start every time and commits nothing."""
    container.services["relationships"].relay.drain()
    consumer = container.transport.consumer("relationships-test-reader", list(topics))
    try:
        found = [json.loads(record.value) for record in consumer.poll(0)]
    finally:
        consumer.close()
    return [e for e in found if (not types or e["type"] in types) and (key is None or e["key"] == key)]


def row_count(container: Container, table: Table) -> int:
    with container.services["relationships"].database.session() as session:
        return session.execute(select(func.count()).select_from(table)).scalar_one()


def rows_holding(container: Container, needle: str) -> dict[str, list[Any]]:
    """Every row of every table of the relationships database with `needle` in a column, by table."""
    found: dict[str, list[Any]] = {}
    with container.services["relationships"].database.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'select * from "{table}"')):
                if any(needle.lower() in str(value).lower() for value in row):
                    found.setdefault(table, []).append(row)
    return found
