"""Running the workflow in a temporary copy, for the workflow tests (a helper module, not a test module).

Every snakemake call runs in a copy, so results/ and .snakemake/ of the checkout
(where others may be working) are never touched.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOW_FILES = ["Snakefile", "workflow", "tests/fakeruns.py", "tests/tools"]
#: Config fragment: the stand-in trainer that writes deterministic fake runs in milliseconds.
FAKE_TRAINER = {"trainer": {"command": f"{sys.executable} tests/fakeruns.py"}}


def copy_workflow(dest: Path) -> Path:
    for name in WORKFLOW_FILES:
        source, target = REPO / name, dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)
    return dest


def write_config(path: Path, content: dict) -> str:
    path.write_text(yaml.safe_dump(content))
    return str(path)


def snakemake(workdir: Path, *args: str, check: bool = True, timeout: int = 600,
              env: dict | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=workdir, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def planned_jobs(workdir: Path, *args: str) -> dict[str, int]:
    """Job counts per rule from the 'Job stats' table of a dry run (empty if nothing to do)."""
    result = snakemake(workdir, "--dry-run", *args)
    output = result.stdout + result.stderr
    match = re.search(r"Job stats:\n.*?\n-+\s+-+\n(.*?)\ntotal\s+\d+", output, re.S)
    if match is None:
        assert "Nothing to be done" in output, output
        return {}
    return {rule: int(count) for rule, count in (line.split() for line in match.group(1).splitlines())}
