"""Each how-to of workflow/README.md ("Extending the benchmark") carried out as written, in a
scratch copy: its code blocks are read from the README and put where it says, then the
workflow (its dry run, or the whole of it with the fake trainer) and the tests the change
touches run in the copy, on the copy's code."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.workflow_tools import FAKE_TRAINER, copy_workflow, planned_jobs, snakemake, write_config

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "workflow/README.md").read_text()
COPIED = ("Snakefile", "workflow", "moe", "envs", "tests", "pyproject.toml")

pytestmark = pytest.mark.slow


def documented(start: str) -> str:
    """The code block of workflow/README.md whose text starts with `start`, without the
    indentation of its fence (a block inside a list item keeps its own)."""
    for indent, body in re.findall(r"^( *)```\w*\n(.*?)^\1```", README, re.S | re.M):
        block = "".join(line[len(indent):] for line in body.splitlines(keepends=True))
        if block.strip().startswith(start):
            return block
    raise AssertionError(f"workflow/README.md has no code block starting {start!r}")


def insert(path: Path, anchor: str, text: str) -> None:
    """Put `text` right after `anchor`, which must occur once in the file."""
    content = path.read_text()
    assert content.count(anchor) == 1, (path, anchor)
    path.write_text(content.replace(anchor, anchor + text))


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text().rstrip("\n") + "\n\n\n" + text)


@pytest.fixture
def scratch(tmp_path, monkeypatch) -> Path:
    """A copy of the project whose code, not the installed checkout's, runs in every
    subprocess below (PYTHONPATH)."""
    repo = copy_workflow(tmp_path / "repo", COPIED)
    monkeypatch.setenv("PYTHONPATH", str(repo))
    return repo


def run_pytest(repo: Path, *args: str) -> None:
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0",
                             "-m", "not slow", *args], cwd=repo, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def train(repo: Path, out: Path, env: str, variant: str = "baseline") -> dict:
    """Two updates of the copy's trainer (one warm-up, one fine-tuning); its final.json."""
    result = subprocess.run([sys.executable, "-m", "moe.train", "--env", env, "--variant", variant, "--seed", "1",
                             "--frames", "4096", "--out", str(out)], cwd=repo, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((out / "final.json").read_text())


def fake_grid(repo: Path, **extra) -> str:
    """A two-seed grid of one small task and the `temporal` variants, trained by the fake trainer."""
    return write_config(repo.parent / "grid.yaml", {
        **FAKE_TRAINER, "tasks": [{"name": "MultiIntent-Hunt-6x6-v0", "frames": 64}],
        "corrections": ["temporal"], "seeds": [1, 2], **extra})


def test_a_correction(scratch):
    """One function and one config entry, nothing else: the correction and trainer tests stay
    green (they read the registry), and a grid with it plans its variants."""
    append(scratch / "moe/corrections.py", documented('@correction("example_squared_alpha")'))
    config = scratch / "moe/default_config.yaml"
    text = config.read_text()
    assert text.count("\neval:") == 1
    config.write_text(text.replace("\neval:", "\n" + documented("example_squared_alpha:").rstrip("\n") + "\neval:"))
    check = subprocess.run([sys.executable, "-c", "from moe.corrections import CORRECTIONS; print(list(CORRECTIONS))"],
                           cwd=scratch, capture_output=True, text=True)
    assert "example_squared_alpha" in check.stdout, check.stderr  # the copy's code runs
    run_pytest(scratch, "tests/test_corrections.py", "tests/test_train.py")
    grid = fake_grid(scratch, corrections=["entropy_min", "example_squared_alpha"])
    jobs = planned_jobs(scratch, "--configfile", grid)
    assert jobs["train"] == 4 * 2 and jobs["warmup"] == 2  # 4 variants x 2 seeds, one shared warm-up per seed


def test_a_task(scratch, tmp_path):
    """A module, its registration, the oracle's targets: the task's contract and oracle tests
    pass, the trainer trains on it and a grid of it plans its warm-ups and runs."""
    (scratch / "envs/courier.py").write_text(documented('"""Courier:'))
    insert(scratch / "envs/__init__.py", "from envs.base import MultiIntentEnv\n",
           documented("from envs.courier import CourierEnv"))
    insert(scratch / "envs/__init__.py", '    "Dodge": (DodgeEnv, 6, 8),\n', documented('"Courier":'))
    insert(scratch / "tests/test_envs_oracle.py", '    "evade": _goal,\n', documented('"fetch_ball":'))
    run_pytest(scratch, "tests/test_envs.py")
    run_pytest(scratch, "tests/test_envs_oracle.py", "-k", "Courier")

    final = train(scratch, tmp_path / "run", "MultiIntent-Courier-5x5-v0")
    assert final["status"] == "finished" and final["intents"] == ["fetch_ball", "deliver"]

    config = yaml.safe_load(documented("tasks:\n  - name: MultiIntent-Courier"))
    seeds = yaml.safe_load((scratch / "workflow/config/config.yaml").read_text())["seeds"]
    jobs = planned_jobs(scratch, "--configfile", write_config(tmp_path / "courier.yaml", config))
    assert jobs["warmup"] == len(seeds) and jobs["train"] == 8 * len(seeds)


def test_a_metric(scratch, tmp_path):
    """Its value and its registry entry: final.json and the tables carry it, and the
    statistics and evaluation tests stay green."""
    insert(scratch / "moe/router_statistics.py",
           '        "distinct_modal_experts": len({entry["expert"] for entry in modal_met}) == len(modal_met),\n',
           documented('"committed_share":'))
    insert(scratch / "moe/analysis/metrics.py",
           '    Metric("distinct_modal_experts", "distinct modal experts", "", NONE, (0.0, 1.0), scope=POOLED),\n',
           documented('Metric("committed_share"'))
    run_pytest(scratch, "tests/test_analysis.py", "tests/test_evaluate.py")

    final = train(scratch, tmp_path / "run", "MultiIntent-Hunt-6x6-v0")
    assert 0 <= final["committed_share"] <= 1
    assert list(final).index("committed_share") == list(final).index("distinct_modal_experts") + 1

    snakemake(scratch, "tables", "--cores", "2", "--configfile", fake_grid(scratch))
    summary = pd.read_csv(scratch / "results/tables/final_metrics.csv")
    assert len(summary) == 2  # baseline and temporal
    assert summary["committed_share_mean"].between(0, 1).all() and (summary["committed_share_n"] == 2).all()
    assert "committed share" in (scratch / "results/tables/final_metrics.md").read_text().splitlines()[0]


def test_a_table_and_a_figure(scratch):
    """Tested code, a step, a declaration and a caption each: `snakemake` makes the table from
    the runs, and the figure from the table, as part of the main study."""
    (scratch / "moe/analysis/switching.py").write_text(documented('"""How often the router'))
    run_py = scratch / "workflow/scripts/run.py"
    insert(run_py, "from moe.analysis.runs import collect_runs\n", documented("from moe.analysis.switching import"))
    insert(run_py, "    print(summary)\n", "\n\n" + documented("def switching(job):").rstrip("\n") + "\n")
    insert(run_py, "expert_usage, compare_reference", ", switching")
    append(scratch / "workflow/rules/analysis.smk", documented('table_rule(\n    "analyse_switching"'))
    (scratch / "workflow/report/switching_table.rst").write_text("Mean switch rate per task and variant.\n")
    append(scratch / "moe/analysis/plots.py", documented("def plot_switching("))
    append(scratch / "workflow/rules/plot.smk", documented('figure_rule(\n    "plot_switching"'))
    (scratch / "workflow/report/switching.rst").write_text("Mean switch rate per variant.\n")

    grid = fake_grid(scratch)
    jobs = planned_jobs(scratch, "--configfile", grid)  # part of the main study: `all` plans both steps
    assert jobs["analyse_switching"] == 1 and jobs["plot_switching"] == 1
    # Then only what they make (and what that needs): the study's other figures would only cost time.
    snakemake(scratch, "results/tables/switching.csv", "results/tables/switching.md", "results/figures/switching.pdf",
              "results/figures/switching.png", "--cores", "2", "--configfile", grid)
    runs = pd.read_csv(scratch / "results/tables/runs.csv")
    expected = runs.groupby(["task", "variant"], sort=False)["switch_rate"].mean()
    table = pd.read_csv(scratch / "results/tables/switching.csv").set_index(["task", "variant"])["switch_rate"]
    pd.testing.assert_series_equal(table, expected)
    assert "| task | variant | switch_rate |" in (scratch / "results/tables/switching.md").read_text()
    for extension in ("pdf", "png"):
        assert (scratch / f"results/figures/switching.{extension}").stat().st_size > 1000
    assert (scratch / "results/logs/figures/switching.log").exists()


def test_a_sweep(scratch):
    """One config entry: a target rule whose runs are named by the value, the default value's
    being the grid's own."""
    sweep = yaml.safe_load("sweeps:\n" + documented("lr: {variant: baseline"))
    configfile = fake_grid(scratch, **sweep)
    result = snakemake(scratch, "--dry-run", "sweep_lr", "--configfile", configfile)
    planned = set(re.findall(r"baseline/([^/\s]+)/seed(\d)/final\.json", result.stdout))
    assert planned == {(setting, seed) for setting in ("lr=0.0003", "base", "lr=0.003") for seed in "12"}


def test_a_grid(scratch):
    """One config file: its warm-ups and runs, under its own runs directory."""
    (scratch / "workflow/config/my_grid.yaml").write_text(documented("tasks:\n  - name: MultiIntent-Hunt-8x8-v0"))
    result = snakemake(scratch, "--dry-run", "--configfile", "workflow/config/my_grid.yaml")
    jobs = planned_jobs(scratch, "--configfile", "workflow/config/my_grid.yaml")
    assert jobs["warmup"] == 3 and jobs["train"] == 12
    runs = set(re.findall(r"results/my_grid/runs/MultiIntent-Hunt-8x8-v0/([^/\s]+)/base/seed(\d)/final\.json",
                          result.stdout))
    assert runs == {(variant, seed) for variant in ("baseline", "entropy_min", "overlap", "entropy_min+overlap")
                    for seed in "123"}
    assert "results/my_grid/tables/final_metrics.csv" in result.stdout
    assert "log: results/my_grid/logs/train/MultiIntent-Hunt-8x8-v0/baseline/base/seed1.log" in result.stdout
