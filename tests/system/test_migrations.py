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


def accepted_relationships_get_their_planned_end_timers(database_url: str) -> None:
    """From relationships_0003 (accepted relationships had no timer) to the planned-end timers:
    a relationship accepted before the upgrade gets its notice and its completion from the sweep."""
    from datetime import datetime, timedelta, timezone

    from alembic import command
    from sqlalchemy import text

    from connect.clock import MovableClock
    from connect.db import Database
    from services.relationships.services import RelationshipsService

    database = Database(database_url, "relationships")
    migrations = Path(__file__).resolve().parents[2] / "services" / "relationships" / "migrations"
    command.upgrade(database.alembic_config(migrations), "relationships_0003")
    accepted_at = datetime(2026, 1, 10, 9, 0, tzinfo=timezone.utc)
    import sqlalchemy as sa

    # The tables as that revision had them (no end_notice_at yet), written the way the code wrote them.
    stamp = sa.DateTime(timezone=True)
    old = sa.table("relationships_relationships", *(sa.column(name) for name in (
        "id", "mentor_id", "mentee_id", "status", "proposal_version", "cycle")),
        *(sa.column(name, stamp) for name in ("created_at", "updated_at", "accepted_at", "cycle_started_at")))
    versions = sa.table("relationships_proposal_versions", *(sa.column(name) for name in (
        "relationship_id", "version", "message", "goals", "duration_months", "author_id")),
        sa.column("areas", sa.JSON), sa.column("interaction_modes", sa.JSON), sa.column("created_at", stamp))
    with database.engine.begin() as conn:
        conn.execute(old.insert().values(id="R-OLD", mentor_id="M-TOR", mentee_id="M-TEE", status="accepted",
                                         proposal_version=1, cycle=1, created_at=accepted_at,
                                         updated_at=accepted_at, accepted_at=accepted_at,
                                         cycle_started_at=accepted_at))
        conn.execute(versions.insert().values(relationship_id="R-OLD", version=1, message="Hello", goals="",
                                              duration_months=3, author_id="M-TEE", areas=["leadership"],
                                              interaction_modes=["video"], created_at=accepted_at))
    database.upgrade(migrations)
    planned_end = datetime(2026, 4, 10, 9, 0, tzinfo=timezone.utc)
    from connect.clock import utc
    from services.relationships.adapters import orm

    with database.engine.connect() as conn:
        timer = conn.execute(sa.select(orm.relationships.c.next_timer_at)
                             .where(orm.relationships.c.id == "R-OLD")).scalar()
    assert utc(timer) == planned_end - timedelta(days=14)
    service = RelationshipsService(database, MovableClock(planned_end))
    assert service.proposals.send_due_reminders(planned_end - timedelta(days=14)).end_notices == 1
    assert service.proposals.send_due_reminders(planned_end).completed == 1
    with database.engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM relationships_relationships WHERE id = 'R-OLD'")).scalar() \
            == "completed"
    database.dispose()


def test_accepted_relationships_get_their_planned_end_timers_on_upgrade(tmp_path):
    accepted_relationships_get_their_planned_end_timers(f"sqlite:///{tmp_path / 'relationships.db'}")
