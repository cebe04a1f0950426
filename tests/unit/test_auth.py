"""Token verification: what the identity provider signs is accepted, nothing else is."""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from connect.auth import (Authenticator, DevIssuer, InvalidToken, Member, MemberHook, RecentlyConfirmed, RemoteJwks,
                          TokenVerifier)
from connect.settings import AuthSettings

SETTINGS = AuthSettings(jwt_issuer="https://id.example.org", jwt_audience="connect")


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"sub": "12345", "name": "Ada Lovelace", "email": "ada@example.org", "iss": SETTINGS.jwt_issuer,
            "aud": SETTINGS.jwt_audience, "iat": now, "nbf": now, "exp": now + 600}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


class JwksServer:
    """A real HTTP server on loopback serving a JWKS, counting fetches."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.fetches = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                outer.fetches += 1
                body = json.dumps({"keys": outer.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def add(self, public_key: Any, kid: str, alg: str) -> None:
        algorithm = jwt.algorithms.RSAAlgorithm if alg == "RS256" else jwt.algorithms.ECAlgorithm
        jwk = json.loads(algorithm.to_jwk(public_key))
        jwk.update({"kid": kid, "alg": alg, "use": "sig"})
        self.keys.append(jwk)


@pytest.fixture(scope="module")
def jwks_server() -> Iterator[JwksServer]:
    server = JwksServer()
    server.thread.start()
    yield server
    server.server.shutdown()


@pytest.fixture
def jwks(jwks_server: JwksServer) -> JwksServer:
    jwks_server.keys = []
    jwks_server.fetches = 0
    return jwks_server


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def verifier_for(server: JwksServer, min_refetch: float = 60.0) -> TokenVerifier:
    return TokenVerifier(RemoteJwks(server.url, min_refetch), SETTINGS)


def test_rs256_and_es256_tokens_from_the_jwks_are_accepted(jwks, rsa_key, ec_key):
    jwks.add(rsa_key.public_key(), "rsa-1", "RS256")
    jwks.add(ec_key.public_key(), "ec-1", "ES256")
    verifier = verifier_for(jwks)
    rs = jwt.encode(claims(roles=["support"]), rsa_key, algorithm="RS256", headers={"kid": "rsa-1"})
    es = jwt.encode(claims(sub="999"), ec_key, algorithm="ES256", headers={"kid": "ec-1"})
    assert verifier.verify(rs).id == "12345"
    assert verifier.verify(rs).is_support
    assert verifier.verify(es).id == "999"
    assert jwks.fetches == 1  # cached after the first fetch


@pytest.mark.parametrize("missing", ["exp", "nbf", "iss", "aud", "sub"])
def test_required_claims_are_required(jwks, rsa_key, missing):
    jwks.add(rsa_key.public_key(), "k", "RS256")
    token = jwt.encode(claims(**{missing: None}), rsa_key, algorithm="RS256", headers={"kid": "k"})
    with pytest.raises(InvalidToken):
        verifier_for(jwks).verify(token)


@pytest.mark.parametrize("override", [
    {"iss": "https://evil.example.org"},
    {"aud": "someone-else"},
    {"exp": int(time.time()) - 10},
    {"nbf": int(time.time()) + 3600},
])
def test_wrong_issuer_audience_or_time_is_refused(jwks, rsa_key, override):
    jwks.add(rsa_key.public_key(), "k", "RS256")
    token = jwt.encode(claims(**override), rsa_key, algorithm="RS256", headers={"kid": "k"})
    with pytest.raises(InvalidToken):
        verifier_for(jwks).verify(token)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_alg_none_is_refused(jwks, rsa_key):
    jwks.add(rsa_key.public_key(), "k", "RS256")
    token = f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': 'k'})}.{_b64(claims())}."
    with pytest.raises(InvalidToken, match="not accepted"):
        verifier_for(jwks).verify(token)


def test_hs256_signed_with_the_public_key_is_refused(jwks, rsa_key):
    """The classic key-confusion attack: HMAC keyed with the published RSA key."""
    jwks.add(rsa_key.public_key(), "k", "RS256")
    secret = b"any-shared-secret-at-all-32-bytes!"
    token = jwt.encode(claims(), secret, algorithm="HS256", headers={"kid": "k"})
    with pytest.raises(InvalidToken, match="not accepted"):
        verifier_for(jwks).verify(token)


def test_tampered_payload_is_refused(jwks, rsa_key):
    jwks.add(rsa_key.public_key(), "k", "RS256")
    header, _payload, signature = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "k"}).split(".")
    forged = f"{header}.{_b64(claims(sub='someone-else'))}.{signature}"
    with pytest.raises(InvalidToken):
        verifier_for(jwks).verify(forged)


def test_unknown_kid_refetches_but_only_once_per_interval(jwks, rsa_key):
    jwks.add(rsa_key.public_key(), "old", "RS256")
    verifier = verifier_for(jwks, min_refetch=3600)
    assert verifier.verify(jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "old"}))
    forged = [jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": f"unknown-{i}"}) for i in range(5)]
    for token in forged:
        with pytest.raises(InvalidToken, match="unknown signing key"):
            verifier.verify(token)
    # The first fetch happened on first use; the unknown kids may not trigger more inside the interval.
    assert jwks.fetches == 1


def test_key_rotation_is_picked_up_by_a_refetch(jwks, rsa_key, ec_key):
    jwks.add(rsa_key.public_key(), "old", "RS256")
    verifier = verifier_for(jwks, min_refetch=0)
    assert verifier.verify(jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "old"}))
    jwks.add(ec_key.public_key(), "new", "ES256")
    assert verifier.verify(jwt.encode(claims(), ec_key, algorithm="ES256", headers={"kid": "new"})).id == "12345"
    assert jwks.fetches == 2


def test_dev_issuer_key_persists_under_var(tmp_path):
    first = DevIssuer(tmp_path / "dev-issuer", SETTINGS)
    token = first.mint("42", "Grace Hopper", "grace@example.org")
    second = DevIssuer(tmp_path / "dev-issuer", SETTINGS)  # a restarted server
    member = TokenVerifier(second, SETTINGS).verify(token)
    assert (member.id, member.name, member.email) == ("42", "Grace Hopper", "grace@example.org")


def test_dev_issuer_refuses_a_token_from_another_dev_issuer(tmp_path):
    other = DevIssuer(tmp_path / "other", SETTINGS).mint("42", "Mallory", "m@example.org")
    with pytest.raises(InvalidToken):
        TokenVerifier(DevIssuer(tmp_path / "mine", SETTINGS), SETTINGS).verify(other)


def test_a_remembered_token_is_refused_once_it_expires(jwks, ec_key, monkeypatch):
    jwks.add(ec_key.public_key(), "ec-1", "ES256")
    verifier = verifier_for(jwks)
    issued = int(time.time())
    token = jwt.encode(claims(iat=issued, nbf=issued, exp=issued + 600), ec_key, algorithm="ES256",
                       headers={"kid": "ec-1"})
    assert verifier.verify(token).id == "12345"
    assert verifier.verify(token).id == "12345"  # answered from memory
    monkeypatch.setattr("connect.auth.time.time", lambda: issued + 600)
    with pytest.raises(InvalidToken, match="expired"):
        verifier.verify(token)


def test_remembered_tokens_are_bounded(jwks, ec_key, monkeypatch):
    jwks.add(ec_key.public_key(), "ec-1", "ES256")
    verifier = verifier_for(jwks)
    monkeypatch.setattr(TokenVerifier, "CACHE_SIZE", 3)
    tokens = [jwt.encode(claims(sub=f"M{n}"), ec_key, algorithm="ES256", headers={"kid": "ec-1"}) for n in range(5)]
    assert [verifier.verify(t).id for t in tokens] == ["M0", "M1", "M2", "M3", "M4"]
    assert list(verifier._verified) == tokens[2:]  # the least recently used went first


def test_memory_vouches_only_for_a_verified_token_with_every_hook_settled(jwks, ec_key):
    jwks.add(ec_key.public_key(), "ec-1", "ES256")
    authenticator = Authenticator(verifier_for(jwks))
    checked: list[str] = []
    settled = {"directory": True, "standing": True}
    authenticator.on_seen = [MemberHook(lambda m: checked.append("standing"), lambda m: settled["standing"]),
                             MemberHook(lambda m: checked.append("directory"), lambda m: settled["directory"])]
    header = "Bearer " + jwt.encode(claims(), ec_key, algorithm="ES256", headers={"kid": "ec-1"})

    assert authenticator.recall(header) is None  # never verified: only `authenticate` may decide
    assert authenticator.authenticate(header).id == "12345"
    assert checked == ["standing", "directory"]
    assert authenticator.recall(header) == Member("12345", "Ada Lovelace", "ada@example.org")
    settled["directory"] = False
    assert authenticator.recall(header) is None
    assert authenticator.recall(header.replace("Bearer", "Basic")) is None
    assert authenticator.recall(None) is None
    assert checked == ["standing", "directory"]  # recall never runs a hook's check


def test_a_recent_confirmation_lapses_and_the_memory_is_bounded(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr("connect.auth.time.monotonic", lambda: now[0])
    confirmed = RecentlyConfirmed(seconds=1.0, limit=2)
    confirmed.add("M1")
    assert "M1" in confirmed and "M2" not in confirmed
    now[0] += 0.99
    assert "M1" in confirmed
    now[0] += 0.02
    assert "M1" not in confirmed  # another process's change shows within `seconds`
    confirmed.add("M1")
    confirmed.discard("M1")
    assert "M1" not in confirmed  # this process's own change shows at once
    for member_id in ("M1", "M2", "M3"):
        confirmed.add(member_id)
    assert "M3" in confirmed and "M1" not in confirmed  # past the limit it started again
