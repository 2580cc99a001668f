"""A regenerated grid compared with reference results: identical files, and means inside intervals."""

import json
import shutil
import subprocess

from moe.analysis.reference import compare_cells, compare_runs, verdict
from moe.provenance import git_revision
from tests.fakeruns import write_fake_run

TASK = "MultiIntent-Hunt-6x6-v0"


def grid(root, seeds=(1, 2, 3, 4, 5)):
    runs = []
    for variant in ("baseline", "temporal"):
        for seed in seeds:
            run_dir = root / TASK / variant / "base" / f"seed{seed}"
            write_fake_run(run_dir, TASK, variant, seed)
            runs.append({"task": TASK, "variant": variant, "settings": "base", "seed": seed, "run_dir": str(run_dir)})
    return runs


def test_the_same_runs_are_identical_and_inside_the_reference_intervals(tmp_path):
    runs = grid(tmp_path / "mine")
    shutil.copytree(tmp_path / "mine", tmp_path / "reference")
    per_run = compare_runs(runs, str(tmp_path / "mine"), str(tmp_path / "reference"))
    assert per_run["identical"].tolist() == [True] * 10
    per_cell = compare_cells(runs, str(tmp_path / "mine"), str(tmp_path / "reference"))
    assert per_cell["inside"].all() and (per_cell["n"] == 5).all()
    assert "10 of 10 runs" in verdict(per_run, per_cell) and "0 of 12" in verdict(per_run, per_cell)


def test_a_changed_run_and_a_shifted_cell_are_named(tmp_path):
    runs = grid(tmp_path / "mine")
    shutil.copytree(tmp_path / "mine", tmp_path / "reference")
    # Every baseline seed's return far above the reference's: outside its interval.
    for run in runs[:5]:
        path = tmp_path / "mine" / TASK / "baseline" / "base" / f"seed{run['seed']}" / "final.json"
        final = json.loads(path.read_text())
        path.write_text(json.dumps({**final, "return_mean": final["return_mean"] + 5.0}))
    (tmp_path / "reference" / TASK / "temporal" / "base" / "seed5" / "final.json").unlink()
    per_run = compare_runs(runs, str(tmp_path / "mine"), str(tmp_path / "reference"))
    assert per_run["identical"].tolist() == [False] * 5 + [True] * 4 + [None]
    assert per_run["reference_status"].tolist()[-1] == "missing"
    per_cell = compare_cells(runs, str(tmp_path / "mine"), str(tmp_path / "reference"))
    outside = per_cell[per_cell["inside"] == False]  # noqa: E712
    assert outside[["variant", "metric"]].values.tolist() == [["baseline", "return_mean"]]
    text = verdict(per_run, per_cell)
    assert "4 of 9 runs" in text and "1 missing" in text and "baseline return_mean" in text


def test_git_revision_is_dirty_for_code_changes_not_for_results(tmp_path):
    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True,
                       capture_output=True)

    (tmp_path / "moe").mkdir()
    (tmp_path / "results").mkdir()
    (tmp_path / "moe" / "train.py").write_text("a = 1\n")
    (tmp_path / "results" / "final.json").write_text("{}\n")
    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", "init")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    assert git_revision(tmp_path) == head
    (tmp_path / "results" / "final.json").write_text('{"return_mean": 0.9}\n')  # a run landed
    assert git_revision(tmp_path) == head
    (tmp_path / "moe" / "train.py").write_text("a = 2\n")
    assert git_revision(tmp_path) == head + "-dirty"
