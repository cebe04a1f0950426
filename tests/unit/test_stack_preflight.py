"""`connect stack up` refuses, in one line and before it starts anything, what would fail later:
a folder the PostgreSQL account may not enter (as root), and programs that are not installed
(saying which command installs them)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

CONNECT = str(Path(sys.executable).with_name("connect"))


def _stack_up(folder: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith("CONNECT_") and k not in ("JAVA_HOME",)}
    return subprocess.run([CONNECT, "stack", "up", "--folder", str(folder)], env={**clean, **env},
                          capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands PostgreSQL's data to another account")
def test_a_folder_postgres_may_not_enter_is_refused_in_one_line() -> None:
    private = Path(tempfile.mkdtemp(prefix="connect-private-"))  # mode 0700, as `mktemp -d` makes it
    try:
        done = _stack_up(private / "stack")
        assert done.returncode == 1, done.stderr
        assert done.stdout == ""
        assert done.stderr.strip().splitlines() == [
            f"stack up: PostgreSQL runs as the 'postgres' account, which may not enter {private} (mode 0700): "
            f"use a --folder it can reach, or let it through with `chmod o+x {private}`"]
        assert list(private.iterdir()) == []  # refused before anything was created
    finally:
        private.rmdir()


def test_missing_programs_are_named_with_the_command_that_installs_them(tmp_path: Path) -> None:
    open_folder = Path(tempfile.mkdtemp(prefix="connect-stack-"))
    open_folder.chmod(0o755)
    try:
        # No java on PATH, and a redis-server that is not there.
        done = _stack_up(open_folder, PATH=str(tmp_path), CONNECT_REDIS_SERVER=str(tmp_path / "redis-server"))
        assert done.returncode == 1, done.stderr
        assert done.stderr.strip().splitlines() == [
            "stack up: redis-server not found: install it with `apt-get install redis-server` (or `make engines`) "
            f"(CONNECT_REDIS_SERVER={tmp_path / 'redis-server'} is no program); "
            "java not found: install it with `apt-get install default-jdk-headless` (or `make engines`); "
            "JAVA_HOME or CONNECT_JAVA picks another"]
        assert list(open_folder.iterdir()) == []
    finally:
        open_folder.rmdir()
