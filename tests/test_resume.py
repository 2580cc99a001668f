"""A run killed with SIGKILL at a random update resumes to the same outputs as an uninterrupted run."""

import json
import random
import subprocess
import time

import pandas as pd
import pytest

from moe.checkpoint import CHECKPOINT, PREVIOUS, CheckpointError, load_latest
from moe.train import TIMING_COLUMNS

# Registered in a subprocess too: the short task lives in the tests, so the child imports them first.


#: Hard routing, a noisy oracle handing routing to the supervised then the learned router, a ramp,
#: overlap on the router alone and bias_balance: every random stream and the bias must resume too.
EVERY_NEW_OPTION = ["model.num_experts=2", "model.routing=hard", "model.oracle_noise=0.2",
                    "corrections.entropy_min.ramp=0.5", "corrections.overlap.gradient=router",
                    'phases=[{"name": "oracle", "end": 0.2, "set": {"model": {"router": "oracle"}}}, '
                    '{"name": "fit", "end": 0.4, "set": {"model": {"router": "supervised"}}}, '
                    '{"name": "finetune", "end": 1.0}]']


def _command(trainer_command, tiny, task: str, variant: str, extra=()) -> list[str]:
    """10 updates of 80 frames, a checkpoint every 2; `--out` left to the test."""
    settings = [arg for item in [*tiny, "checkpoint.interval_updates=2", *extra] for arg in ("--set", item)]
    return [*trainer_command, "--env", task, "--variant", variant, "--seed", "7", "--frames", "800", *settings]


@pytest.fixture
def command(trainer_command, short_task, tiny) -> list[str]:
    return _command(trainer_command, tiny, short_task, "entropy_min+temporal")


@pytest.fixture
def every_option_command(trainer_command, tiny) -> list[str]:
    return _command(trainer_command, tiny, "MoETest-DirectionIntent-v0", "entropy_min+overlap+bias_balance",
                    EVERY_NEW_OPTION)


def outputs(run_dir):
    metrics = pd.read_csv(run_dir / "metrics.csv").drop(columns=TIMING_COLUMNS)
    return metrics, json.loads((run_dir / "final.json").read_text()), (run_dir / "eval_episode.csv").read_text()


def metrics_rows(run_dir):
    try:
        return len(pd.read_csv(run_dir / "metrics.csv"))
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return 0


@pytest.mark.parametrize("which", ["command", "every_option_command"])
def test_kill_at_a_random_update_then_resume_gives_identical_outputs(tmp_path, which, request):
    command = request.getfixturevalue(which)
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    subprocess.run(command + ["--out", str(reference)], check=True, capture_output=True)

    kill_after = random.Random().randint(1, 8)  # of 10 updates; the message below names it on failure
    process = subprocess.Popen(command + ["--out", str(killed)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while metrics_rows(killed) < kill_after and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.kill()
    process.wait()
    assert not (killed / "final.json").exists(), f"run finished before the kill after update {kill_after}"

    resumed = subprocess.run(command + ["--out", str(killed)], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    first, second = outputs(reference), outputs(killed)
    pd.testing.assert_frame_equal(first[0], second[0], obj=f"metrics after a kill at update {kill_after}")
    assert first[1:] == second[1:]


def test_corrupted_checkpoint_falls_back_to_the_previous_one_or_says_so(tmp_path, command):
    run = subprocess.run(command + ["--out", str(tmp_path)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    newest = load_latest(tmp_path)["update_index"]
    data = (tmp_path / CHECKPOINT).read_bytes()
    (tmp_path / CHECKPOINT).write_bytes(data[: len(data) // 2])  # truncated, as by a full disk
    assert load_latest(tmp_path)["update_index"] == newest - 2  # the previous checkpoint
    (tmp_path / PREVIOUS).write_bytes(b"not a checkpoint")
    try:
        load_latest(tmp_path)
    except CheckpointError as error:
        assert "checkpoint.pt is unreadable" in str(error) and "delete the checkpoint files" in str(error)
    else:
        raise AssertionError("two corrupted checkpoints must raise CheckpointError")
    rerun = subprocess.run(command + ["--out", str(tmp_path)], capture_output=True, text=True)
    assert rerun.returncode == 2
    assert rerun.stderr.strip().splitlines()[-1].startswith("moe-train: error:")


def test_checkpoint_of_other_settings_without_config_yaml_is_discarded(tmp_path, command):
    """Snakemake reruns a job whose params changed after deleting its outputs: the trainer starts afresh."""
    first = subprocess.run(command + ["--out", str(tmp_path)], capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    for name in ("config.yaml", "metrics.csv", "final.json", "eval_episode.csv"):
        (tmp_path / name).unlink()  # what Snakemake does before rerunning the job
    changed = ["--set", "lr=0.002"]
    rerun = subprocess.run(command + ["--out", str(tmp_path)] + changed, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert "discarding the checkpoint" in rerun.stderr and "config.lr was 0.001, now 0.002" in rerun.stderr
    assert "resuming" not in rerun.stderr
    assert len(pd.read_csv(tmp_path / "metrics.csv")) == 10
    assert load_latest(tmp_path)["record"]["config"]["lr"] == 0.002
    assert "lr: 0.002" in (tmp_path / "config.yaml").read_text()


def test_checkpoint_from_an_older_trainer_is_refused_with_a_remedy(tmp_path, monkeypatch, tiny_trainer):
    from gymnasium.vector import SyncVectorEnv

    import moe.environments
    from moe import checkpoint
    trainer = tiny_trainer()
    state = trainer.checkpoint_state()
    # Checkpoints of the first version pickled gymnasium's SyncVectorEnv, whose step and
    # reset take and return other things than EnvBatch's.
    state["pickled"]["envs"] = SyncVectorEnv([lambda: trainer.envs.envs[0]])
    with pytest.raises(CheckpointError, match="older version of the trainer.*delete checkpoint.pt"):
        tiny_trainer().load_checkpoint_state(state)

    # Later ones pickled a wrapper class that is gone: unpickling them fails by name.
    class IntegerActions:
        pass

    IntegerActions.__module__, IntegerActions.__qualname__ = "moe.environments", "IntegerActions"
    monkeypatch.setattr(moe.environments, "IntegerActions", IntegerActions, raising=False)
    state["pickled"]["envs"] = IntegerActions()
    run_dir = tmp_path / "old"
    run_dir.mkdir()
    checkpoint.save(run_dir, state)
    monkeypatch.delattr(moe.environments, "IntegerActions")
    with pytest.raises(CheckpointError, match="written by an older version of the trainer.*delete the checkpoint"):
        load_latest(run_dir)
