"""Extending the benchmark as workflow/README.md says, in a scratch copy: nothing else breaks."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

NEW_CORRECTION = '''

@correction("example_squared_alpha")
def example_squared_alpha(batch: CorrectionBatch) -> torch.Tensor:
    """mean_t sum_k alpha_tk^2: a correction written as the how-to says."""
    return (batch.alpha**2).sum(-1).mean()
'''
NEW_ENTRY = '''  example_squared_alpha:
    coef: 0.01
    phases: [finetune]
'''


@pytest.mark.slow
def test_a_correction_added_as_documented_leaves_the_correction_and_trainer_tests_green(tmp_path):
    """One decorated function in moe/corrections.py and one entry under `corrections:` in
    moe/default_config.yaml, nothing else: the tests read the registry and the config."""
    for name in ("moe", "envs", "tests", "pyproject.toml"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, tmp_path / name)
    with open(tmp_path / "moe/corrections.py", "a") as handle:
        handle.write(NEW_CORRECTION)
    config = tmp_path / "moe/default_config.yaml"
    text = config.read_text()
    config.write_text(text.replace("\neval:", NEW_ENTRY + "\neval:", 1))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", "-m", "not slow",
         "tests/test_corrections.py", "tests/test_train.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
        env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # The copy's own code ran, with the new correction in it.
    check = subprocess.run([sys.executable, "-c", "from moe.corrections import CORRECTIONS; print(list(CORRECTIONS))"],
                           cwd=tmp_path, capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert "example_squared_alpha" in check.stdout
