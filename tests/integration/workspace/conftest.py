"""The workspace tests on real PostgreSQL: the relationships database (aggregate and workspace
branches of its migrations) on a fresh PostgreSQL database per test; the rest stays embedded."""

from __future__ import annotations

from typing import Callable

import pytest

from connect.bootstrap import Container
from tests.unit.workspace.conftest import pair, propose  # noqa: F401 - fixtures reused as-is


@pytest.fixture
def container(make_container: Callable[..., Container], pg_database: str) -> Container:
    return make_container(relationships_database_url=pg_database)
