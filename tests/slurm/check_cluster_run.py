"""Checks of tests/slurm/run_cluster_test.sh, after it ran the grid on SLURM and locally.

Prints one line per check (PASS/FAIL) and exits 1 if any failed:
  - every training run of the grid was submitted to SLURM (a job id in Snakemake's
    log), has the plugin's SLURM log file, and its last job is COMPLETED in SLURM's
    job history (jobcomp/filetxt) and in `squeue -t all` under the run's name;
  - the job cancelled with scancel is CANCELLED in that history, was submitted again,
    resumed from its checkpoint and finished;
  - the tables (and each run's final.json) equal those of the local run.
"""

from __future__ import annotations

import argparse
import filecmp
import re
import sys
from pathlib import Path

import yaml

FAILURES: list[str] = []


def check(ok: bool, what: str, detail: str = "") -> bool:
    print(f"  {'PASS' if ok else 'FAIL'}: {what}" + (f" ({detail})" if detail else ""), flush=True)
    if not ok:
        FAILURES.append(what)
    return ok


def merged_config(repo: Path, configfiles: list[str]) -> dict:
    """config.yaml with the --configfiles merged over it, as Snakemake does."""
    from snakemake.utils import update_config

    config = yaml.safe_load((repo / "workflow/config/config.yaml").read_text())
    for path in configfiles:
        update_config(config, yaml.safe_load(Path(path).read_text()))
    return config


def submissions(log_text: str) -> dict[str, list[str]]:
    """SLURM job ids per train-job wildcard string, in submission order, from Snakemake's log:
    'Job 3 has been submitted with SLURM jobid 17 (log: .../rule_train/<wildcards>/17.log).'"""
    found: dict[str, list[str]] = {}
    pattern = r"submitted with SLURM jobid (\d+) \(log: (\S+?)\)"
    for jobid, logfile in re.findall(pattern, log_text):
        path = Path(logfile)
        if path.parent.parent.name == "rule_train":
            found.setdefault(path.parent.name, []).append(jobid)
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
    from moe.analysis import grid

    config = merged_config(args.slurm_run, args.configfiles)
    runs = grid.train_runs(config)
    log_text = args.snakemake_log.read_text()
    submitted = submissions(log_text)
    history = job_history(args.jobcomp)
    squeue = {}  # job id -> (state, comment), from `squeue -t all -o '%i|%T|%k'`
    for line in args.squeue_history.read_text().splitlines():
        jobid, state, comment = (line.split("|", 2) + ["", ""])[:3]
        squeue[jobid.strip()] = (state.strip(), comment.strip())
    slurm_logs = args.slurm_run / ".snakemake" / "slurm_logs" / "rule_train"

    print(f"Every training job went through SLURM ({len(runs)} runs):")
    check(len(submitted) == len(runs), "one SLURM submission record per training run",
          f"{len(submitted)} submitted, {len(runs)} expected")
    for run in runs:
        wildcards = f"{run['task']}_{run['variant']}_{run['seed']}"
        jobids = submitted.get(wildcards, [])
        name = f"{run['task']}/{run['variant']}/seed{run['seed']}"
        if not check(bool(jobids), f"{name}: submitted with sbatch",
                     f"SLURM job(s) {', '.join(jobids)}" if jobids else "no 'SLURM jobid' line in the log"):
            continue
        last = jobids[-1]
        check(history.get(last) == "COMPLETED", f"{name}: SLURM job {last} COMPLETED in the job history",
              f"state {history.get(last)}, jobs {jobids}")
        check(squeue.get(last) == ("COMPLETED", f"rule_train_wildcards_{wildcards}"),
              f"{name}: squeue lists job {last} as this run's train job, COMPLETED", f"{squeue.get(last)}")
        check((slurm_logs / wildcards / f"{last}.log").is_file(), f"{name}: SLURM log {last}.log exists")
        final = args.slurm_run / run["run_dir"] / "final.json"
        check(final.is_file() and '"finished"' in final.read_text(), f"{name}: final.json status finished")
    check("localrule train" not in log_text, "no training job ran on the submitting node")

    print("A training job killed with scancel mid-run is retried and resumes:")
    task, variant, seed = args.victim.split("/")
    wildcards = f"{task}_{variant}_{seed}"
    run_dir = args.slurm_run / grid.run_dir(task, variant, seed)
    cancelled = args.cancelled_jobid_file.read_text().strip() if args.cancelled_jobid_file.exists() else ""
    if check(bool(cancelled), "a training job was cancelled with scancel after its first checkpoint"):
        jobids = submitted.get(wildcards, [])
        check(history.get(cancelled) == "CANCELLED", f"SLURM job {cancelled} is CANCELLED in the job history",
              f"state {history.get(cancelled)}")
        check(cancelled in jobids and len(jobids) >= 2 and jobids[-1] != cancelled,
              f"{args.victim} was submitted again after the cancel", f"SLURM jobs {jobids}")
        check(f"SLURM-job '{cancelled}' failed" in log_text or f"jobid {cancelled}" in log_text,
              "Snakemake saw the cancelled job fail")
        train_log = (run_dir / "train.log").read_text() if (run_dir / "train.log").exists() else ""
        resumed = re.search(r"resuming \S+ from update (\d+)", train_log)
        check(bool(resumed) and int(resumed.group(1)) >= 1, "the retried job resumed from its checkpoint",
              resumed.group(0) if resumed else "no 'resuming' line in train.log")
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
