"""Page cursors: opaque, tamper-proof, and bound to who asked for what.

Every `next_cursor` the API hands out is sealed here: its values (JSON) and an HMAC-SHA256 over
them, the kind of listing, the member who got it and a fingerprint of the query it continues,
keyed with the server's cursor key.  A cursor that was altered, made up, issued to someone else,
for another query or under another key does not open: `InvalidCursor`, which the API answers
with a 400 problem naming the field.  Whoever opens a cursor still validates its values (types
and bounds): a leaked key must not let anyone past a limit either.

The key is `CONNECT_CURSOR_SECRET` when set (every API process of a deployment must share it);
otherwise a random key kept in `<var>/cursor-key`, made once with mode 0600, so the API
processes of `connect serve --workers N` (or containers sharing the var volume) agree.  Changing
the key only invalidates the cursors in flight: a client starts its listing again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from connect.clock import utc

#: Longer than any cursor Connect issues; anything longer is refused unread.
MAX_CURSOR_CHARS = 1024


class InvalidCursor(Exception):
    """A cursor that does not open; `path` is the request field it came in (e.g. `query.cursor`)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__("%s: %s" % (path, reason))
        self.path = path
        self.reason = reason


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def fingerprint(*parts: Any) -> str:
    """A short, stable digest of a query's parameters, to bind a cursor to them."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


class CursorCodec:
    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("a cursor key needs at least 16 bytes")
        self._key = key

    def _tag(self, body: str, kind: str, member_id: str, query: str) -> bytes:
        message = "\x1f".join((kind, member_id, query, body)).encode("utf-8", "surrogatepass")
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def seal(self, values: dict[str, Any], *, kind: str, member_id: str, query: str = "") -> str:
        body = _b64encode(json.dumps(values, separators=(",", ":")).encode())
        return "%s.%s" % (body, _b64encode(self._tag(body, kind, member_id, query)))

    def open(self, cursor: str, *, kind: str, member_id: str, query: str = "", path: str) -> dict[str, Any]:
        """The values sealed in `cursor`, if this server sealed them for this member and query."""
        if len(cursor) > MAX_CURSOR_CHARS:
            raise InvalidCursor(path, "is longer than any cursor Connect issues")
        body, _, tag = cursor.partition(".")
        try:
            given = _b64decode(tag)
        except (binascii.Error, ValueError):
            given = b""
        if not hmac.compare_digest(given, self._tag(body, kind, member_id, query)):
            raise InvalidCursor(path, "is not a cursor Connect issued to you for this listing "
                                      "(start the listing again without a cursor)")
        try:
            values = json.loads(_b64decode(body))
        except (binascii.Error, ValueError) as exc:  # only reachable with the key: still refuse
            raise InvalidCursor(path, "cannot be read") from exc
        if not isinstance(values, dict):
            raise InvalidCursor(path, "cannot be read")
        return values


def cursor_key(secret: str | None, var_dir: Path) -> bytes:
    """The configured secret, or the key kept under `var_dir` (made on first use)."""
    if secret:
        return hashlib.sha256(secret.encode()).digest()
    path = var_dir / "cursor-key"
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    var_dir.mkdir(parents=True, exist_ok=True)
    # Written aside, then linked into place: of processes starting together exactly one key
    # wins, and none ever reads a half-written file.
    fd, tmp = tempfile.mkstemp(dir=var_dir, prefix=".cursor-key-")  # mode 0600
    try:
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)
    return bytes.fromhex(path.read_text().strip())


def seal_position(codec: CursorCodec, position: tuple[datetime, str] | None, *, kind: str, member_id: str,
                  query: str) -> str | None:
    """The cursor of a keyset listing ordered by (time, id): None at the end."""
    if position is None:
        return None
    return codec.seal({"at": position[0].isoformat(), "id": position[1]}, kind=kind, member_id=member_id, query=query)


def open_position(codec: CursorCodec, cursor: str | None, *, kind: str, member_id: str, query: str,
                  path: str = "query.cursor") -> tuple[datetime, str] | None:
    """Where a keyset listing continues, from a cursor `seal_position` made for this member and query."""
    if cursor is None:
        return None
    values = codec.open(cursor, kind=kind, member_id=member_id, query=query, path=path)
    at, row_id = values.get("at"), values.get("id")
    try:
        if not isinstance(at, str) or not isinstance(row_id, str) or not 0 < len(row_id) <= 64:
            raise ValueError("not a keyset position")
        moment = datetime.fromisoformat(at)
    except ValueError as exc:
        raise InvalidCursor(path, "cannot be read") from exc
    return utc(moment), row_id
