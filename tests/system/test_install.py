"""`make install` (the first step of `make serve`) prints no packaging notice a newcomer would
take for a problem.  Costs a scratch venv and one editable build (about a minute)."""

from __future__ import annotations

import os
import subprocess
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(600)
def test_the_install_step_prints_no_packaging_notice(tmp_path):
    """The Makefile's own install command (dependencies left out: the editable build is what warned)."""
    recipe = subprocess.run(["make", "-n", "-B", "-C", str(ROOT), "install", f"VENV={tmp_path}/v"],
                            capture_output=True, text=True, check=True).stdout.splitlines()
    [upgrade] = [line for line in recipe if "pip install" in line and "--upgrade pip" in line]
    [editable] = [line for line in recipe if " -e " in line and "pip install" in line]
    venv.create(tmp_path / "v", with_pip=True)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PIP_")}, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    # The same pip as `make install`: a newer pip shows the build backend's warnings an older one hid.
    subprocess.run(upgrade, shell=True, cwd=ROOT, check=True, capture_output=True, timeout=300, env=env)
    done = subprocess.run(editable + " --no-deps", shell=True, cwd=ROOT, capture_output=True, text=True,
                          timeout=540, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout + done.stderr == ""
