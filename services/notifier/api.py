"""The notifier has no public HTTP surface yet; the router keeps the shape uniform."""

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["notifications"])
