"""Thin HTTP layer of the matching service."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from connect.auth import Member, current_member

router = APIRouter(prefix="/v1", tags=["members"])


class MeOut(BaseModel):
    member_id: str
    name: str
    email: str
    roles: list[str]


@router.get("/members/me", response_model=MeOut, summary="Who the token says I am")
def read_me(member: Member = Depends(current_member)) -> MeOut:
    return MeOut(member_id=member.id, name=member.name, email=member.email, roles=sorted(member.roles))


def service(request: Request):  # type: ignore[no-untyped-def]
    return request.app.state.container.service("matching")
