"""What every benchmark reports the same way: the machine it ran on, and percentiles."""

from __future__ import annotations

import os
import platform
import statistics
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    """CPU, cores, memory and the load average now (call it before the work starts)."""
    cpu = platform.processor() or platform.machine()
    memory = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = "%.1f GiB" % (int(line.split()[1]) / 1024 / 1024)
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": memory, "python": platform.python_version(),
            "os": platform.platform(), "load_average_at_start": os.getloadavg()}


def percentile(samples: list[float], q: float) -> float:
    """The q-th percentile (q in 1..99); a single sample is its own percentile."""
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[int(q) - 1]


def machine_cpu_seconds() -> dict[str, float]:
    """CPU time of the whole machine so far (Linux /proc/stat): `busy` (every process and the
    kernel) and `steal` (time the hypervisor gave to other guests); differences of two readings
    say whether a run was limited by its cores or by its neighbours."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    tick = os.sysconf("SC_CLK_TCK")
    return {"busy": (user + nice + system + irq + softirq) / tick, "steal": steal / tick}
