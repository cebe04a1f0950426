"""Every service's migrations go up, down and up again on SQLite (PostgreSQL: tests/integration)."""

from __future__ import annotations

from pathlib import Path

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


def notifier_ledger_survives_the_claims_migration(database_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """From the ledger an earlier version wrote (notifier_0002: one row per accepted email) to the
    claiming ledger: every old row still means "sent", so a redelivered event sends nothing."""
    from datetime import datetime, timezone

    from alembic import command
    from sqlalchemy import text

    from connect.adapters.email_files import FileEmailSender
    from connect.clock import SystemClock
    from connect.db import Database
    from schemas.events import MemberDetailsChanged, ProposalSent
    from services.notifier.domain.rules import message_id_for
    from services.notifier.services import NotifierService

    database = Database(database_url, "notifier")
    migrations = Path(__file__).resolve().parents[2] / "services" / "notifier" / "migrations"
    config = database.alembic_config(migrations)
    command.upgrade(config, "notifier_0002")
    proposal = ProposalSent(relationship_id="R1", mentor_id="M-TOR", mentee_id="M-TEE", actor_id="M-TEE")
    envelope = proposal.envelope(producer="test", occurred_at=datetime.now(timezone.utc))
    sent_at = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)
    with database.engine.begin() as conn:
        conn.execute(text("INSERT INTO notifier_deliveries (event_id, recipient_id, message_id, sent_at) "
                          "VALUES (:e, :r, :m, :s)"),
                     {"e": str(envelope.event_id), "r": "M-TOR",
                      "m": message_id_for(str(envelope.event_id), "M-TOR"), "s": sent_at})
    database.upgrade(migrations)
    mail = FileEmailSender(tmp_path / "mail")
    service = NotifierService(database, SystemClock(), mail)
    service.handle(MemberDetailsChanged(member_id="M-TOR", name="Grace", email="g@example.org").envelope(
        producer="test", occurred_at=sent_at), MemberDetailsChanged(member_id="M-TOR", name="Grace",
                                                                  email="g@example.org"))
    service.handle(envelope, proposal)
    assert not (tmp_path / "mail").exists() or list((tmp_path / "mail").glob("*.eml")) == []
    assert service.ledger([str(envelope.event_id)]) == {str(envelope.event_id): {"M-TOR": True}}
    database.dispose()


def test_the_notifier_ledger_keeps_its_meaning_across_the_claims_migration(tmp_path):
    notifier_ledger_survives_the_claims_migration(f"sqlite:///{tmp_path / 'notifier.db'}", tmp_path)


def notifier_data_survives_the_feed_migration(database_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """From a notifier database at notifier_0003 (directory and ledger rows) to the feed: the rows
    stay, a redelivered event already emailed sends nothing again, and the feed starts with the
    events consumed after the upgrade."""
    from datetime import datetime, timezone

    from alembic import command
    from sqlalchemy import text

    from connect.adapters.email_files import FileEmailSender
    from connect.clock import SystemClock
    from connect.db import Database
    from schemas.events import ProposalSent
    from services.notifier.domain.rules import message_id_for
    from services.notifier.services import NotifierService

    database = Database(database_url, "notifier")
    migrations = Path(__file__).resolve().parents[2] / "services" / "notifier" / "migrations"
    command.upgrade(database.alembic_config(migrations), "notifier_0003")
    at = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)
    old = ProposalSent(relationship_id="R1", mentor_id="M-TOR", mentee_id="M-TEE", actor_id="M-TEE")
    old_envelope = old.envelope(producer="test", occurred_at=at)
    with database.engine.begin() as conn:
        conn.execute(text("INSERT INTO notifier_members (member_id, name, email, active, erased, updated_at) "
                          "VALUES ('M-TOR', 'Grace', 'g@example.org', true, false, :at), "
                          "('M-TEE', 'Ada', 'a@example.org', true, false, :at)"), {"at": at})
        conn.execute(text("INSERT INTO notifier_deliveries (event_id, recipient_id, message_id, claimed_at, sent_at) "
                          "VALUES (:e, 'M-TOR', :m, :at, :at)"),
                     {"e": str(old_envelope.event_id), "m": message_id_for(str(old_envelope.event_id), "M-TOR"),
                      "at": at})
    database.upgrade(migrations)
    service = NotifierService(database, SystemClock(), FileEmailSender(tmp_path / "mail"))
    assert service.recipient("M-TOR").email == "g@example.org"  # type: ignore[union-attr]
    service.handle(old_envelope, old)
    assert not list((tmp_path / "mail").glob("*.eml"))  # the ledger row still says "sent"
    assert service.feed.page("M-TOR", unread_only=False, after=None, limit=10)["items"] == []
    new = ProposalSent(relationship_id="R2", mentor_id="M-TOR", mentee_id="M-TEE", actor_id="M-TEE")
    service.feed.project([(new.envelope(producer="test", occurred_at=at), new)])
    view = service.feed.page("M-TOR", unread_only=False, after=None, limit=10)
    assert [item["title"] for item in view["items"]] == ["New mentoring proposal from Ada"]
    assert view["unread_count"] == 1
    database.dispose()


def test_the_notifier_keeps_its_data_across_the_feed_migration(tmp_path):
    notifier_data_survives_the_feed_migration(f"sqlite:///{tmp_path / 'notifier.db'}", tmp_path)
