"""What every room's routes share: the service lookup, answers, and idempotent POSTs.

Every POST honours `Idempotency-Key`: the route runs its use case with a receipt
for the key, and the receipt stores the route's own presenter's answer (status,
body, `Location`, `ETag`) in the use case's transaction.  The first response is
that stored answer, and a replay is it again, so the two are equal by
construction.  A client error (a domain error the use case raised) is stored for
replay too; anything else releases the key.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse

from connect.auth import Member
from connect.errors import DomainError
from connect.problems import Problem, problem_for
from connect.uow import Receipt
from services.relationships.adapters.idempotency import Answer, request_hash
from services.relationships.services import RelationshipsService

Result = TypeVar("Result")


def relationships(request: Request) -> RelationshipsService:
    return request.app.state.container.service("relationships")


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
