"""Idempotency keys for POST requests, kept in the service's own database.

The first request with a key reserves it (`in_flight`) in a short transaction
of its own, so a concurrent duplicate sees the reservation at once and is told
409.  The use case then keeps a `KeyReceipt` in the *same* transaction as its
change: the receipt stores what the route's presenter makes of the use case's
result (status, body, headers), so a committed change always has its replayable
answer and a rolled-back one leaves none.  A request that fails unexpectedly
releases its key; one that ends in a client error stores that error for replay.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connect.clock import Clock, utc
from connect.db import Database
from connect.problems import Problem
from services.relationships.adapters import orm

_keys = orm.idempotency_keys

#: Keys are honoured at least this long (the contract says ≥ 24 h).
RETENTION = timedelta(hours=48)
#: A reservation older than this belongs to a request that died; the key may be used again.
ABANDONED_AFTER = timedelta(minutes=2)
MAX_KEY_LENGTH = 200


def request_hash(method: str, path: str, body: Any) -> str:
    canonical = json.dumps([method.upper(), path, body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Answer:
    """What a route answers: the first time, and stored for every replay."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def is_problem(self) -> bool:
        return self.headers.get("x-stored-problem") == "1"


class KeyReceipt:
    """The `connect.uow.Receipt` of one idempotency key: stores `present(result)` in the use
    case's transaction and keeps it, so the route answers with exactly what was stored."""

    def __init__(self, store: "IdempotencyStore", member_id: str, key: str, present: Callable[[Any], Answer]) -> None:
        self.store = store
        self.member_id = member_id
        self.key = key
        self.present = present
        self.answer: Answer | None = None

    def write(self, session: Session, result: Any) -> None:
        answer = self.present(result)
        self.store.complete(session, self.member_id, self.key, answer)
        self.answer = answer


class IdempotencyStore:
    def __init__(self, database: Database, clock: Clock) -> None:
        self.database = database
        self.clock = clock

    def reserve(self, member_id: str, key: str, fingerprint: str) -> Answer | None:
        """None: go ahead (the key is now ours).  An Answer: replay it.  Raises 409/422."""
        if not key or len(key) > MAX_KEY_LENGTH:
            raise Problem(400, f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters.",
                          type_="invalid-idempotency-key")
        for _attempt in range(3):
            now = self.clock.now()
            try:
                with self.database.session() as session, session.begin():
                    row = session.execute(select(_keys).where(_keys.c.member_id == member_id, _keys.c.key == key)
                                          .with_for_update()).first()
                    if row is None:
                        session.execute(_keys.insert().values(member_id=member_id, key=key, request_hash=fingerprint,
                                                              state="in_flight", created_at=now))
                        return None
                    age = now - utc(row.created_at)
                    if age > RETENTION or (row.state == "in_flight" and age > ABANDONED_AFTER):
                        session.execute(update(_keys).where(_keys.c.member_id == member_id, _keys.c.key == key)
                                        .values(request_hash=fingerprint, state="in_flight", created_at=now,
                                                response_status=None, response_body=None, response_headers=None))
                        return None
                    if row.request_hash != fingerprint:
                        raise Problem(422, "This Idempotency-Key was used with a different request; "
                                           "use a new key for a new request.", type_="idempotency-key-reused")
                    if row.state == "in_flight":
                        raise Problem(409, "A request with this Idempotency-Key is still being processed; "
                                           "retry shortly.", type_="idempotency-key-in-flight",
                                      headers={"Retry-After": "1"})
                    return Answer(row.response_status, row.response_body or {}, row.response_headers or {})
            except IntegrityError:
                continue  # a concurrent first request inserted the key; read it again
        raise Problem(409, "A request with this Idempotency-Key is still being processed; retry shortly.",
                      type_="idempotency-key-in-flight", headers={"Retry-After": "1"})

    def receipt(self, member_id: str, key: str, present: Callable[[Any], Answer]) -> KeyReceipt:
        return KeyReceipt(self, member_id, key, present)

    def complete(self, session: Session, member_id: str, key: str, answer: Answer) -> None:
        """Store the answer inside the caller's transaction."""
        session.execute(update(_keys).where(_keys.c.member_id == member_id, _keys.c.key == key)
                        .values(state="done", response_status=answer.status, response_body=answer.body,
                                response_headers=answer.headers))

    def complete_with_problem(self, member_id: str, key: str, problem: Problem) -> None:
        body = {"status": problem.status, "detail": problem.detail, "type": problem.type, "title": problem.title,
                "extensions": problem.extensions}
        with self.database.session() as session, session.begin():
            self.complete(session, member_id, key,
                          Answer(problem.status, body, {**(problem.headers or {}), "x-stored-problem": "1"}))

    def release(self, member_id: str, key: str) -> None:
        with self.database.session() as session, session.begin():
            session.execute(delete(_keys).where(_keys.c.member_id == member_id, _keys.c.key == key,
                                                _keys.c.state == "in_flight"))

    def purge(self) -> int:
        """Forget keys past their retention (run by the sweep)."""
        with self.database.session() as session, session.begin():
            result = session.execute(delete(_keys).where(_keys.c.created_at < self.clock.now() - RETENTION))
            return result.rowcount or 0
