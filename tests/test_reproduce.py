"""Retraining a run from its own record: identical files, and any difference named."""

import json
import shutil
import subprocess

import pandas as pd
import pytest

from moe.tools.reproduce import ReproduceError, differences, main, reproduce, sample_runs


@pytest.fixture(scope="module")
def recorded_run(tmp_path_factory, trainer_command, short_task, tiny):
    """A finished tiny run (2 warm-up and 1 fine-tuning update, with a correction acting) laid out as in a grid."""
    run_dir = tmp_path_factory.mktemp("reference") / short_task / "entropy_min" / "base" / "seed5"
    assignments = [arg for setting in tiny for arg in ("--set", setting)]
    subprocess.run([*trainer_command, "--env", short_task, "--variant", "entropy_min", "--seed", "5",
                    "--frames", "240", *assignments, "--out", str(run_dir)], check=True, capture_output=True)
    return run_dir


def test_a_run_retrained_from_its_record_is_identical(recorded_run, tmp_path, trainer_command):
    assert reproduce(recorded_run, tmp_path / "again", trainer_command) == []
    assert (tmp_path / "again" / "run" / "final.json").read_bytes() == (recorded_run / "final.json").read_bytes()


def test_every_file_that_differs_is_named_and_wall_clock_columns_are_not_compared(recorded_run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(recorded_run, copy)
    assert differences(recorded_run, copy) == []

    metrics = pd.read_csv(copy / "metrics.csv")
    metrics["fps"] += 1.0  # wall clock: differs between any two runs
    metrics.to_csv(copy / "metrics.csv", index=False)
    assert differences(recorded_run, copy) == []

    metrics.loc[0, "router_entropy"] += 1e-6
    metrics.to_csv(copy / "metrics.csv", index=False)
    final = json.loads((copy / "final.json").read_text())
    final["return_mean"] += 1e-9
    (copy / "final.json").write_text(json.dumps(final))
    (copy / "eval_episode.csv").unlink()
    assert differences(recorded_run, copy) == ["final.json (the reference's keys)", "eval_episode.csv",
                                               "metrics.csv (the reference's columns, timing aside)"]


def test_what_the_trainer_reports_beyond_the_record_is_not_compared_but_a_lost_key_is(recorded_run, tmp_path):
    older = tmp_path / "older"  # the record of a trainer that reported less
    shutil.copytree(recorded_run, older)
    final = json.loads((older / "final.json").read_text())
    (older / "final.json").write_text(json.dumps({key: value for key, value in final.items() if key != "verdict"}))
    pd.read_csv(older / "metrics.csv").drop(columns=["loss_zloss"]).to_csv(older / "metrics.csv", index=False)
    assert differences(older, recorded_run) == []
    # The other way round, the retrained run lacks what the record has.
    assert differences(recorded_run, older) == ["final.json (the reference's keys)",
                                                "metrics.csv (the reference's columns, timing aside)"]


def test_an_existing_output_is_refused_rather_than_resumed(recorded_run, tmp_path):
    (tmp_path / "run").mkdir()
    with pytest.raises(ReproduceError, match="exists"):
        reproduce(recorded_run, tmp_path)


def test_a_directory_without_a_run_record_is_named(tmp_path, capsys):
    (tmp_path / "config.yaml").write_text("run: {env_id: X}\n")
    assert main([str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert str(tmp_path / "config.yaml") in error and "'config'" in error
    assert main([str(tmp_path / "missing"), "--out", str(tmp_path / "out")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_the_sample_is_drawn_from_finished_runs_and_is_the_same_for_the_same_seed(tmp_path):
    for seed in range(1, 7):
        run_dir = tmp_path / "Task-v0" / "baseline" / "base" / f"seed{seed}"
        run_dir.mkdir(parents=True)
        if seed != 6:  # seed 6 has not finished
            (run_dir / "final.json").write_text("{}")
    first = sample_runs(tmp_path, 5, seed=1)
    assert sorted(path.name for path in first) == ["seed1", "seed2", "seed3", "seed4", "seed5"]
    assert sample_runs(tmp_path, 3, seed=7) == sample_runs(tmp_path, 3, seed=7)
    with pytest.raises(ReproduceError, match="5 finished runs"):
        sample_runs(tmp_path, 6, seed=1)
