"""The SLURM cluster test (tests/slurm/run_cluster_test.sh) under pytest.

It installs Debian's SLURM, starts a one-node cluster on this machine, runs the grid
through the Snakemake SLURM executor and compares the tables with a local run
(about 3-5 minutes on 2 cores). It runs only when asked, as root on Debian:

    MOE_SLURM_TEST=1 python -m pytest tests/slurm -s
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("run_cluster_test.sh")


def _skip_reason():
    if os.environ.get("MOE_SLURM_TEST") != "1":
        return "SLURM cluster test not requested: set MOE_SLURM_TEST=1 (root on Debian; installs and starts SLURM)"
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "SLURM cluster test needs root (it installs packages and starts daemons)"
    if not Path("/etc/debian_version").exists() or shutil.which("apt-get") is None:
        return "SLURM cluster test needs Debian (apt-get and Debian's SLURM packages)"
    return None


@pytest.mark.slow
def test_workflow_on_a_one_node_slurm_cluster():
    reason = _skip_reason()
    if reason:
        print(f"SKIP: {reason}", file=sys.stderr)
        pytest.skip(reason)
    # Lines are echoed as they come (visible with -s) and kept for the failure message.
    lines = []
    with subprocess.Popen(["bash", str(SCRIPT)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, bufsize=1) as process:
        for line in process.stdout:
            print(line, end="", flush=True)
            lines.append(line)
        returncode = process.wait(timeout=60)
    output = "".join(lines)
    assert returncode == 0, f"run_cluster_test.sh failed (exit {returncode}):\n{output[-6000:]}"
    assert "PASSED: all checks" in output
