"""The development OpenID provider: the authorization-code flow with PKCE, and what it refuses."""

from __future__ import annotations

import re
import secrets
from html import unescape
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from connect.dev_oidc import CLIENT_ID, s256

REDIRECT = "http://127.0.0.1:8000/auth/callback"


def _authorize_params(verifier: str, **changes: str) -> dict[str, str]:
    params = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT, "scope": "openid profile",
              "state": "s1", "nonce": "n1", "code_challenge": s256(verifier), "code_challenge_method": "S256"}
    params.update(changes)
    return {k: v for k, v in params.items() if v}


def _code(client, verifier: str, member_id: str = "DEMO1") -> str:
    answer = client.post("/dev-oidc/authorize", data={**_authorize_params(verifier), "member_id": member_id,
                                                      "name": "Ada Lovelace", "email": "ada@example.org"},
                         follow_redirects=False)
    assert answer.status_code == 303, answer.text
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == ["s1"]
    return query["code"][0]


def _redeem(client, code: str, verifier: str, **changes: str):
    form = {"grant_type": "authorization_code", "code": code, "client_id": CLIENT_ID, "redirect_uri": REDIRECT,
            "code_verifier": verifier, **changes}
    return client.post("/dev-oidc/token", data=form)


def test_discovery_names_the_endpoints(client):
    meta = client.get("/dev-oidc/.well-known/openid-configuration").json()
    assert meta["issuer"] == "http://127.0.0.1:8000/dev-oidc"
    assert meta["authorization_endpoint"] == meta["issuer"] + "/authorize"
    assert meta["code_challenge_methods_supported"] == ["S256"]
    # Server-to-server endpoints follow the address the client asked at (an internal one in compose).
    assert meta["token_endpoint"] == "http://testserver/dev-oidc/token"
    assert client.get("/dev-oidc/jwks").json()["keys"][0]["alg"] == "ES256"


def test_code_with_pkce_gives_tokens_the_api_accepts(client):
    verifier = secrets.token_urlsafe(40)
    tokens = _redeem(client, _code(client, verifier), verifier)
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    me = client.get("/v1/members/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.json()["name"] == "Ada Lovelace"
    key = jwt.PyJWKSet.from_dict(client.get("/dev-oidc/jwks").json()).keys[0].key
    claims = jwt.decode(body["id_token"], key, algorithms=["ES256"], audience=CLIENT_ID,
                        issuer="http://127.0.0.1:8000/dev-oidc")
    assert claims["sub"] == "DEMO1" and claims["nonce"] == "n1"


def test_codes_and_id_tokens_are_not_api_tokens(client):
    """All three are signed with the development key (same kid): only the access token names the
    API's issuer and audience."""
    verifier = secrets.token_urlsafe(40)
    code = _code(client, verifier)
    id_token = _redeem(client, code, verifier).json()["id_token"]
    for token in (code, id_token):
        answer = client.get("/v1/members/me", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401, answer.text


@pytest.mark.parametrize("details", [{"name": "Ada\x00Lovelace"}, {"name": "Ada \x1b[31mLovelace"},
                                     {"email": "not-an-address"}, {"email": "ada@example.org\r\nBcc: x@example.org"}])
def test_details_the_api_would_refuse_are_refused_on_the_page(client, details):
    """A token whose claims the API refuses would sign the member in to a portal that cannot serve them."""
    verifier = secrets.token_urlsafe(40)
    form = {**_authorize_params(verifier), "member_id": "DEMO2", "name": "Ada Lovelace", "email": "ada@example.org",
            **details}
    answer = client.post("/dev-oidc/authorize", data=form, follow_redirects=False)
    assert answer.status_code == 400 and "location" not in answer.headers
    assert "Connect would refuse these details" in unescape(answer.text)


def test_a_wrong_verifier_is_refused(client):
    verifier = secrets.token_urlsafe(40)
    answer = _redeem(client, _code(client, verifier), secrets.token_urlsafe(40))
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def test_a_code_is_redeemed_once(client):
    verifier = secrets.token_urlsafe(40)
    code = _code(client, verifier)
    assert _redeem(client, code, verifier).status_code == 200
    again = _redeem(client, code, verifier)
    assert again.status_code == 400 and "used already" in again.json()["error_description"]


def test_a_code_is_bound_to_its_redirect_uri(client):
    verifier = secrets.token_urlsafe(40)
    answer = _redeem(client, _code(client, verifier), verifier, redirect_uri="http://127.0.0.1:8000/elsewhere")
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("change", [{"redirect_uri": "https://evil.example/cb"}, {"client_id": "other"},
                                    {"code_challenge_method": ""}, {"code_challenge": ""}, {"scope": "profile"},
                                    {"response_type": "token"}])
def test_the_authorize_page_refuses_bad_requests_without_redirecting(client, change):
    verifier = secrets.token_urlsafe(40)
    page = client.get("/dev-oidc/authorize", params=_authorize_params(verifier, **change), follow_redirects=False)
    assert page.status_code == 400 and "Sign in as" not in page.text
    posted = client.post("/dev-oidc/authorize", data={**_authorize_params(verifier, **change), "member_id": "X1"},
                         follow_redirects=False)
    assert posted.status_code == 400 and "location" not in posted.headers


def test_the_page_lists_demo_members_and_customer_service(client, container, deliver):
    from services.matching.domain.profiles import MenteeProfile, MentorProfile

    container.service("matching").import_members([
        ("B1", "Both Kinds", "b1@example.org", MentorProfile(headline="h", expertise=["claims"]),
         MenteeProfile(goals="g")),
        ("M1", "Only Mentor", "m1@example.org", MentorProfile(headline="h", expertise=["claims"]), None)])
    page = client.get("/dev-oidc/authorize", params=_authorize_params("v" * 43)).text
    assert "not the membership identity provider" in page
    listed = [unescape(name) for name in re.findall(r"Sign in as ([^<]+)</button>", page)]
    assert listed == ["Both Kinds", "Only Mentor", "Customer Service (demo)"]
    assert "B1 · mentor and mentee" in page
    verifier = secrets.token_urlsafe(40)
    answer = client.post("/dev-oidc/authorize", data={**_authorize_params(verifier), "member_id": "CS000001"},
                         follow_redirects=False)
    code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    token = _redeem(client, code, verifier).json()["access_token"]
    me = client.get("/v1/members/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["roles"] == ["support"]


def test_no_provider_where_an_identity_provider_is_configured(make_container):
    from fastapi.testclient import TestClient

    from connect.web import create_app

    container = make_container(jwks_url="https://idp.example.org/jwks")
    with TestClient(create_app(container)) as api:
        assert api.get("/dev-oidc/.well-known/openid-configuration").status_code == 404
