"""How long `connect serve` takes, on an empty folder, from launch to answering /healthz
(the foundation's promise: under 5 s), and to /readyz.

    python -m bench.startup [--runs 5]

Each run starts a fresh process in a new empty folder, so migrations, the development
issuer's key and the embedded engines are all created from nothing. Results go to
bench/results/startup.json with the machine they ran on.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench._common import machine, percentile

RESULTS = Path(__file__).resolve().parent / "results" / "startup.json"
CONNECT = str(Path(sys.executable).with_name("connect"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("connect serve exited with %s" % proc.returncode)
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.02)
    raise RuntimeError("no answer from %s within %ss" % (url, timeout))


def one_run() -> tuple[float, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECT_")}
    with tempfile.TemporaryDirectory(prefix="connect-startup-") as folder:
        port = free_port()
        began = time.perf_counter()
        proc = subprocess.Popen([CONNECT, "serve", "--port", str(port)], cwd=folder, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            wait_for(f"http://127.0.0.1:{port}/healthz", proc)
            healthy = time.perf_counter() - began
            wait_for(f"http://127.0.0.1:{port}/readyz", proc)
            ready = time.perf_counter() - began
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
    return healthy, ready


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    host = machine()
    runs = [one_run() for _ in range(args.runs)]
    healthy = [h for h, _ in runs]
    ready = [r for _, r in runs]
    results = {
        "benchmark": "startup",
        "command": "python -m bench.startup --runs %d" % args.runs,
        "machine": {**host, "load_average_at_end": os.getloadavg()},
        "healthz_seconds": {"median": statistics.median(healthy), "max": max(healthy), "runs": healthy},
        "readyz_seconds": {"median": statistics.median(ready), "max": max(ready), "runs": ready},
        "target": "healthz under 5 s on an empty folder",
    }
    if len(healthy) >= 2:
        results["healthz_seconds"]["p95"] = percentile(healthy, 95)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print("connect serve on an empty folder: /healthz median %.2f s (max %.2f s), /readyz median %.2f s"
          % (statistics.median(healthy), max(healthy), statistics.median(ready)))
    print("results written to %s" % args.output)


if __name__ == "__main__":
    main()
