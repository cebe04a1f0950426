"""Database plumbing shared by the services: engines, sessions, Alembic.

Each service owns its tables, its MetaData and its Alembic history (with its
own version table), so services can share a server without sharing schema.
Engines are created on first use, never at import time.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


SQLITE_POOL_SIZE = 40


def service_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the API read while a background relay or sweep writes;
    # busy_timeout turns momentary lock contention into a wait, not an error.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin_immediate(conn: Any) -> None:
    # pysqlite's deferred BEGIN lets two writers both read then collide on
    # write; taking the write lock at BEGIN serialises them like row locks would.
    # A read-only connection (Database.read_connection) needs no write lock: in WAL mode
    # a deferred BEGIN reads a snapshot without waiting for writers.
    if conn.get_execution_options().get("connect_read_only"):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def truncate_sqlite_wal(engine: Engine, label: str) -> None:
    """Fold SQLite's write-ahead log back into the file and empty it.

    After an erasure the old page images of the erased rows would otherwise stay
    readable in the log until a later checkpoint.  Runs outside any transaction
    (SQLAlchemy's connections here begin one at once).
    """
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        busy, _pages, _moved = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        cursor.close()
    finally:
        raw.close()
    if busy:
        log.warning("erasure: the write-ahead log of %s could not be truncated yet (readers active)", label)


class Database:
    def __init__(self, url: str, service: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.service = service
        self.pool_size = pool_size
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None
        self._read_engine: Engine | None = None
        self._read_sessions: sessionmaker[Session] | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def is_postgres(self) -> bool:
        return self.url.startswith("postgresql")

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            if self.is_sqlite:
                path = self.url.split("///", 1)[-1]
                if path and path != ":memory:":
                    Path(path).parent.mkdir(parents=True, exist_ok=True)
                # Enough kept connections for a process's request threads and background workers
                # together: a connection beyond the pool is closed after use, and reopening one
                # costs its pragmas again (the default kept 5).
                engine = create_engine(self.url, connect_args={"check_same_thread": False, "timeout": 30},
                                       pool_size=SQLITE_POOL_SIZE, max_overflow=10)
                event.listen(engine, "connect", _sqlite_pragmas)
                # Hand transaction control to SQLAlchemy so BEGIN IMMEDIATE can be used.
                event.listen(engine, "connect", lambda c, _r: setattr(c, "isolation_level", None))
                event.listen(engine, "begin", _sqlite_begin_immediate)
            else:
                engine = create_engine(self.url, pool_size=self.pool_size, max_overflow=self.pool_size,
                                       pool_pre_ping=True)
            self._engine = engine
        return self._engine

    def session(self, *, read_only: bool = False) -> Session:
        """A pooled ORM session.  `read_only`: for a use case that only reads; on SQLite its
        transaction starts with a deferred BEGIN (a snapshot in WAL mode), so it neither waits for
        nor blocks writers, where BEGIN IMMEDIATE would queue every read behind every write and
        behind the other reads of the same page."""
        if read_only:
            if self._read_sessions is None:
                self._read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)
            return self._read_sessions()
        if self._sessions is None:
            self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        return self._sessions()

    @property
    def read_engine(self) -> Engine:
        """The engine with `connect_read_only` set: a deferred BEGIN on SQLite (see `session`)."""
        if self._read_engine is None:
            self._read_engine = self.engine.execution_options(connect_read_only=True)
        return self._read_engine

    def read_connection(self) -> Connection:
        """A connection for reads only, used as `with database.read_connection() as conn:`.

        On SQLite it does not take the write lock, so request-path reads neither wait for nor
        block relays and consumers.  A Core connection, not an ORM session: the few reads on a
        request's path cost less than the session's bookkeeping around them."""
        return self.read_engine.connect()

    def expunge_erased(self) -> None:
        """Make erased rows' old images unreadable where the engine keeps them: SQLite's
        write-ahead log now; PostgreSQL's dead tuples go with (auto)vacuum."""
        if self.is_sqlite:
            truncate_sqlite_wal(self.engine, self.service)

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("select 1"))

    def upgrade(self, migrations: Path, revision: str = "heads") -> None:
        from alembic import command

        command.upgrade(self.alembic_config(migrations), revision)

    def alembic_config(self, migrations: Path) -> Any:
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(migrations))
        config.set_main_option("version_table", f"alembic_version_{self.service}")
        config.attributes["database"] = self
        return config

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
            self._sessions = None
            self._read_engine = None
            self._read_sessions = None


def run_alembic_env(target_metadata: MetaData) -> None:
    """The body of every service's migrations/env.py (online mode only)."""
    from alembic import context

    config = context.config
    database: Database = config.attributes["database"]
    version_table = config.get_main_option("version_table")
    with database.engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table=version_table,
            render_as_batch=database.is_sqlite,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
