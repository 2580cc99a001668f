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


def run_record(config: dict, device: torch.device, **run) -> dict:
    return {
        "run": run,
        "config": config,
        "versions": {"python": platform.python_version(), **package_versions()},
        "git_revision": git_revision(),
        "device": str(device) + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""),
        "machine": platform.platform(),
    }
