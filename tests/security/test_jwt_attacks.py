"""The JWT attack list, through the HTTP API of the embedded shape (development issuer): every
forged, stale, misaddressed, malformed or oversized token is a 401 problem, never a 500 and never
a member (issue 12, findings 2, 3 and 5)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from connect.auth import DevIssuer
from connect.settings import AuthSettings
from tests.security.conftest import assert_problem


def _b64(data: Any) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims(settings: AuthSettings, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {"sub": "A1", "name": "Ada Lovelace", "email": "ada@example.org",
                            "iss": settings.jwt_issuer, "aud": settings.jwt_audience,
                            "iat": now, "nbf": now, "exp": now + 600}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def _attacks(issuer: DevIssuer, settings: AuthSettings) -> dict[str, str]:
    key, kid = issuer.private_key, issuer.kid

    def signed(header: dict[str, Any] | None = None, **overrides: Any) -> str:
        return jwt.encode(claims(settings, **overrides), key, algorithm="ES256",
                          headers={"kid": kid, **(header or {})})

    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    hs_head = _b64({"alg": "HS256", "typ": "JWT", "kid": kid}) + "." + _b64(claims(settings))
    hs_with_public_key = hs_head + "." + _b64(hmac.new(public_pem, hs_head.encode(), hashlib.sha256).digest())
    header, _payload, signature = signed().split(".")
    other_ec = ec.generate_private_key(ec.SECP256R1())
    other_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{_b64(claims(settings))}.",
        "HS256 keyed with the public key": hs_with_public_key,
        "RS256 header with the development kid": jwt.encode(claims(settings), other_rsa, algorithm="RS256",
                                                            headers={"kid": kid}),
        "ES256 from another key with the development kid": jwt.encode(claims(settings), other_ec,
                                                                      algorithm="ES256", headers={"kid": kid}),
        "unknown kid": signed({"kid": "not-the-kid"}),
        "missing kid": jwt.encode(claims(settings), key, algorithm="ES256"),
        "kid of the wrong type": _b64({"alg": "ES256", "kid": ["x"]}) + "." + _b64(claims(settings)) + ".c2ln",
        "expired": signed(exp=int(time.time()) - 5),
        "nbf in the future": signed(nbf=int(time.time()) + 3600),
        "tampered payload": f"{header}.{_b64(claims(settings, sub='SOMEONE-ELSE'))}.{signature}",
        "wrong iss": signed(iss="https://evil.example.org"),
        "wrong aud": signed(aud="someone-else"),
        "no sub": signed(sub=None),
        "no exp": signed(exp=None),
        "no nbf": signed(nbf=None),
        "no iss": signed(iss=None),
        "no aud": signed(aud=None),
        "sub not a string": signed(sub=1001),
        "empty sub": signed(sub=" "),
        "NUL in sub": signed(sub="A\x001"),
        "sub too long": signed(sub="9" * 65),
        "NUL in name": signed(name="Ada\x00Lovelace"),
        "line break in name": signed(name="Ada\r\nBcc: everyone@example.org"),
        "name too long": signed(name="A" * 201),
        "name not a string": signed(name={"first": "Ada"}),
        "NUL in email": signed(email="ada\x00@example.org"),
        "line break in email": signed(email="ada@example.org\r\nBcc: x@example.org"),
        "email without an address": signed(email="Ada Lovelace"),
        "email too long": signed(email="a" * 320 + "@example.org"),
        "oversized (100 KB, validly signed)": signed(padding="x" * 100_000),
        "header not JSON": "bm90LWpzb24." + _b64(claims(settings)) + ".c2ln",
        "header a JSON list": _b64([1, 2]) + "." + _b64(claims(settings)) + ".c2ln",
        "two parts": f"{header}.{_b64(claims(settings))}",
        "garbage": "a.b.c",
    }


def _names() -> list[str]:
    # The attack names, without needing a key at collection time.
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        return sorted(_attacks(DevIssuer(Path(folder), AuthSettings()), AuthSettings()))


@pytest.fixture
def attacks(container) -> dict[str, str]:
    assert container.dev_issuer is not None
    return _attacks(container.dev_issuer, container.settings.auth)


@pytest.mark.parametrize("attack", _names())
def test_every_attack_is_a_401_problem(client, attacks, attack):
    response = client.get("/v1/members/me", headers={"Authorization": f"Bearer {attacks[attack]}"})
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_the_control_a_valid_token_is_accepted(client, container, token_for):
    response = client.get("/v1/members/me", headers={"Authorization": f"Bearer {token_for('A1', name='Ada')}"})
    assert response.status_code == 200 and response.json()["member_id"] == "A1"


def test_a_huge_authorization_header_is_refused_without_verifying(client):
    response = client.get("/v1/members/me", headers={"Authorization": "Bearer " + "a" * 70_000})
    assert_problem(response, 401)


def test_each_development_key_has_its_own_kid_the_rfc_7638_thumbprint(tmp_path):
    one = DevIssuer(tmp_path / "one", AuthSettings())
    two = DevIssuer(tmp_path / "two", AuthSettings())
    assert one.kid != two.kid
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(one.private_key.public_key()))
    canonical = json.dumps({k: public[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"),
                           sort_keys=True).encode()
    assert one.kid == base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()
    assert jwt.get_unverified_header(one.mint("M1", "Ada", "ada@example.org"))["kid"] == one.kid


def test_a_key_made_by_an_earlier_version_keeps_working(tmp_path):
    """Upgrades keep data: the key file stays, only the kid is now derived from it."""
    folder = tmp_path / "dev-issuer"
    folder.mkdir()
    key = ec.generate_private_key(ec.SECP256R1())
    (folder / "private-key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    issuer = DevIssuer(folder, AuthSettings())
    from connect.auth import TokenVerifier

    token = issuer.mint("M1", "Ada", "ada@example.org")
    assert TokenVerifier(DevIssuer(folder, AuthSettings()), AuthSettings()).verify(token).id == "M1"
    assert jwt.decode(token, key.public_key(), algorithms=["ES256"], audience="connect")["sub"] == "M1"
