"""The notifier's view of a member: enough to address an email, fed by member events."""

from __future__ import annotations

from dataclasses import dataclass

from connect.text import header_safe


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
        """The name as emails show it: one line (a line break or control character stored in a
        name becomes a space), or a stand-in when there is none."""
        return header_safe(self.name or "") or "a Connect member"
