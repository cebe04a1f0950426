"""On SQLite, write sessions take the write lock at BEGIN; read connections and read-only units of
work must not, so request-path reads neither wait for nor block a relay or consumer that is writing."""

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from connect.clock import SystemClock
from connect.db import Database
from connect.uow import SqlUnitOfWork


def _notes_with_a_write_pending(tmp_path: Path) -> tuple[Database, Session]:
    """A table with one committed row, and a writer holding the write lock over a second."""
    database = Database(f"sqlite:///{tmp_path / 'x.db'}", "x")
    with database.session() as session, session.begin():
        session.execute(text("create table notes (body text)"))
        session.execute(text("insert into notes values ('committed')"))
    writer = database.session()
    writer.begin()
    writer.execute(text("insert into notes values ('pending')"))
    return database, writer


def test_a_read_connection_reads_while_a_writer_holds_the_lock(tmp_path: Path) -> None:
    database, writer = _notes_with_a_write_pending(tmp_path)
    try:
        with database.read_connection() as reader:
            # Answers at once from the last committed snapshot (a BEGIN IMMEDIATE would wait 10 s).
            assert reader.execute(text("select body from notes")).scalars().all() == ["committed"]
    finally:
        writer.commit()
    with database.read_connection() as reader:
        assert sorted(reader.execute(text("select body from notes")).scalars()) == ["committed", "pending"]
    database.dispose()


def test_a_read_only_unit_of_work_reads_while_a_writer_holds_the_lock_and_never_commits(tmp_path: Path) -> None:
    """The unit of work of details, lists and dashboards neither waits for a writer nor commits."""
    database, writer = _notes_with_a_write_pending(tmp_path)
    try:
        with SqlUnitOfWork(database, None, SystemClock(), read_only=True) as uow:
            assert uow.session.execute(text("select body from notes")).scalars().all() == ["committed"]
            with pytest.raises(RuntimeError, match="read-only"):
                uow.commit()
    finally:
        writer.commit()
    database.dispose()
