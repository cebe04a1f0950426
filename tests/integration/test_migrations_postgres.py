"""The same migrations that run on SQLite run on real PostgreSQL, up, down and up again,
and leave exactly the tables the code declares."""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import services as services_package
from connect.db import Database
from connect.settings import SERVICES


@pytest.mark.parametrize("service", SERVICES)
def test_migrations_round_trip_on_postgres(pg_database, service):
    database = Database(pg_database, service)
    migrations = Path(services_package.__file__).parent / service / "migrations"
    try:
        database.upgrade(migrations)
        metadata = import_module(f"services.{service}.adapters.orm").metadata
        with database.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"version_table": f"alembic_version_{service}"})
            assert compare_metadata(context, metadata) == []
        tables = set(inspect(database.engine).get_table_names())
        config = database.alembic_config(migrations)
        command.downgrade(config, "base")
        assert set(inspect(database.engine).get_table_names()) == {f"alembic_version_{service}"}
        command.upgrade(config, "heads")
        assert set(inspect(database.engine).get_table_names()) == tables
    finally:
        database.dispose()


def test_the_notifier_ledger_keeps_its_meaning_across_the_claims_migration(pg_database, tmp_path):
    from tests.system.test_migrations import notifier_ledger_survives_the_claims_migration

    notifier_ledger_survives_the_claims_migration(pg_database, tmp_path)


def test_the_notifier_keeps_its_data_across_the_feed_migration(pg_database, tmp_path):
    from tests.system.test_migrations import notifier_data_survives_the_feed_migration

    notifier_data_survives_the_feed_migration(pg_database, tmp_path)


def test_accepted_relationships_get_their_planned_end_timers_on_upgrade(pg_database):
    from tests.system.test_migrations import accepted_relationships_get_their_planned_end_timers

    accepted_relationships_get_their_planned_end_timers(pg_database)
