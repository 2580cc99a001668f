"""A workflow killed at any moment resumes to the same outputs and tables (issue 17).

- the whole workflow killed mid-run: finished runs stay, interrupted ones resume;
- the trainer killed at each boundary of a run's end, then resumed through the workflow;
- a soak test: a small grid SIGKILLed as a process group at seeded random moments,
  unlocked and resumed each time, ends with the tables of an uninterrupted run.
"""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from moe.train import TIMING_COLUMNS
from tests.workflow_tools import copy_workflow, snakemake, write_config

TASK = "MultiIntent-Hunt-6x6-v0"
UPDATES = 16
WARMUP_UPDATES = UPDATES // 2  # the trainer's first phase ends at half the frames; each run starts there
CONFIG = {
    "tasks": [{"name": TASK, "frames": UPDATES * 512}],
    "corrections": ["temporal"],  # two variants: baseline, temporal
    "seeds": [1],
    "trainer": {"set": {"num_envs": 8, "rollout_steps": 64, "eval.episodes": 4, "checkpoint.interval_updates": 2}},
}


def run_dir(workdir, variant, seed=1):
    return workdir / "results" / "runs" / TASK / variant / "base" / f"seed{seed}"


def rows(path):
    try:
        return len(pd.read_csv(path))
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return 0


@pytest.mark.slow
def test_killed_workflow_resumes_interrupted_runs_and_keeps_finished_ones(tmp_path):
    workdir = copy_workflow(tmp_path / "workflow")
    configfile = write_config(tmp_path / "kill.yaml", CONFIG)
    # The tables: the figures would add minutes and nothing to what is checked here.
    command = [sys.executable, "-m", "snakemake", "tables", "--cores", "1", "--configfile", configfile]
    workflow = subprocess.Popen(command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
    finished = interrupted = None
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and workflow.poll() is None:
        done = [v for v in ("baseline", "temporal") if (run_dir(workdir, v) / "final.json").exists()]
        if len(done) == 1:
            other = "temporal" if done == ["baseline"] else "baseline"
            # metrics.csv starts with the warm-up's rows; past the run's own first checkpoint (interval 2):
            if rows(run_dir(workdir, other) / "metrics.csv") >= WARMUP_UPDATES + 3:
                finished, interrupted = done[0], other
                break
        time.sleep(0.05)
    os.killpg(workflow.pid, signal.SIGKILL)  # the whole workflow: snakemake and its training job
    workflow.wait()
    assert finished, "the workflow was not caught with one run finished and one in progress"
    assert not (run_dir(workdir, interrupted) / "final.json").exists()
    finished_stamp = (run_dir(workdir, finished) / "final.json").stat().st_mtime_ns
    assert (run_dir(workdir, interrupted) / "checkpoint.pt").exists()

    # A killed Snakemake leaves its lock behind: --unlock first, as a user would.
    snakemake(workdir, "--unlock", "--configfile", configfile)
    snakemake(workdir, "tables", "--cores", "1", "--rerun-incomplete", "--configfile", configfile)

    assert (run_dir(workdir, finished) / "final.json").stat().st_mtime_ns == finished_stamp, "finished run retrained"
    log = (workdir / f"results/logs/train/{TASK}/{interrupted}/base/seed1.log").read_text()
    resumed_from = int(log.split("from update ")[1].split()[0])
    assert resumed_from >= WARMUP_UPDATES + 2, log
    metrics = pd.read_csv(run_dir(workdir, interrupted) / "metrics.csv")
    assert list(metrics["update"]) == list(range(1, UPDATES + 1))
    assert (workdir / "results" / "tables" / "final_metrics.csv").exists()


# --- a run killed at each boundary of its end ------------------------------------------

#: Each seed's run dies at one boundary of its end; all four run in one workflow.
KILL_POINTS = {1: "after_final_checkpoint", 2: "after_metrics", 3: "after_evaluation", 4: "after_final_json"}
END_CONFIG = {
    "tasks": [{"name": TASK, "frames": 4 * 512}],
    "corrections": ["temporal"],
    "seeds": list(KILL_POINTS),
    "trainer": {"command": f"{sys.executable} tests/tools/kill_at.py",
                "set": {"num_envs": 8, "rollout_steps": 64, "eval.episodes": 4}},
    "sweeps": {},
}
RUN_FILES = ("metrics.csv", "final.json", "eval_episode.csv", "config.yaml")


def run_outputs(directory: Path) -> dict:
    outputs = {name: (directory / name).read_text() for name in RUN_FILES}
    outputs["metrics.csv"] = pd.read_csv(directory / "metrics.csv").drop(columns=TIMING_COLUMNS).to_csv()
    outputs["config.yaml"] = outputs["config.yaml"].split("versions:")[0]  # the run and its resolved config
    return outputs


@pytest.mark.slow
def test_runs_killed_at_each_boundary_of_their_end_resume_through_the_workflow_to_identical_outputs(tmp_path):
    configfile = write_config(tmp_path / "end.yaml", END_CONFIG)
    targets = [str(run_dir(Path(), "temporal", seed) / "final.json") for seed in KILL_POINTS]
    reference = copy_workflow(tmp_path / "uninterrupted")
    snakemake(reference, *targets, "--cores", "2", "--configfile", configfile)

    workdir = copy_workflow(tmp_path / "killed")
    kill_at = ",".join(f"{seed}:{point}" for seed, point in KILL_POINTS.items())
    killed = snakemake(workdir, *targets, "--cores", "2", "--keep-going", "--configfile", configfile, check=False,
                       env={"MOE_KILL_AT": kill_at})
    assert killed.returncode != 0, "the trainers should have been killed"
    for seed, point in KILL_POINTS.items():
        assert (run_dir(workdir, "temporal", seed) / "checkpoint.pt").exists(), point
        assert not (run_dir(workdir, "temporal", seed) / "final.json").exists(), point  # Snakemake removed it

    snakemake(workdir, *targets, "--cores", "2", "--rerun-incomplete", "--configfile", configfile)
    for seed, point in KILL_POINTS.items():
        log = (workdir / f"results/logs/train/{TASK}/temporal/base/seed{seed}.log").read_text()
        assert "resuming" in log and "from update 4" in log, (point, log)  # nothing was trained twice
        assert run_outputs(run_dir(workdir, "temporal", seed)) == run_outputs(run_dir(reference, "temporal", seed)), \
            point


# --- soak: the whole workflow killed at random moments, again and again -----------------

SOAK_CONFIG = {
    "tasks": [{"name": TASK, "frames": 6 * 512}],
    "corrections": ["temporal"],
    "seeds": [1, 2],
    "trainer": {"set": {"num_envs": 8, "rollout_steps": 64, "eval.episodes": 4, "checkpoint.interval_updates": 1}},
    "sweeps": {},
}
TABLES = ("runs.csv", "final_metrics.csv", "learning_curves.csv")
#: The soak's target: the tables made from the runs (figures only redraw them, and cost minutes).
TARGETS = [f"results/tables/{name}" for name in TABLES]


def soak(workdir: Path, configfile: str, seed: int, kills: int) -> list[float]:
    """Run the workflow to the end, SIGKILLing its process group `kills` times at seeded random moments."""
    rng = random.Random(seed)
    moments = []
    command = [sys.executable, "-m", "snakemake", *TARGETS, "--cores", "2", "--configfile", configfile]
    for _ in range(kills):
        moment = round(rng.uniform(1.0, 25.0), 2)
        moments.append(moment)
        workflow = subprocess.Popen(command + ["--rerun-incomplete"], cwd=workdir, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            workflow.wait(timeout=moment)
        except subprocess.TimeoutExpired:
            os.killpg(workflow.pid, signal.SIGKILL)
            workflow.wait()
        snakemake(workdir, "--unlock", "--configfile", configfile)
    snakemake(workdir, *TARGETS, "--cores", "2", "--rerun-incomplete", "--configfile", configfile)
    return moments


@pytest.mark.slow
def test_soak_random_kills_of_the_whole_workflow_end_with_the_tables_of_an_uninterrupted_run(tmp_path):
    seed = int(os.environ.get("MOE_SOAK_SEED", "17"))
    reference = copy_workflow(tmp_path / "reference")
    configfile = write_config(tmp_path / "soak.yaml", SOAK_CONFIG)
    snakemake(reference, *TARGETS, "--cores", "2", "--configfile", configfile)
    killed = copy_workflow(tmp_path / "killed")
    moments = soak(killed, configfile, seed, kills=3)
    print(f"soak seed {seed}: SIGKILL after {moments} s (replay: MOE_SOAK_SEED={seed})")
    for name in TABLES:
        expected = (reference / "results/tables" / name).read_text()
        assert (killed / "results/tables" / name).read_text() == expected, \
            f"{name} differs after kills at {moments} s (MOE_SOAK_SEED={seed})"
