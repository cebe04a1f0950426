"""PostgreSQL bulk paths: one statement with one array parameter per column, whatever the
row count (a sweep batch is a few statements, not thousands of round trips).  SQLite runs
in-process, where executemany costs no round trips, so it keeps the portable path."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import JSON, Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session


def _pg_arrays(table: Table, rows: list[dict[str, Any]]) -> tuple[list[str], list[str], list[list[Any]]]:
    names = list(rows[0])
    casts, arrays = [], []
    for name in names:
        column_type = table.c[name].type
        data = [row[name] for row in rows]
        if isinstance(column_type, JSON):
            data = [json.dumps(value) if value is not None else None for value in data]
        casts.append(f"CAST(%b AS {column_type.compile(dialect=postgresql.dialect())}[])")
        arrays.append(data)
    return names, casts, arrays


def _execute_binary(session: Session, sql: str, params: list[Any]) -> None:
    # Straight to psycopg with binary parameters: arrays of thousands of values (payloads
    # above all) are sent as they are instead of being escaped into text one by one.
    # Same connection, so the same transaction as everything else in the unit of work.
    driver = session.connection().connection.driver_connection
    with driver.cursor() as cursor:  # type: ignore[union-attr]
        cursor.execute(sql, params)


def insert_rows(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql" or len(rows) == 1:
        session.execute(table.insert(), rows)
        return
    names, casts, arrays = _pg_arrays(table, rows)
    _execute_binary(session, f"INSERT INTO {table.name} ({', '.join(names)}) "
                             f"SELECT * FROM unnest({', '.join(casts)})", arrays)


def update_rows_postgres(session: Session, table: Table, key: str, rows: list[dict[str, Any]]) -> None:
    names, casts, arrays = _pg_arrays(table, rows)
    assignments = ", ".join(f"{name} = changed.{name}" for name in names if name != key)
    _execute_binary(session, f"UPDATE {table.name} SET {assignments} FROM unnest({', '.join(casts)}) "
                             f"AS changed({', '.join(names)}) WHERE {table.name}.{key} = changed.{key}", arrays)
