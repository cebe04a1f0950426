"""A member's account in the relationships service: deleting it, erasing it, the
support requests that lead there, and the CPD record of their mentoring.

Plain Python: the rules decide, `account/services.py` loads, calls and stores.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from connect.errors import Conflict, Forbidden, Invalid, NotFound

MAX_SUPPORT_MESSAGE_CHARS = 5000
MAX_OUTCOME_CHARS = 5000
#: The reason every withdrawal, rejection and cancellation an account deletion makes gives.
ACCOUNT_DELETED_REASON = "Account deleted"


class AccountDeletedRefused(Forbidden):
    """A deleted member's token: refused from then on."""

    code = "account-deleted"

    def __init__(self) -> None:
        super().__init__("This account was deleted; it can no longer use Connect. Contact the customer "
                         "service team to restore it or to have your personal data erased.")


class AlreadyDeleted(Conflict):
    code = "account-deleted"

    def __init__(self) -> None:
        super().__init__("This account is already deleted.")


class SupportOnly(Forbidden):
    """Only the customer service team may do this."""

    code = "support-only"


class NoSuchSupportRequest(NotFound):
    def __init__(self, request_id: str) -> None:
        super().__init__(f"No support request {request_id} of yours.")


# --- support requests ------------------------------------------------------------------------


class SupportKind(StrEnum):
    ERASURE = "erasure"
    CONTACT_PARTNER = "contact_partner"
    OTHER = "other"


class SupportOutcome(StrEnum):
    APPROVED = "approved"  # erasure carried out
    DECLINED = "declined"
    DONE = "done"  # contact_partner / other handled


def check_support_request(kind: SupportKind, relationship_id: str | None, message: str) -> None:
    errors: dict[str, str] = {}
    if kind is SupportKind.CONTACT_PARTNER and not relationship_id:
        errors["relationship_id"] = "is required to contact a partner on your behalf"
    if len(message) > MAX_SUPPORT_MESSAGE_CHARS:
        errors["message"] = f"must be at most {MAX_SUPPORT_MESSAGE_CHARS} characters"
    if kind is not SupportKind.ERASURE and not message.strip():
        errors["message"] = "must say what you need"
    if errors:
        raise Invalid(errors)


def check_partner_message(kind: SupportKind, status: str, relationship_id: str | None, body: str) -> str:
    """The team may write to the partner only for an open contact_partner request."""
    if kind is not SupportKind.CONTACT_PARTNER or not relationship_id:
        raise Conflict("Only a contact_partner request lets the team write to the member's partner.",
                       code="not-a-contact-partner-request", request_kind=kind.value)
    if status != "open":
        raise Conflict("This support request is already resolved.", request_status=status)
    if not body.strip():
        raise Invalid({"body": "must say what you want to tell the partner"})
    if len(body) > MAX_SUPPORT_MESSAGE_CHARS:
        raise Invalid({"body": f"must be at most {MAX_SUPPORT_MESSAGE_CHARS} characters"})
    return body


def check_resolution(kind: SupportKind, status: str, outcome: SupportOutcome) -> None:
    if status != "open":
        raise Conflict("This support request is already resolved.", request_status=status)
    if outcome is SupportOutcome.APPROVED and kind is not SupportKind.ERASURE:
        raise Invalid({"outcome": "only an erasure request is approved; use done or declined"})
    if outcome is SupportOutcome.DONE and kind is SupportKind.ERASURE:
        raise Invalid({"outcome": "an erasure request is approved or declined"})


# --- CPD record ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CpdRow:
    """One line of a member's CPD record (the CSV columns, in order)."""

    activity: str  # meeting | relationship | goal
    relationship_id: str
    role: str
    counterpart: str
    date: str  # ISO date the activity happened or started
    minutes: int | None = None
    title: str = ""
    status: str = ""
    learning_outcomes: str = ""


CPD_COLUMNS = ("activity", "relationship_id", "role", "counterpart", "date", "minutes", "title", "status",
               "learning_outcomes")


def cpd_totals(rows: list[CpdRow]) -> dict[str, Any]:
    meetings = [r for r in rows if r.activity == "meeting"]
    return {"meetings_held": len(meetings), "meeting_minutes": sum(r.minutes or 0 for r in meetings),
            "relationships": len({r.relationship_id for r in rows if r.activity == "relationship"}),
            "goals": len([r for r in rows if r.activity == "goal"])}
