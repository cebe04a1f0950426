"""`connect serve --workers 2` on an empty folder: one process prepares the shared state and
runs the background work, another serves on the same port; a profile written through
either process becomes searchable through both, and the extra process leaves with the
main one."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from stack.engines.processes import process_stat
from connect.workers import bind, claim_port
from tests.system.test_serve_cli import CONNECT, free_port


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int(process_stat(entry.name)[1])
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if parent == pid and b"spawn_main" in cmdline:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return process_stat(pid)[0] != "Z"
    except OSError:
        return False


def _serve_two(folder: Path) -> tuple[subprocess.Popen[bytes], str, dict[str, str]]:
    """`connect serve --workers 2` in `folder`: the process, its base URL, its environment."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECT_")}
    proc = subprocess.Popen([CONNECT, "serve", "--port", str(port), "--workers", "2"], cwd=folder, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    return proc, f"http://127.0.0.1:{port}", env


def test_two_api_processes_share_the_port_the_index_and_the_background_work(tmp_path):
    proc, base, env = _serve_two(tmp_path)
    worker = None
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                # Ready: /readyz counts the extra process as serving (api.workers).
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200 and len(_children(proc.pid)) == 1:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None:
                pytest.fail("connect serve exited: " + proc.stdout.read().decode(errors="replace"))
            if time.monotonic() > deadline:
                pytest.fail("connect serve --workers 2 did not come up within 60 s")
            time.sleep(0.2)
        [worker] = _children(proc.pid)

        def token(member_id: str) -> dict[str, str]:
            minted = subprocess.run([CONNECT, "token", member_id, "--name", member_id, "--email", "m@example.org"],
                                    cwd=tmp_path, env=env, capture_output=True, text=True, check=True).stdout
            return {"Authorization": f"Bearer {minted.strip()}"}

        mentor, seeker = token("W1"), token("W2")
        # Fresh connections: the kernel spreads them over both processes.
        for _ in range(6):
            assert httpx.get(f"{base}/readyz").json()["status"] == "ok"
            # Every process serves the member portal at / as well (issue 18's site).
            home = httpx.get(f"{base}/")
            assert home.status_code == 200 and "Sign in with your membership details" in home.text
        profile = {"headline": "Claims lead", "expertise": ["claims"], "interests": ["workers-test"]}
        assert httpx.put(f"{base}/v1/members/me/mentor-profile", json=profile, headers=mentor).status_code == 200
        search = {"criteria": {"interests": ["workers-test"]}}
        written = time.monotonic()
        while httpx.post(f"{base}/v1/mentors/search", json=search, headers=seeker).json()["total"] == 0:
            assert time.monotonic() - written < 10, "the profile never became searchable"
            time.sleep(0.05)
        found = [httpx.post(f"{base}/v1/mentors/search", json=search, headers=seeker).json() for _ in range(12)]
        assert {page["total"] for page in found} == {1}
        assert found[0]["results"][0]["mentor"]["member_id"] == "W1"
    finally:
        proc.send_signal(signal.SIGTERM)  # the main process only: it must take its worker along
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert worker is not None
    deadline = time.monotonic() + 15
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = _alive(worker)
    if alive:
        os.kill(worker, signal.SIGKILL)
    assert not alive, "the extra API process outlived connect serve"
    assert proc.returncode in (0, -signal.SIGTERM), proc.stdout.read().decode(errors="replace")


def test_a_second_server_cannot_join_a_port_already_served():
    # The workers share their port through SO_REUSEPORT; without the claim, a second
    # `connect serve --workers` on the same port would quietly take half the connections.
    first = bind("127.0.0.1", 0)
    try:
        with pytest.raises(OSError):
            claim_port("127.0.0.1", first.getsockname()[1])
    finally:
        first.close()
    port = claim_port("127.0.0.1", 0)
    one, two = bind("127.0.0.1", port), bind("127.0.0.1", port)  # the workers of one server share it
    assert one.getsockname()[1] == two.getsockname()[1] == port
    one.close()
    two.close()


def test_a_worker_killed_with_sigkill_is_replaced_and_the_api_keeps_answering(tmp_path):
    proc, base, _env = _serve_two(tmp_path)

    def ready() -> httpx.Response | None:
        try:
            return httpx.get(f"{base}/readyz", timeout=5)
        except httpx.TransportError:
            return None

    try:
        deadline = time.monotonic() + 60
        while True:
            answer = ready()
            if answer is not None and answer.status_code == 200 and len(_children(proc.pid)) == 1:
                break
            if proc.poll() is not None:
                pytest.fail("connect serve exited: " + proc.stdout.read().decode(errors="replace"))
            assert time.monotonic() < deadline, "connect serve --workers 2 did not come up within 60 s"
            time.sleep(0.2)
        assert answer.json()["checks"]["api.workers"] == "ok"
        [worker] = _children(proc.pid)
        os.kill(worker, signal.SIGKILL)
        # Connections the kernel queued on the dying process's socket die with it; once it is gone,
        # every request made while its replacement starts is answered.
        deadline = time.monotonic() + 10
        while _alive(worker):
            assert time.monotonic() < deadline, "the killed worker did not die"
            time.sleep(0.01)
        answered, missing_seen = 0, False
        deadline = time.monotonic() + 60
        while True:
            answer = ready()
            assert answer is not None, "a request went unanswered after the worker died"
            answered += 1
            if answer.status_code == 503:
                assert answer.json()["checks"]["api.workers"].startswith("error")
                missing_seen = True
            replacements = [pid for pid in _children(proc.pid) if pid != worker]
            if answer.status_code == 200 and replacements and missing_seen:
                break
            assert time.monotonic() < deadline, "no replacement worker became ready within 60 s"
            time.sleep(0.02)
        # The replacement serves: fresh connections are spread over both processes again.
        for _ in range(10):
            assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    for pid in _children(proc.pid):
        os.kill(pid, signal.SIGKILL)
