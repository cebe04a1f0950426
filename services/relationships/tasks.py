"""What the relationships service runs outside a request.

* `relationships-members` (role projector): `MemberProjector` keeps the member
  projection in step with matching's member and profile events.
* the periodic job "relationships.sweep" (`RelationshipsService.sweep`), run by the
  ThreadScheduler in `connect serve` or by Celery beat + workers through the
  platform's `connect.periodic` task.
"""

from __future__ import annotations

from connect.events import Record, UnknownTypes, decode_event
from services.relationships.members.services import MemberDirectory


class MemberProjector:
    """Consumer of connect.members.v1 and connect.profiles.v1: types this service does not
    read are skipped (the contract lets consumers pass over what they do not know)."""

    def __init__(self, directory: MemberDirectory) -> None:
        self.directory = directory

    def __call__(self, record: Record) -> None:
        decoded = decode_event(record.value, UnknownTypes.SKIP)
        if decoded is not None and decoded.event is not None:
            self.directory.project(decoded.event)
