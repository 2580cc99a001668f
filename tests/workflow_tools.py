"""Running the workflow in a temporary copy, for the workflow tests (a helper module, not a test module).

Every snakemake call runs in a copy, so results/ and .snakemake/ of the checkout
(where others may be working) are never touched.
"""

from __future__ import annotations

import json
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


def copy_workflow(dest: Path, names=WORKFLOW_FILES) -> Path:
    """`names` (files or folders of the checkout) copied to `dest`, by default what the workflow needs."""
    for name in names:
        source, target = REPO / name, dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
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


PARSE_SCRIPT = """
import json
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.io import is_flagged
from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings
with SnakemakeApi(OutputSettings()) as api:
    workflow = api.workflow(resource_settings=ResourceSettings(), config_settings=ConfigSettings(),
                            snakefile=Path("Snakefile"))._workflow
    print(json.dumps({
        "rules": {rule.name: {"local": rule.name in workflow._localrules or rule.norun,
                              "output": [str(path) for path in rule.output],
                              "report": [str(path) for path in rule.output if is_flagged(path, "report")]}
                  for rule in workflow.rules},
        "final": workflow.globals["get_final_output"](),
    }))
"""


def parse_workflow(workdir: Path) -> dict:
    """What the Snakefile declares with the default config, read from the parsed workflow:
    per rule (`rules`) whether it runs on the submitting node (`local`), its outputs and
    those of them flagged for the report; `final`, the main study's outputs
    (`get_final_output()`). Some attributes are private, so a Snakemake that renames them
    fails the tests rather than passing them."""
    result = subprocess.run([sys.executable, "-c", PARSE_SCRIPT], cwd=workdir, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])
