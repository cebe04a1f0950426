"""What a person sees first: logs they can read at a terminal (JSON lines for everything else),
and a port already in use said in one line."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

from connect import logs

ROOT = Path(__file__).resolve().parents[2]
CONNECT = str(Path(sys.executable).with_name("connect"))


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _logged_line(monkeypatch, stream: io.StringIO, json_lines: bool | None) -> str:
    monkeypatch.setattr(sys, "stderr", stream)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logs.configure("INFO", json_lines)
        logging.getLogger("connect.check").info("serving on %s", "port 8000")
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    return stream.getvalue().strip()


def test_logs_are_plain_lines_on_a_terminal(monkeypatch):
    line = _logged_line(monkeypatch, _Terminal(), None)
    assert not line.startswith("{")
    assert line.endswith("INFO    connect.check: serving on port 8000")


def test_logs_are_json_lines_when_not_on_a_terminal(monkeypatch):
    entry = json.loads(_logged_line(monkeypatch, io.StringIO(), None))
    assert (entry["level"], entry["logger"], entry["message"]) == ("INFO", "connect.check", "serving on port 8000")


def test_the_setting_chooses_over_the_terminal(monkeypatch):
    assert json.loads(_logged_line(monkeypatch, _Terminal(), True))["message"] == "serving on port 8000"
    assert not _logged_line(monkeypatch, io.StringIO(), False).startswith("{")


def test_the_setting_is_read_from_the_environment(monkeypatch):
    from connect.settings import Settings

    assert Settings().api.log_json is None
    monkeypatch.setenv("CONNECT_LOG_JSON", "false")
    assert Settings().api.log_json is False


def test_a_port_in_use_is_one_clear_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECT_")}
        done = subprocess.run([CONNECT, "serve", "--port", str(port)], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"connect serve: 127.0.0.1:{port} is already in use; choose another with --port "
        "(make serve PORT=...) or stop what listens there."]
    assert not (tmp_path / "var").exists()  # refused before anything was created
