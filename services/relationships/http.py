"""What every room's routes share: the service lookup, answers, the typed headers and page
cursors of the relationships API, and idempotent POSTs.

Every POST honours `Idempotency-Key`: the route runs its use case with a receipt
for the key, and the receipt stores the route's own presenter's answer (status,
body, `Location`, `ETag`) in the use case's transaction.  The first response is
that stored answer, and a replay is it again, so the two are equal by
construction.  A client error (a domain error the use case raised) is stored for
replay too; anything else releases the key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Callable, Sequence, TypeVar

from fastapi import Header, Request, Response
from fastapi.responses import JSONResponse

from connect.auth import Member
from connect.clock import utc
from connect.cursors import CursorCodec, InvalidCursor, fingerprint
from connect.errors import DomainError
from connect.etags import IfMatch  # noqa: F401 - the rooms' routes take it from here
from connect.paging import PageCursor, PageLimit, link_next  # noqa: F401 - likewise
from connect.problems import Problem, problem_for
from connect.text import Line
from connect.uow import Receipt
from services.relationships.adapters.idempotency import Answer, request_hash
from services.relationships.proposals.domain import Status
from services.relationships.services import RelationshipsService

Result = TypeVar("Result")

#: An `Idempotency-Key` header: one line, at most 200 characters (the store's limit).
IdempotencyKey = Annotated[Line | None, Header(max_length=200)]


def relationships(request: Request) -> RelationshipsService:
    return request.app.state.container.service("relationships")


def open_after(request: Request, member_id: str, cursor: str | None, *, kind: str,
               query: str) -> tuple[datetime, str] | None:
    """Where a keyset listing continues, from a cursor `seal_after` made for this member and query."""
    if cursor is None:
        return None
    codec: CursorCodec = request.app.state.container.cursors
    values = codec.open(cursor, kind=kind, member_id=member_id, query=query, path="query.cursor")
    at, row_id = values.get("at"), values.get("id")
    try:
        if not isinstance(at, str) or not isinstance(row_id, str) or not 0 < len(row_id) <= 64:
            raise ValueError("not a keyset position")
        return utc(datetime.fromisoformat(at)), row_id
    except ValueError as exc:
        raise InvalidCursor("query.cursor", "cannot be read") from exc


def seal_after(request: Request, member_id: str, view: dict[str, Any], *, kind: str, query: str,
               response: Response | None = None) -> dict[str, Any]:
    """`view` with its `next_cursor` (a (time, id) position or None) sealed for this member and query;
    with `response`, the next page is named in its `Link` header too."""
    after: tuple[datetime, str] | None = view["next_cursor"]
    codec: CursorCodec = request.app.state.container.cursors
    sealed = None if after is None else codec.seal({"at": utc(after[0]).isoformat(), "id": after[1]}, kind=kind,
                                                   member_id=member_id, query=query)
    if response is not None:
        link_next(request, response, sealed)
    return {**view, "next_cursor": sealed}


def listing_query(role: str | None, statuses: Sequence[Status]) -> str:
    """What a page of "my relationships" belongs to: a cursor continues only the same filters."""
    return fingerprint(role, sorted(s.value for s in statuses))


def respond(answer: Answer) -> JSONResponse:
    return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)


def _replay(stored: Answer) -> JSONResponse:
    headers = {k: v for k, v in stored.headers.items() if k != "x-stored-problem"}
    if stored.is_problem:
        body = stored.body
        raise Problem(stored.status, body["detail"], type_=body.get("type"), title=body.get("title"),
                      headers={**headers, "Idempotent-Replayed": "true"}, **body.get("extensions", {}))
    return JSONResponse(stored.body, status_code=stored.status, headers={**headers, "Idempotent-Replayed": "true"})


def idempotent(request: Request, member: Member, key: str | None, body: Any,
               run: Callable[[Receipt | None], Result], present: Callable[[Result], Answer]) -> JSONResponse:
    """Run the use case (`run(receipt)`) once per key, answering with `present(result)`."""
    if key is None:
        return respond(present(run(None)))
    store = relationships(request).idempotency
    stored = store.reserve(member.id, key, request_hash(request.method, request.url.path, body))
    if stored is not None:
        return _replay(stored)
    receipt = store.receipt(member.id, key, present)
    try:
        run(receipt)
    except DomainError as error:
        store.complete_with_problem(member.id, key, problem_for(error))
        raise
    except BaseException:
        store.release(member.id, key)
        raise
    # The answer stored with the change; a use case that forgot its receipt would leave the key
    # reserved, and its answer made here again would differ from no stored one at all.
    if receipt.answer is None:
        raise RuntimeError("the use case did not keep its receipt; the idempotency key stays reserved")
    return respond(receipt.answer)
