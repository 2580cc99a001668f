"""Every bad input ends with a one-line message naming the problem, and damages nothing written before."""

import json
import shutil

import pytest

from moe.train import main

MALFORMED_YAML = "model: {encoder: gat\nlr: [1, 2\n"
PHASE_OUTSIDE = "phases:\n  - {name: warmup, end: 1.5}\n  - {name: finetune, end: 1.0}\n"

CASES = [
    # (id, extra CLI args, config file text or None, expected words in the message)
    ("unknown env id", ["--env", "MiniGrid-DoorKey-55-v0"], None, "unknown env id 'MiniGrid-DoorKey-55-v0'"),
    ("unknown correction", ["--variant", "entropy_min+dropout"], None, "unknown correction 'dropout'"),
    ("non-canonical variant", ["--variant", "overlap+temporal"], None, "temporal+overlap"),
    ("negative coefficient", ["--set", "corrections.temporal.coef=-0.1"], None,
     "corrections.temporal.coef: -0.1 is less than the minimum of 0"),
    ("non-numeric coefficient", ["--set", "corrections.overlap.coef=lots"], None,
     "corrections.overlap.coef: 'lots' is not of type 'number'"),
    ("zero frames", ["--frames", "0"], None, "--frames must be positive"),
    ("negative frames", ["--frames", "-5"], None, "--frames must be positive"),
    ("no experts", ["--set", "model.num_experts=0"], None, "model.num_experts: 0 is less than the minimum of 1"),
    ("phase boundary outside (0, 1)", [], PHASE_OUTSIDE, "boundary of phase 'warmup' is 1.5, outside (0, 1)"),
    ("unknown config key", ["--set", "learning_rate=0.1"], None, "unknown config key"),
    ("unknown nested key", ["--set", "corrections.temporal.weight=1"], None, "corrections.temporal.weight"),
    ("malformed YAML", [], MALFORMED_YAML, "malformed YAML"),
    ("different config in out dir", ["--set", "lr=0.002"], None, "holds a run with a different config (config.lr"),
]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, short_task, tiny):
    run_dir = tmp_path_factory.mktemp("finished") / "run"
    assert main(["--env", short_task, "--frames", "80", "--out", str(run_dir),
                 *[arg for item in tiny for arg in ("--set", item)]]) == 0
    return run_dir


def snapshot(directory):
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


@pytest.mark.parametrize("extra, config_text, expected", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_input_is_refused_with_a_clear_message(tmp_path, finished_run, capsys, extra, config_text, expected,
                                                   short_task, tiny):
    run_dir = tmp_path / "run"
    shutil.copytree(finished_run, run_dir)
    before = snapshot(run_dir)
    args = {"--env": short_task, "--frames": "80", "--out": str(run_dir)}
    extra = list(extra)
    for flag in ("--env", "--frames"):
        if flag in extra:
            args[flag] = extra.pop(extra.index(flag) + 1)
            extra.remove(flag)
    argv = [item for pair in args.items() for item in pair] + extra
    argv += [arg for item in tiny for arg in ("--set", item)]
    if config_text is not None:
        config_file = tmp_path / "bad.yaml"
        config_file.write_text(config_text)
        argv += ["--config", str(config_file)]
    capsys.readouterr()
    assert main(argv) == 2
    message = capsys.readouterr().err.strip()
    assert message.startswith("moe-train: error:") and "\n" not in message
    assert expected in message
    assert snapshot(run_dir) == before


def test_non_finite_loss_stops_the_run_as_diverged_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch,
                                                                                     short_task, tiny):
    from dataclasses import replace

    import torch

    from moe.checkpoint import load_latest
    from moe.corrections import CORRECTIONS

    # A temporal term that blows up: active from finetune, i.e. the 4th of 5 updates (fraction done 0.6).
    monkeypatch.setitem(CORRECTIONS, "temporal", replace(CORRECTIONS["temporal"],
                                                         term=lambda batch, **options: torch.tensor(float("nan"))))
    argv = ["--env", short_task, "--variant", "temporal", "--frames", "400", "--out", str(tmp_path),
            *[arg for item in tiny for arg in ("--set", item)]]
    # A diverged run is an outcome the tables report, not a failed command: the workflow goes on.
    assert main(argv) == 0
    final = json.loads((tmp_path / "final.json").read_text())
    assert final["status"] == "diverged" and final["return_mean"] is None
    # Every declared output exists, so Snakemake accepts the job.
    assert (tmp_path / "eval_episode.csv").exists() and (tmp_path / "metrics.csv").exists()
    assert final["frames"] == 3 * 80
    state = load_latest(tmp_path)
    assert state["update_index"] == 3
    assert all(torch.isfinite(tensor).all() for tensor in state["model"].values())
