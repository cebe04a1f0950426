"""The README's main job: `connect serve` on an empty folder, driven as a person would."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

CONNECT = str(Path(sys.executable).with_name("connect"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serving(folder: Path) -> Iterator[tuple[str, Path, dict[str, str]]]:
    """`connect serve` in `folder` as a person runs it: (base URL, folder, environment)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECT_")}
    proc = subprocess.Popen([CONNECT, "serve", "--port", str(port)], cwd=folder, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            if proc.poll() is not None:
                pytest.fail("connect serve exited: " + proc.stdout.read().decode(errors="replace"))
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("connect serve did not answer /healthz within 60 s")
    yield base, folder, env
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode in (0, -signal.SIGTERM), proc.stdout.read().decode(errors="replace")


@pytest.fixture
def served(tmp_path):
    with serving(tmp_path) as running:
        yield running


def test_serve_on_an_empty_folder_answers_and_accepts_cli_tokens(served):
    base, folder, env = served
    assert httpx.get(f"{base}/readyz").json()["status"] == "ok"
    assert httpx.get(f"{base}/v1/members/me").status_code == 401
    token = subprocess.run([CONNECT, "token", "1001", "--name", "Ada Lovelace", "--email", "ada@example.org"],
                           cwd=folder, env=env, capture_output=True, text=True, check=True).stdout.strip()
    me = httpx.get(f"{base}/v1/members/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["name"] == "Ada Lovelace"
    assert (folder / "var" / "matching.db").exists()


def test_serve_answers_members_at_the_root_with_the_portal(served):
    base, _folder, _env = served
    home = httpx.get(f"{base}/")
    assert home.status_code == 200 and "Sign in with your membership details" in home.text
    assert "text/css" in httpx.get(f"{base}/static/portal.css").headers["content-type"]
    # The development sign-in sends members back to this server's own address.
    issuer = httpx.get(f"{base}/dev-oidc/.well-known/openid-configuration").json()["issuer"]
    assert issuer == f"{base}/dev-oidc"
    signing_in = httpx.get(f"{base}/sign-in")
    assert signing_in.status_code == 302 and signing_in.headers["location"].startswith(f"{base}/dev-oidc/authorize?")
