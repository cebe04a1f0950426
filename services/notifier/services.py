"""Notifier use cases: who must hear about an event, and sending it once."""

from __future__ import annotations

from connect.clock import Clock
from connect.db import Database
from connect.email import EmailSender


class NotifierService:
    def __init__(self, database: Database, clock: Clock, email: EmailSender) -> None:
        self.database = database
        self.clock = clock
        self.email = email
