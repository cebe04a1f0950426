"""Identity: bearer JWTs from the membership identity provider.

Production trusts the keys at `CONNECT_JWKS_URL` (RS256/ES256 only) and checks
`iss`, `aud`, `exp` and `nbf`.  The embedded default runs a development issuer
whose ES256 key lives under var/, so `connect token` can mint tokens that the
local server accepts through exactly the same verification path.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from connect.problems import Problem
from connect.settings import AuthSettings
from connect.text import check_line

log = logging.getLogger(__name__)

ALLOWED_ALGORITHMS = ["RS256", "ES256"]
REQUIRED_CLAIMS = ["sub", "iss", "aud", "exp", "nbf"]
#: A token's size limit: an identity provider's tokens are a kilobyte or two. Refused unread above.
MAX_TOKEN_BYTES = 8192
# The longest of each identity claim that every service's tables keep.
MAX_ID_CHARS, MAX_NAME_CHARS, MAX_EMAIL_CHARS = 64, 200, 320
_ADDRESS = re.compile(r"[^@\s<>()\[\]\\,;:\"]+@[^@\s<>()\[\]\\,;:\"]+\.[^@\s<>()\[\]\\,;:\"]+")


@dataclass(frozen=True)
class Member:
    """The caller, as the identity provider describes them."""

    id: str
    name: str
    email: str
    roles: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_support(self) -> bool:
        return "support" in self.roles


class KeySource(Protocol):
    def key_for(self, kid: str | None) -> Any: ...


class InvalidToken(Exception):
    pass


class DevIssuer:
    """The embedded shape's own issuer: an ES256 key pair kept under var/dev-issuer."""

    def __init__(self, folder: Path, settings: AuthSettings) -> None:
        self.folder = folder
        self.settings = settings
        self._key: ec.EllipticCurvePrivateKey | None = None

    @property
    def private_key(self) -> ec.EllipticCurvePrivateKey:
        if self._key is None:
            path = self.folder / "private-key.pem"
            if path.exists():
                self._key = serialization.load_pem_private_key(path.read_bytes(), password=None)  # type: ignore[assignment]
            else:
                self.folder.mkdir(parents=True, exist_ok=True)
                key = ec.generate_private_key(ec.SECP256R1())
                pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
                tmp = path.with_suffix(".tmp")
                tmp.write_bytes(pem)
                tmp.chmod(0o600)
                tmp.replace(path)
                self._key = key
        return self._key  # type: ignore[return-value]

    @property
    def kid(self) -> str:
        """The key's RFC 7638 thumbprint: its own on every install, derived from the key file alone
        (a key made by an earlier version keeps working under its new kid)."""
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.private_key.public_key()))
        canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True)
        return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()

    def key_for(self, kid: str | None) -> Any:
        if kid != self.kid:
            raise InvalidToken("unknown signing key")
        return self.private_key.public_key()

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.private_key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "ES256"})
        return {"keys": [jwk]}

    def mint(self, member_id: str, name: str, email: str, roles: list[str] | None = None,
             ttl_seconds: int | None = None, now: float | None = None) -> str:
        issued = int(now if now is not None else time.time())
        claims: dict[str, Any] = {
            "sub": member_id, "name": name, "email": email,
            "iss": self.settings.jwt_issuer, "aud": self.settings.jwt_audience,
            "iat": issued, "nbf": issued,
            "exp": issued + (ttl_seconds or self.settings.dev_token_ttl_seconds),
            "jti": str(uuid.uuid4()),
        }
        if roles:
            claims["roles"] = roles
        return jwt.encode(claims, self.private_key, algorithm="ES256", headers={"kid": self.kid})


class RemoteJwks:
    """Keys from the identity provider's JWKS, cached; an unknown `kid` triggers a
    refetch at most once per `jwks_refetch_min_seconds` so that a flood of forged
    tokens cannot turn us into a load generator against the provider."""

    def __init__(self, url: str, min_refetch_seconds: float, timeout: float = 5.0) -> None:
        self.url = url
        self.min_refetch_seconds = min_refetch_seconds
        self.timeout = timeout
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def _fetch(self) -> None:
        response = httpx.get(self.url, timeout=self.timeout)
        response.raise_for_status()
        keys: dict[str, Any] = {}
        for jwk in response.json().get("keys", []):
            try:
                parsed = jwt.PyJWK(jwk)
            except jwt.PyJWKError:
                log.warning("ignoring unusable key %s in JWKS", jwk.get("kid"))
                continue
            if parsed.key_id:
                keys[parsed.key_id] = parsed.key
        self._keys = keys
        self._fetched_at = time.monotonic()

    def key_for(self, kid: str | None) -> Any:
        if not kid:
            raise InvalidToken("token has no kid")
        if not isinstance(kid, str) or len(kid) > 256:
            raise InvalidToken("unknown signing key")
        with self._lock:
            if kid not in self._keys:
                due = self._fetched_at is None or time.monotonic() - self._fetched_at >= self.min_refetch_seconds
                if due:
                    try:
                        self._fetch()
                    except (httpx.HTTPError, ValueError) as exc:  # unreachable, or not a JWKS
                        log.error("JWKS fetch from %s failed: %s", self.url, exc)
                        raise InvalidToken("signing keys are unavailable") from exc
            key = self._keys.get(kid)
        if key is None:
            raise InvalidToken("unknown signing key")
        return key


class TokenVerifier:
    """Checks signature and claims once per token, then remembers the result until the
    token's `exp` (an ES256 check costs ~0.2 ms, a noticeable share of a search request).
    The memory is a bounded LRU keyed by the token string, so a stream of distinct
    tokens only evicts, never grows it."""

    CACHE_SIZE = 4096

    def __init__(self, keys: KeySource, settings: AuthSettings) -> None:
        self.keys = keys
        self.settings = settings
        self._verified: OrderedDict[str, tuple[Member, float]] = OrderedDict()
        self._verified_lock = threading.Lock()

    def recall(self, token: str) -> Member | None:
        """The member of a token verified before and not expired yet; None otherwise."""
        with self._verified_lock:
            known = self._verified.get(token)
            if known is None or time.time() >= known[1]:
                return None
            self._verified.move_to_end(token)
            return known[0]

    def verify(self, token: str) -> Member:
        if len(token) > MAX_TOKEN_BYTES:
            raise InvalidToken(f"token is larger than {MAX_TOKEN_BYTES} bytes")
        with self._verified_lock:
            known = self._verified.get(token)
            if known is not None:
                member, expires = known
                if time.time() < expires:
                    self._verified.move_to_end(token)
                    return member
                del self._verified[token]
        if known is not None:
            raise InvalidToken("token has expired")
        member, expires = self._verify_claims(token)
        with self._verified_lock:
            self._verified[token] = (member, expires)
            if len(self._verified) > self.CACHE_SIZE:
                self._verified.popitem(last=False)
        return member

    def _verify_claims(self, token: str) -> tuple[Member, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("malformed token") from exc
        if header.get("alg") not in ALLOWED_ALGORITHMS:
            raise InvalidToken(f"signing algorithm {header.get('alg')!r} is not accepted")
        key = self.keys.key_for(header.get("kid"))
        try:
            claims = jwt.decode(
                token, key, algorithms=ALLOWED_ALGORITHMS,
                audience=self.settings.jwt_audience, issuer=self.settings.jwt_issuer,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("token has expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise InvalidToken("token is not valid yet") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        except Exception as exc:  # noqa: BLE001 - e.g. TypeError for a header naming another key type
            raise InvalidToken("the signature does not verify") from exc
        return member_from_claims(claims), float(claims["exp"])


def _claim(claims: dict[str, Any], name: str, limit: int, *, required: bool = False) -> str | None:
    value = claims.get(name)
    if value in (None, "") and not required:
        return None  # absent (service credentials carry no email)
    if not isinstance(value, str) or not value.strip():
        raise InvalidToken(f"the {name} claim must be a non-empty string")
    if len(value) > limit:
        raise InvalidToken(f"the {name} claim is longer than {limit} characters")
    try:
        check_line(value)
    except ValueError as exc:
        raise InvalidToken(f"the {name} claim {exc}") from None
    return value


def member_from_claims(claims: dict[str, Any]) -> Member:
    """The member a verified token names. Claims every store and every email header can carry,
    or InvalidToken: a NUL in a name would fail each of the member's requests on PostgreSQL, and
    a line break in it their emails."""
    sub = _claim(claims, "sub", MAX_ID_CHARS, required=True)
    name = _claim(claims, "name", MAX_NAME_CHARS)
    email = _claim(claims, "email", MAX_EMAIL_CHARS)
    if email is not None and not _ADDRESS.fullmatch(email):
        raise InvalidToken("the email claim is not an email address")
    roles = claims.get("roles") or []
    return Member(
        id=sub or "",
        name=name or sub or "",
        email=email or "",
        roles=frozenset(r for r in roles if isinstance(r, str)) if isinstance(roles, list) else frozenset(),
    )


@dataclass(frozen=True)
class MemberHook:
    """A service's say on every authenticated caller.

    `check` may read or write the service's database and raises a Problem to refuse the caller;
    `settled` answers from memory alone whether `check` has nothing to do for them right now."""

    check: Callable[[Member], None]
    settled: Callable[[Member], bool]


class RecentlyConfirmed:
    """Members a service found in good standing in its database a moment ago.

    Within `seconds` of a confirmation the next requests need not ask the database again, so a
    change made by another process (an account deleted there) shows here within that time; this
    process forgets a member at once when it learns of the change itself. Bounded: past `limit`
    entries the memory starts again empty rather than growing with the membership."""

    def __init__(self, seconds: float = 1.0, limit: int = 50_000) -> None:
        self.seconds = seconds
        self.limit = limit
        self._at: dict[str, float] = {}

    def add(self, member_id: str) -> None:
        if len(self._at) >= self.limit:
            self._at = {}
        self._at[member_id] = time.monotonic()

    def discard(self, member_id: str) -> None:
        self._at.pop(member_id, None)

    def __contains__(self, member_id: object) -> bool:
        at = self._at.get(member_id)  # type: ignore[call-overload]
        return at is not None and time.monotonic() - at < self.seconds


class Authenticator:
    """Verifies the bearer token, then lets the services refresh their member
    directory and refuse members they know to be gone."""

    def __init__(self, verifier: TokenVerifier) -> None:
        self.verifier = verifier
        self.on_seen: list[MemberHook] = []

    def authenticate(self, authorization: str | None) -> Member:
        challenge = {"WWW-Authenticate": 'Bearer realm="connect"'}
        if not authorization:
            raise Problem(401, "An Authorization: Bearer token is required.", type_="unauthenticated",
                          headers=challenge)
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Problem(401, "The Authorization header must be 'Bearer <token>'.", type_="unauthenticated",
                          headers=challenge)
        try:
            member = self.verifier.verify(token.strip())
        except InvalidToken as exc:
            raise Problem(401, f"The token was refused: {exc}.", type_="invalid-token",
                          headers={"WWW-Authenticate": 'Bearer realm="connect", error="invalid_token"'}) from exc
        for hook in self.on_seen:
            hook.check(member)
        return member

    def recall(self, authorization: str | None) -> Member | None:
        """The caller, when memory alone vouches for them: a token verified before and every hook
        settled. None means `authenticate` must decide, which may read databases or fetch keys."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        member = self.verifier.recall(token.strip())
        if member is None or not all(hook.settled(member) for hook in self.on_seen):
            return None
        return member


async def current_member(request: Request) -> Member:
    """FastAPI dependency for every /v1 route.

    Async on purpose: a caller memory vouches for (nearly every request) costs no hop through the
    thread pool; any other is checked there, since that may wait on a database or the key server."""
    member = getattr(request.state, "member", None)
    if member is None:
        authenticator: Authenticator = request.app.state.container.authenticator
        authorization = request.headers.get("authorization")
        member = authenticator.recall(authorization)
        if member is None:
            member = await run_in_threadpool(authenticator.authenticate, authorization)
        request.state.member = member
    return member
