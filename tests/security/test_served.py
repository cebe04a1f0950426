"""Hostile requests against a real `connect serve` (uvicorn + httptools): what only the server
layer shows. The process must answer each with a problem document and keep answering after.

On the code before issue 12 a forged search cursor made tantivy abort this whole process, so
this is the one place that request is sent for real: a subprocess, never the test process."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import subprocess
from typing import Iterator

import httpx
import pytest

from tests.system.test_serve_cli import CONNECT, serving

pytestmark = pytest.mark.timeout(180)


def _raw(base: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are (httpx refuses to send malformed headers) and parse the answer."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        try:
            sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before reading everything
        received = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, body


def _problem(status: int, headers: dict[str, str], body: bytes, expected: int) -> dict:
    assert status == expected, body[:300]
    assert headers["content-type"] == "application/problem+json"
    document = json.loads(body)
    assert document["status"] == expected and document["title"] and document["detail"]
    return document


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """One server for the module: each test ends by checking that it still answers."""
    with serving(tmp_path_factory.mktemp("served")) as (base, folder, env):
        yield base, _token(folder, env)


def _token(folder, env) -> dict[str, str]:  # type: ignore[no-untyped-def]
    token = subprocess.run([CONNECT, "token", "S1", "--name", "Seeker", "--email", "s@example.org"], cwd=folder,
                           env=env, capture_output=True, text=True, check=True).stdout.strip()
    return {"Authorization": f"Bearer {token}"}


def _answers(base: str, headers: dict[str, str]) -> None:
    assert httpx.get(f"{base}/v1/members/me", headers=headers, timeout=10).status_code == 200


def test_a_forged_search_cursor_leaves_the_server_answering(server):
    base, headers = server
    mentor = {"headline": "Claims lead", "expertise": ["claims"]}
    assert httpx.put(f"{base}/v1/members/me/mentor-profile", json=mentor, headers=headers).status_code == 200
    # The pre-issue-12 cursor format, fingerprint and all, with a vast count: what used to abort
    # the process (a text search for "claims" by member S1 has this fingerprint in that format;
    # text goes through the engine, where the count set how many hits it allocated room for).
    fingerprint = hashlib.sha256(json.dumps([["claims"], [], [], ["S1"]]).encode()).hexdigest()[:16]
    for number in (2 ** 40, 2 ** 70):
        forged = base64.urlsafe_b64encode(
            json.dumps({"f": fingerprint, "n": number, "a": [1.0, "M1"]}).encode()).decode().rstrip("=")
        response = httpx.post(f"{base}/v1/mentors/search", headers=headers, timeout=30,
                              json={"text": "claims", "page": {"cursor": forged}})
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == "application/problem+json"
    _answers(base, headers)


def test_a_header_with_control_characters_gets_a_problem_document(server):
    base, headers = server
    status, answer_headers, body = _raw(base, b"GET /v1/members/me HTTP/1.1\r\nHost: x\r\nX-Evil: a\x01b\r\n\r\n")
    _problem(status, answer_headers, body, 400)
    _answers(base, headers)


def test_oversized_headers_are_431_and_a_long_url_414(server):
    base, headers = server
    status, answer_headers, body = _raw(base, b"GET /v1/members/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                                        + b"a" * (8 * 1024 * 1024) + b"\r\n\r\n")
    _problem(status, answer_headers, body, 431)
    many = b"".join(b"X-Filler-%d: %s\r\n" % (n, b"v" * 900) for n in range(40))
    status, answer_headers, body = _raw(base, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    _problem(status, answer_headers, body, 431)
    status, answer_headers, body = _raw(base, b"GET /healthz?" + b"q" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    _problem(status, answer_headers, body, 414)
    _answers(base, headers)
    # Ordinary requests with a full set of ordinary headers still pass.
    assert httpx.get(f"{base}/healthz", headers={f"X-Ordinary-{n}": "v" * 100 for n in range(20)}).status_code == 200


def test_the_portal_answers_hostile_requests_with_pages(server):
    """`connect serve` serves the member portal at `/`: hostile paths, queries and forms there get
    an HTML page or a redirect, never a 5xx, and the server keeps answering."""
    base, headers = server
    for path in ("/relationships/a%00b", "/mentors/" + "R" * 65, "/help/%1b%5b31m", "/%00",
                 "/sign-in?next=%0d%0aLocation:%20https://evil.example/", "/search?text=%00&run=1"):
        response = httpx.get(base + path, timeout=30, follow_redirects=False)
        assert response.status_code in (302, 303, 404), (path, response.status_code, response.text[:300])
        if response.status_code in (302, 303):  # to sign-in; sign-in itself to the provider (Authlib: 302)
            location = response.headers["location"]
            assert "\r" not in location and "\n" not in location and "evil.example" not in location, location
        else:
            assert response.headers["content-type"].startswith("text/html"), path
    refused = httpx.post(f"{base}/support", data={"csrf_token": "x", "body": "a\x00b"}, timeout=30)
    assert refused.status_code == 403 and refused.headers["content-type"].startswith("text/html")
    _answers(base, headers)
