"""`make serve PORT=...` as a newcomer runs it: the demo is seeded, the server answers on the
chosen port, and a profile written right after `/healthz` answers is searchable within a second
(the indexer does not make a fresh change wait behind the seed's backlog)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.system.test_serve_cli import free_port, stop_group

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(sys.executable).parent.parent

pytestmark = pytest.mark.timeout(420)


def _token(env: dict[str, str], member_id: str, name: str) -> dict[str, str]:
    token = subprocess.run([str(VENV / "bin" / "connect"), "token", member_id, "--name", name,
                            "--email", f"{member_id.lower()}@example.org"],
                           env=env, cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    return {"Authorization": f"Bearer {token}"}


def test_make_serve_on_a_chosen_port_makes_a_new_profile_searchable_at_once(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECT_") and k not in ("MAKEFLAGS", "MFLAGS")}
    env["CONNECT_VAR_DIR"] = str(tmp_path / "var")
    proc = subprocess.Popen(["make", "--no-print-directory", "-C", str(ROOT), "serve", f"PORT={port}", f"VENV={VENV}"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300  # the seed embeds 200 demo mentors first
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None:
                pytest.fail("make serve exited: " + proc.stdout.read().decode(errors="replace"))
            assert time.monotonic() < deadline, "make serve did not answer /healthz on the chosen port"
            time.sleep(0.05)
        mentor, seeker = _token(env, "N1", "Nia Newcomer"), _token(env, "N2", "Noor Seeker")
        search = {"criteria": {"interests": ["newcomer-check"]}}
        for attempt in range(3):  # the first, right after start; later ones while the backlog may still drain
            profile = {"headline": f"Fresh mentor {attempt}", "expertise": ["claims"], "interests": ["newcomer-check"]}
            assert httpx.put(f"{base}/v1/members/me/mentor-profile", json=profile, headers=mentor,
                             timeout=10).status_code == 200
            written = time.monotonic()
            while True:
                page = httpx.post(f"{base}/v1/mentors/search", json=search, headers=seeker, timeout=10).json()
                if page["total"] == 1 and page["results"][0]["mentor"]["headline"] == profile["headline"]:
                    break
                waited = time.monotonic() - written
                assert waited < 1.0, "attempt %d: the profile was not searchable after %.1f s" % (attempt, waited)
                time.sleep(0.02)
            time.sleep(1.0)
    finally:
        stop_group(proc, 20)
