"""What a run records next to its metrics so it can be trusted and repeated."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path

import torch

PACKAGES = ("torch", "gymnasium", "minigrid", "numpy", "pandas", "snakemake", "moe-router-ablation")


def package_versions() -> dict[str, str | None]:
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


#: The project's checkout, whose commit a run records.
SOURCE = Path(__file__).resolve().parent.parent


def git_revision(source: Path = SOURCE) -> str | None:
    """The checkout's commit, with '-dirty' when its code has uncommitted changes.

    Changes under `results/` do not count: the committed reference results are the
    workflow's outputs, and a study running in a checkout changes them as runs land.
    """
    try:
        revision = subprocess.run(["git", "rev-parse", "HEAD"], cwd=source, capture_output=True,
                                  text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":(exclude)results"], cwd=source,
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return revision + ("-dirty" if dirty else "")


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str | None:
    """The CPU's model: /proc/cpuinfo's "model name" on Linux, else `platform.processor()`; None if neither says."""
    try:
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or None


def cpu_capability() -> str | None:
    """The instruction set torch's CPU kernels dispatch to here (e.g. AVX2, AVX512); None if torch cannot say."""
    try:
        return str(torch.backends.cpu.get_cpu_capability())
    except (AttributeError, RuntimeError):
        return None


#: The keys of a run record that name the CPU the numbers were computed on: floating-point
#: results are bit-identical only for the same model, kernel path and thread count.
CPU_KEYS = ("cpu_model", "cpu_capability", "torch_threads")


def cpu_identity() -> dict:
    """The CPU record of a run: `CPU_KEYS`, `torch_threads` being torch's intra-op threads now
    (the trainer records it after setting them from its config)."""
    return {"cpu_model": cpu_model(), "cpu_capability": cpu_capability(), "torch_threads": torch.get_num_threads()}


def run_record(config: dict, device: torch.device, **run) -> dict:
    return {
        "run": run,
        "config": config,
        "versions": {"python": platform.python_version(), **package_versions()},
        "git_revision": git_revision(),
        "device": str(device) + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""),
        "machine": platform.platform(),
        **cpu_identity(),
    }
