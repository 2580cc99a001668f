"""Checks of tests/slurm/run_cluster_test.sh, after it ran the grid on SLURM and locally.

Prints one line per check (PASS/FAIL) and exits 1 if any failed:
  - every warm-up and every training run of the grid was submitted to SLURM (a job
    id in Snakemake's log), has the plugin's SLURM log file, and its last job is
    COMPLETED in SLURM's job history (jobcomp/filetxt) and in `squeue -t all` under
    its rule and wildcards; every other job (aggregation, plotting, `all`) ran on the
    submitting node as a `localrule`;
  - the job cancelled with scancel is CANCELLED in that history, was submitted again,
    resumed from its own checkpoint (past the warm-up) and finished;
  - the tables (and each run's final.json) equal those of the local run.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import re
import sys
from pathlib import Path

FAILURES: list[str] = []


def check(ok: bool, what: str, detail: str = "") -> bool:
    print(f"  {'PASS' if ok else 'FAIL'}: {what}" + (f" ({detail})" if detail else ""), flush=True)
    if not ok:
        FAILURES.append(what)
    return ok


#: The rules whose jobs are SLURM jobs; every other rule is a `localrule`.
SUBMITTED_RULES = ("warmup", "train")


def submissions(log_text: str) -> dict[tuple[str, str], list[str]]:
    """SLURM job ids per (rule, wildcard string), in submission order, from Snakemake's log:
    'Job 3 has been submitted with SLURM jobid 17 (log: .../rule_train/<wildcards>/17.log).'
    The plugin joins a job's wildcard values with '_'."""
    found: dict[tuple[str, str], list[str]] = {}
    pattern = r"submitted with SLURM jobid (\d+) \(log: (\S+?)\)"
    for jobid, logfile in re.findall(pattern, log_text):
        path = Path(logfile)
        rule = path.parent.parent.name.removeprefix("rule_")
        found.setdefault((rule, path.parent.name), []).append(jobid)
    return found


def job_history(jobcomp: Path) -> dict[str, str]:
    """Job id -> final state, from slurmctld's jobcomp/filetxt log."""
    states = {}
    if jobcomp.exists():
        for line in jobcomp.read_text().splitlines():
            jobid = re.search(r"\bJobId=(\d+)", line)
            state = re.search(r"\bJobState=(\S+)", line)
            if jobid and state:
                states[jobid.group(1)] = state.group(1)
    return states


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--slurm-run", type=Path, required=True)
    parser.add_argument("--local-run", type=Path, required=True)
    parser.add_argument("--snakemake-log", type=Path, required=True)
    parser.add_argument("--jobcomp", type=Path, required=True)
    parser.add_argument("--squeue-history", type=Path, required=True)
    parser.add_argument("--cancelled-jobid-file", type=Path, required=True)
    parser.add_argument("--victim", required=True, help="TASK/VARIANT/SEED of the scancelled run")
    parser.add_argument("--configfiles", nargs="+", required=True)
    args = parser.parse_args()

    sys.path.insert(0, str(args.slurm_run))
    # The plan reads the runs_dir relative to the working directory: the cluster's copy, never the checkout
    # the test was started from, whose results/runs may hold the README's main job with other budgets.
    os.chdir(args.slurm_run)
    from moe import plan

    config = plan.load_config(args.configfiles, repo=args.slurm_run)
    runs = plan.train_runs(config)
    # The grid's warm-ups (the config's sweeps have their own and are not run here). A warm-up
    # directory is {warmups_dir}/{task}/{signature}/seed{seed}: its job's wildcards.
    warmups = {run.warmup_dir: run.warmup_dir.removeprefix(config["warmups_dir"] + "/").split("/")
               for run in plan.build(config)["grid"]}
    log_text = args.snakemake_log.read_text()
    submitted = submissions(log_text)
    history = job_history(args.jobcomp)
    squeue = {}  # job id -> (state, comment), from `squeue -t all -o '%i|%T|%k'`
    for line in args.squeue_history.read_text().splitlines():
        jobid, state, comment = (line.split("|", 2) + ["", ""])[:3]
        squeue[jobid.strip()] = (state.strip(), comment.strip())
    slurm_logs = args.slurm_run / ".snakemake" / "slurm_logs"

    def check_slurm_job(rule: str, wildcards: str, name: str) -> bool:
        jobids = submitted.get((rule, wildcards), [])
        if not check(bool(jobids), f"{name}: submitted with sbatch",
                     f"SLURM job(s) {', '.join(jobids)}" if jobids else "no 'SLURM jobid' line in the log"):
            return False
        last = jobids[-1]
        check(history.get(last) == "COMPLETED", f"{name}: SLURM job {last} COMPLETED in the job history",
              f"state {history.get(last)}, jobs {jobids}")
        check(squeue.get(last) == ("COMPLETED", f"rule_{rule}_wildcards_{wildcards}"),
              f"{name}: squeue lists job {last} as this {rule} job, COMPLETED", f"{squeue.get(last)}")
        return check((slurm_logs / f"rule_{rule}" / wildcards / f"{last}.log").is_file(),
                     f"{name}: SLURM log {last}.log exists")

    print(f"Every warm-up went through SLURM ({len(warmups)} warm-ups):")
    submitted_warmups = [key for key in submitted if key[0] == "warmup"]
    check(len(submitted_warmups) == len(warmups), "one SLURM submission record per warm-up",
          f"{len(submitted_warmups)} submitted, {len(warmups)} expected")
    for directory, (task, signature, seed) in warmups.items():
        if check_slurm_job("warmup", f"{task}_{signature}_{seed.removeprefix('seed')}", f"warm-up {directory}"):
            marker = args.slurm_run / directory / "warmup.json"
            check(marker.is_file() and '"finished"' in marker.read_text(), f"{directory}: warmup.json status finished")

    print(f"Every training job went through SLURM ({len(runs)} runs):")
    submitted_runs = [key for key in submitted if key[0] == "train"]
    check(len(submitted_runs) == len(runs), "one SLURM submission record per training run",
          f"{len(submitted_runs)} submitted, {len(runs)} expected")
    for run in runs:
        name = f"{run['task']}/{run['variant']}/{run['settings']}/seed{run['seed']}"
        if check_slurm_job("train", f"{run['task']}_{run['variant']}_{run['settings']}_{run['seed']}", name):
            final = args.slurm_run / run["run_dir"] / "final.json"
            check(final.is_file() and '"finished"' in final.read_text(), f"{name}: final.json status finished")

    print("Only warm-ups and training left the submitting node:")
    jobs = re.findall(r"^(local)?rule (\w+):$", log_text, re.M)
    remote = sorted({rule for local, rule in jobs if not local})
    local = sorted({rule for local, rule in jobs if local})
    check(remote == sorted(SUBMITTED_RULES), "the SLURM jobs are warm-ups and training", ", ".join(remote))
    check(bool(local) and not set(local) & set(SUBMITTED_RULES),
          "every other job ran on the submitting node (localrule)", ", ".join(local))
    check("aggregate_final" in local and "all" in local, "aggregation and `all` among the local jobs")

    print("A training job killed with scancel mid-run is retried and resumes:")
    task, variant, seed = args.victim.split("/")
    victim = plan.run(config, task, variant, plan.BASE_SETTINGS, seed)
    wildcards = f"{task}_{variant}_{victim.settings}_{seed}"
    train_log_path = (args.slurm_run / config["logs_dir"] / "train" / task / variant / victim.settings
                      / f"seed{seed}.log")
    warmup_marker = args.slurm_run / victim.warmup_dir / "warmup.json"
    warmup_updates = json.loads(warmup_marker.read_text())["updates"] if warmup_marker.is_file() else None
    cancelled = args.cancelled_jobid_file.read_text().strip() if args.cancelled_jobid_file.exists() else ""
    if check(bool(cancelled), "a training job was cancelled with scancel after its first checkpoint"):
        jobids = submitted.get(("train", wildcards), [])
        check(history.get(cancelled) == "CANCELLED", f"SLURM job {cancelled} is CANCELLED in the job history",
              f"state {history.get(cancelled)}")
        check(cancelled in jobids and len(jobids) >= 2 and jobids[-1] != cancelled,
              f"{args.victim} was submitted again after the cancel", f"SLURM jobs {jobids}")
        check(f"SLURM-job '{cancelled}' failed" in log_text or f"jobid {cancelled}" in log_text,
              "Snakemake saw the cancelled job fail")
        train_log = train_log_path.read_text() if train_log_path.exists() else ""
        resumed = re.search(r"resuming \S+ from update (\d+)", train_log)
        check(bool(resumed) and warmup_updates is not None and int(resumed.group(1)) > warmup_updates,
              "the retried job resumed from its own checkpoint, past the warm-up",
              f"{resumed.group(0) if resumed else f'no resuming line in {train_log_path.name}'}; "
              f"warm-up: {warmup_updates} updates")
    check("steps (100%) done" in log_text, "the SLURM run completed the whole grid")

    print("Tables equal those of the local run with the same seeds:")
    tables = sorted(p.relative_to(args.local_run) for p in (args.local_run / "results/tables").glob("*")
                    if p.suffix in {".csv", ".md", ".tex"})
    check(len(tables) >= 5, "the local run wrote the tables", ", ".join(map(str, tables)))
    for table in tables:
        slurm_table = args.slurm_run / table
        check(slurm_table.is_file() and filecmp.cmp(slurm_table, args.local_run / table, shallow=False),
              f"{table} identical")
    same_finals = [run["run_dir"] for run in runs
                   if all((base / run["run_dir"] / "final.json").is_file() for base in (args.slurm_run, args.local_run))
                   and filecmp.cmp(args.slurm_run / run["run_dir"] / "final.json",
                                  args.local_run / run["run_dir"] / "final.json", shallow=False)]
    check(len(same_finals) == len(runs), "every run's final.json identical", f"{len(same_finals)}/{len(runs)}")

    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
