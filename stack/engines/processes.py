"""What the launchers and `connect stack` ask the operating system about processes: the tail
of a log, a child's parent-death signal, `/proc/<pid>/stat`, whether a pid is still the
process that was started (not a recycled pid)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from pathlib import Path
from typing import Callable

_PR_SET_PDEATHSIG = 1


def tail_text(text: str, lines: int = 60) -> str:
    return "\n".join(text.splitlines()[-lines:])


def tail_file(path: Path | None, lines: int = 60) -> str:
    if path is None or not path.is_file():
        return ""
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - 64 * 1024))
        data = handle.read().decode("utf-8", "replace")
    return tail_text(data, lines)


def _libc():
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name, use_errno=True) if name else None


def death_signal_hook(sig: int) -> Callable[[], None] | None:
    """A preexec hook asking the kernel to send ``sig`` to the child when we die.

    Covers the case atexit cannot: this interpreter killed outright (CI timeout, SIGKILL).
    libc is loaded here, in the parent, so the forked child only makes one system call.
    """
    libc = _libc()
    if libc is None:
        return None

    def arm() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)

    return arm


def process_stat(pid: int | str) -> list[str]:
    """The fields of ``/proc/<pid>/stat`` after the command name: ``[0]`` state, ``[1]`` parent,
    ``[2]`` process group, ``[11]``/``[12]`` user/system CPU ticks, ``[19]`` start time in ticks.
    The name may contain spaces and parentheses, so the fields resume after the last ')'.
    Raises OSError once the process is gone."""
    raw = Path("/proc/%s/stat" % pid).read_text()
    return raw[raw.rindex(")") + 2:].split()


def process_start_ticks(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks; tells a live engine from a recycled pid."""
    try:
        return int(process_stat(pid)[19])
    except OSError:
        return None


def pid_alive(pid: int, start_ticks: int | None = None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        if process_stat(pid)[0] == "Z":
            return False
    except OSError:
        return False
    if start_ticks is not None and process_start_ticks(pid) != start_ticks:
        return False
    return True
