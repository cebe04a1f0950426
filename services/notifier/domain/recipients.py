"""The notifier's view of a member: enough to address an email, fed by member events."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Recipient:
    member_id: str
    name: str | None
    email: str | None
    active: bool = True
    erased: bool = False

    @property
    def reachable(self) -> bool:
        """An erased or deleted member gets nothing; a member without an address cannot."""
        return self.active and not self.erased and bool(self.email)

    @property
    def display_name(self) -> str:
        return self.name or "a Connect member"
