"""Every service's migrations go up, down and up again on SQLite (PostgreSQL: tests/integration)."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from connect.bootstrap import build_container
from connect.settings import SERVICES, Settings


@pytest.mark.parametrize("service", SERVICES)
def test_migrations_round_trip_on_sqlite(tmp_path, service):
    container = build_container(Settings(var_dir=tmp_path), services=(service,))
    module = container.services[service]
    module.database.upgrade(module.migrations)
    tables = set(inspect(module.database.engine).get_table_names())
    assert all(t.startswith(f"{service}_") or t == f"alembic_version_{service}" for t in tables), tables
    from alembic import command

    config = module.database.alembic_config(module.migrations)
    command.downgrade(config, "base")
    assert set(inspect(module.database.engine).get_table_names()) == {f"alembic_version_{service}"}
    command.upgrade(config, "heads")
    assert set(inspect(module.database.engine).get_table_names()) == tables
    container.close()


@pytest.mark.parametrize("service", SERVICES)
def test_migrations_match_the_tables_the_code_declares(tmp_path, service):
    """A table added to adapters/orm.py without a migration (or the reverse) fails here."""
    from importlib import import_module

    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    container = build_container(Settings(var_dir=tmp_path), services=(service,))
    module = container.services[service]
    module.database.upgrade(module.migrations)
    metadata = import_module(f"services.{service}.adapters.orm").metadata
    with module.database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False,
                                                         "version_table": f"alembic_version_{service}"})
        diff = compare_metadata(context, metadata)
    container.close()
    assert diff == []
