from __future__ import annotations

import hashlib
import os
from email.message import Message
from pathlib import Path

from connect.email import wire_bytes


class FileEmailSender:
    """Writes each email as an .eml file named after its Message-ID, atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path_for(self, message: Message) -> Path:
        message_id = message["Message-ID"] or ""
        digest = hashlib.sha256(message_id.encode()).hexdigest()[:32]
        return self.folder / f"{digest}.eml"

    def send(self, message: Message) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.path_for(message)
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(wire_bytes(message))
        os.replace(tmp, target)

    def check(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if not os.access(self.folder, os.W_OK):
            raise OSError(f"mail folder {self.folder} is not writable")
