"""Thin HTTP layer of the relationships service."""

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["relationships"])
