"""The relationships service's HTTP surface: its rooms' routers, in one."""

from __future__ import annotations

from fastapi import APIRouter

from services.relationships.account import api as account_api
from services.relationships.proposals import api as proposals_api
from services.relationships.workspace import api as workspace_api

router = APIRouter()
for room in (proposals_api, workspace_api, account_api):
    router.include_router(room.router)
