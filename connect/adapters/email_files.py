from __future__ import annotations

import hashlib
import os
import tempfile
from email.message import Message
from pathlib import Path

from connect.email import wire_bytes


class FileEmailSender:
    """Writes each email as an .eml file named after its Message-ID, atomically and exactly once:
    a message whose file exists already is not written again (a redelivery after a crash finds
    the first copy in place), and no reader ever sees a half-written file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path_for(self, message: Message) -> Path:
        message_id = message["Message-ID"] or ""
        digest = hashlib.sha256(message_id.encode()).hexdigest()[:32]
        return self.folder / f"{digest}.eml"

    def send(self, message: Message) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.path_for(message)
        if target.exists():
            return
        # Written aside under a name of its own, then linked into place: link() fails when the
        # target exists, so of two writers (or a retry) the first copy stays.
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(wire_bytes(message))
            try:
                os.link(tmp, target)
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)

    def check(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if not os.access(self.folder, os.W_OK):
            raise OSError(f"mail folder {self.folder} is not writable")
