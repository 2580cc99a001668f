"""Kill the whole workflow mid-run, rerun with --rerun-incomplete: finished runs stay, interrupted ones resume."""

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from tests.test_workflow import copy_workflow, snakemake, write_config

TASK = "MultiIntent-Hunt-6x6-v0"
UPDATES = 16
CONFIG = {
    "tasks": [{"name": TASK, "frames": UPDATES * 512}],
    "corrections": ["temporal"],  # two variants: baseline, temporal
    "seeds": [1],
    "trainer": {"set": {"num_envs": 8, "rollout_steps": 64, "eval.episodes": 4, "checkpoint.interval_updates": 2}},
}


def run_dir(workdir, variant):
    return workdir / "results" / "runs" / TASK / variant / "seed1"


def rows(path):
    try:
        return len(pd.read_csv(path))
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return 0


@pytest.mark.slow
def test_killed_workflow_resumes_interrupted_runs_and_keeps_finished_ones(tmp_path):
    workdir = copy_workflow(tmp_path / "workflow")
    configfile = write_config(tmp_path / "kill.yaml", CONFIG)
    command = [sys.executable, "-m", "snakemake", "--cores", "1", "--configfile", configfile]
    workflow = subprocess.Popen(command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
    finished = interrupted = None
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and workflow.poll() is None:
        done = [v for v in ("baseline", "temporal") if (run_dir(workdir, v) / "final.json").exists()]
        if len(done) == 1:
            other = "temporal" if done == ["baseline"] else "baseline"
            if rows(run_dir(workdir, other) / "metrics.csv") >= 5:  # past the checkpoint at update 4
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
    snakemake(workdir, "--cores", "1", "--rerun-incomplete", "--configfile", configfile)

    assert (run_dir(workdir, finished) / "final.json").stat().st_mtime_ns == finished_stamp, "finished run retrained"
    log = (run_dir(workdir, interrupted) / "train.log").read_text()
    resumed_from = int(log.split("from update ")[1].split()[0])
    assert resumed_from >= 4, log
    metrics = pd.read_csv(run_dir(workdir, interrupted) / "metrics.csv")
    assert list(metrics["update"]) == list(range(1, UPDATES + 1))
    assert (workdir / "results" / "tables" / "final_metrics.csv").exists()
