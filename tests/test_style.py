"""The code passes the project's ruff configuration (pyproject.toml, [tool.ruff]); the suite runs as configured."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_check_is_clean():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--output-format", "concise", "."],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("options", [["-p", "no:xdist"], ["-n", "0"], []])
def test_the_suite_runs_with_plain_pytest_options_and_in_parallel_by_default(options):
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *options,
                             "tests/test_metrics.py"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "4 passed" in result.stdout
    assert ("created: 2/2 workers" in result.stdout) == (options == [])  # and workers start none of their own


def test_the_table_and_figure_script_imports_no_torch():
    """Every table and figure job is a fresh process running workflow/scripts/run.py: the
    modules it imports must leave torch (and the environments) out, or each job pays their
    import (about a second) for nothing it uses."""
    script = Path(__file__).resolve().parents[1] / "workflow/scripts/run.py"
    imports = "\n".join(line for line in script.read_text().splitlines() if line.startswith(("import ", "from ")))
    check = f"{imports}\nimport sys\nprint(sorted(name for name in ('torch', 'minigrid') if name in sys.modules))"
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]", result.stdout
