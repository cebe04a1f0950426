"""The role processes of a local stack: detached `connect run ...` processes, one process group each.

A role is recorded as ``{"pid", "start_ticks", "argv", "log"}``; the start time tells a live role
from a recycled pid, so nothing unrelated is ever signalled.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from stack.engines.base import port_open
from stack.engines.processes import pid_alive, process_start_ticks, process_stat, tail_file


class StackError(RuntimeError):
    pass


def connect_argv() -> list[str]:
    """How to run the `connect` command of this interpreter."""
    script = Path(sys.executable).parent / "connect"
    if script.is_file():
        return [str(script)]
    found = shutil.which("connect")
    return [found] if found else [sys.executable, "-c", "from connect.cli import main; main()"]


def alive(entry: dict[str, Any]) -> bool:
    return pid_alive(int(entry["pid"]), entry.get("start_ticks"))


def spawn(role: str, args: list[str], env: dict[str, str], folder: Path, logs: Path) -> dict[str, Any]:
    """Start `connect <args>` in ``folder``, its output in ``<logs>/<role>.log``; the role's record."""
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{role}.log"
    argv = connect_argv() + args
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(
            argv, cwd=str(folder), env=env, stdin=subprocess.DEVNULL, stdout=log_file,
            stderr=subprocess.STDOUT, close_fds=True,
            # Own process group: `stack down` signals the role with its children (Celery's pool),
            # and a Ctrl-C in the terminal that ran `stack up` does not reach it.
            start_new_session=True,
        )
    return {"pid": process.pid, "start_ticks": process_start_ticks(process.pid), "argv": argv,
            "log": str(log_path)}


def tail(path: str, lines: int = 40) -> str:
    return tail_file(Path(path), lines)


def stop(entry: dict[str, Any], grace: float = 15.0) -> str:
    """SIGTERM the role's process group, then SIGKILL what is left; how it ended."""
    pid = int(entry["pid"])
    if not alive(entry):
        return "was not running"
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not alive(entry) and not _group_alive(pid):
            return "stopped"
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    time.sleep(0.2)
    return "killed"


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    # A group of zombies only waits to be reaped by init: nothing runs.
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = process_stat(proc.name)
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


def wait_port(host: str, port: int, entry: dict[str, Any], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port):
            return
        if not alive(entry):
            raise StackError(f"process exited before listening on {port}:\n{tail(entry['log'])}")
        time.sleep(0.1)
    raise StackError(f"nothing listens on {host}:{port} after {timeout:.0f}s:\n{tail(entry['log'])}")


def wait_ready(api_url: str, entry: dict[str, Any], timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if not alive(entry):
            raise StackError(f"the API exited during startup:\n{tail(entry['log'])}")
        try:
            response = httpx.get(f"{api_url}/readyz", timeout=5.0)
            if response.status_code == 200:
                return
            last = response.text
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.3)
    raise StackError(f"the API is not ready after {timeout:.0f}s: {last}\n{tail(entry['log'])}")
