"""The relationships tests on real PostgreSQL: the same fixtures, the relationships
database on a fresh PostgreSQL database per test (the other services stay embedded)."""

from __future__ import annotations

from typing import Callable

import pytest

from connect.bootstrap import Container
from tests.unit.relationships.conftest import mentor, set_availability  # noqa: F401 - fixtures reused as-is


@pytest.fixture
def container(make_container: Callable[..., Container], pg_database: str) -> Container:
    return make_container(relationships_database_url=pg_database)
