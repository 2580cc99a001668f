"""Tests of the Snakemake workflow: planning, config validation, lint, and end-to-end runs.

Every snakemake call runs in a temporary copy of the workflow, so results/ and
.snakemake/ of the checkout (where others may be working) are never touched.
The fast end-to-end tests use tests/fakeruns.py as the trainer; the slow one
runs the real trainer on the quick config.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from moe.analysis.metrics import metric_range, names
from moe.analysis.runs import scored
from moe.analysis.stats import mean_ci
from tests.workflow_tools import (
    FAKE_TRAINER,
    REPO,
    copy_workflow,
    parse_workflow,
    planned_jobs,
    snakemake,
    write_config,
)

#: What {report_dir}/tables and {report_dir}/figures hold: deliverables, never logs or benchmark records.
DELIVERABLE_SUFFIXES = {"tables": {".csv", ".md", ".tex"}, "figures": {".pdf", ".png"}}


def check_report(workdir: Path, study: dict, *args: str) -> None:
    """The report is one self-contained page holding every figure and table flagged for it."""
    snakemake(workdir, *args, "--report", "report.html")
    html = (workdir / "report.html").read_text()
    assert len(html) > 100_000
    embedded = set(re.findall(r'"filename":\s*"([^"]+)"', html))
    missing = [name for name in study["report"] if name not in embedded]
    assert not missing, f"not in the report: {missing}"


def check_analysis_tables(workdir: Path, config: dict) -> None:
    """The new tables cover the grid: effects of every term per task and metric, one robust
    row per metric and variant, usage and an episode for every task and variant."""
    tables = workdir / "results/tables"
    tasks = [task["name"] for task in config["tasks"]]
    n_corrections = len(config.get("corrections", default_config()["corrections"]))
    effects = pd.read_csv(tables / "factorial_effects.csv")
    analysis = default_config()["analysis"]
    assert len(effects) == len(tasks) * len(analysis["effect_metrics"]) * (2 ** n_corrections - 1)
    assert set(effects["metric"]) == set(analysis["effect_metrics"])
    assert effects["p_holm"].dropna().between(0, 1).all() and (effects["p_holm"] >= effects["p_value"]).all()
    robust = pd.read_csv(tables / "robust_aggregates.csv")
    assert len(robust) == len(analysis["robust_metrics"]) * 2 ** n_corrections
    assert robust["p_improve"].dropna().between(0, 1).all() and robust["level"].notna().any()
    episodes = pd.read_csv(tables / "eval_episodes.csv")
    assert episodes.groupby(["task", "variant"]).ngroups == len(tasks) * 2 ** n_corrections
    usage = pd.read_csv(tables / "expert_usage.csv")
    assert usage.groupby(["task", "variant"]).ngroups == len(tasks) * 2 ** n_corrections
    summary = pd.read_csv(tables / "final_metrics.csv")
    for column in ("return_auc_mean", "frames_to_threshold_median", "frames_to_threshold_reached"):
        assert column in summary


def check_deliverables_only(report_dir: Path, study: dict) -> None:
    """`ls tables figures` shows the study's tables and figures and nothing else; each rule's
    log and benchmark record is under logs/ and benchmarks/, named like its outputs."""
    for kind in ("tables", "figures"):
        found = sorted(path.name for path in (report_dir / kind).iterdir())
        assert found == study[kind], kind
        assert {Path(name).suffix for name in found} <= DELIVERABLE_SUFFIXES[kind]
    for name in ("tables/final_metrics", "tables/expert_usage", "figures/learning_curves", "figures/final_return"):
        assert (report_dir / "logs" / f"{name}.log").is_file(), name
        assert (report_dir / "benchmarks" / f"{name}.tsv").is_file(), name


def default_config() -> dict:
    return yaml.safe_load((REPO / "workflow/config/config.yaml").read_text())


@pytest.fixture(scope="module")
def workflow_copy(tmp_path_factory) -> Path:
    return copy_workflow(tmp_path_factory.mktemp("workflow"))


@pytest.fixture(scope="module")
def parsed(workflow_copy) -> dict:
    return parse_workflow(workflow_copy)


@pytest.fixture(scope="module")
def study(parsed) -> dict:
    """The main study's tables and figures (file names), and those in the report, as the rules
    declare them (`final_output`, `report`): the end-to-end tests expect each of them and
    nothing else, so a new table or figure is checked where it is declared."""
    final = [Path(path) for path in parsed["final"]]
    report = {path for rule in parsed["rules"].values() for path in rule["report"]}
    return {"tables": sorted(path.name for path in final if path.parent.name == "tables"),
            "figures": sorted(path.name for path in final if path.parent.name == "figures"),
            "report": sorted(path.name for path in final if str(path) in report)}


def test_every_figure_is_a_pdf_and_a_png_in_the_report(study):
    figures = study["figures"]
    assert {"learning_curves.png", "final_return.png"} <= set(figures)  # named in workflow/README.md
    assert sorted(Path(name).stem for name in figures if name.endswith(".pdf")) == \
        sorted(Path(name).stem for name in figures if name.endswith(".png"))
    assert set(figures) <= set(study["report"])
    assert {"runs.csv", "final_metrics.csv", "learning_curves.csv"} <= set(study["tables"])
    assert "final_metrics.csv" in study["report"] and "runs.csv" not in study["report"]


# --- planning -------------------------------------------------------------------


def test_default_config_plans_tasks_x_8_variants_x_seeds(workflow_copy, parsed):
    config = default_config()
    assert len(config["corrections"]) == 3 and len(config["seeds"]) >= 5
    jobs = planned_jobs(workflow_copy)
    assert jobs["train"] == len(config["tasks"]) * 8 * len(config["seeds"])
    assert jobs["warmup"] == len(config["tasks"]) * len(config["seeds"])  # shared by the 8 variants
    # Besides training, one job of each rule that makes a table or figure of the study, and `all`.
    makers = {name for name, rule in parsed["rules"].items() if set(rule["output"]) & set(parsed["final"])}
    assert {"aggregate_final", "aggregate_curves", "plot_learning_curves"} <= makers  # named in workflow/README.md
    assert {rule: count for rule, count in jobs.items() if rule not in ("train", "warmup")} == \
        dict.fromkeys(makers | {"all"}, 1)


def test_fourth_correction_doubles_the_grid_and_shares_the_warmups(workflow_copy, tmp_path):
    config = default_config()
    extra = write_config(tmp_path / "four.yaml", {"corrections": [*config["corrections"], "balance"]})
    jobs, base = planned_jobs(workflow_copy, "--configfile", extra), planned_jobs(workflow_copy)
    assert jobs["train"] == 2 * base["train"] and jobs["warmup"] == base["warmup"]


def test_quick_config_plans_small_tasks(workflow_copy):
    quick = yaml.safe_load((REPO / "workflow/config/quick.yaml").read_text())
    jobs = planned_jobs(workflow_copy, "--configfile", "workflow/config/quick.yaml")
    assert jobs["train"] == len(quick["tasks"]) * 8 * len(quick["seeds"])
    assert all(task["frames"] <= 10_000 for task in quick["tasks"])


def test_sweep_runs_are_ordinary_runs_and_its_default_value_is_the_grids_run(workflow_copy):
    config = default_config()
    sweep = config["sweeps"]["temporal_coef"]
    assert sweep["key"] == "corrections.temporal.coef" and 3 in sweep["values"]
    jobs = planned_jobs(workflow_copy, "sweep_temporal_coef")
    seeds = config["seeds"][:sweep["num_seeds"]]
    runs = len(sweep["values"]) * len(config["tasks"]) * len(seeds)
    assert jobs == {"warmup": len(config["tasks"]) * len(seeds), "train": runs,
                    "aggregate_sweep": 1, "plot_sweep": 1, "sweep_temporal_coef": 1}
    result = snakemake(workflow_copy, "--dry-run", "--printshellcmds", "sweep_temporal_coef")
    assert re.search(r"--variant temporal .*--set corrections\.temporal\.coef=0\.3 "
                     r"--out results/runs/\S+/temporal/corrections\.temporal\.coef=0\.3/seed", result.stdout)
    # lambda_T = 3 is the default: that value's runs are the grid's `temporal` runs.
    assert not re.search(r"coef=3(?![0-9.])", result.stdout) and "/temporal/base/seed1" in result.stdout


def test_train_command_carries_config_overrides(workflow_copy, tmp_path):
    task = "MultiIntent-Hunt-6x6-v0"
    extra = write_config(tmp_path / "o.yaml", {
        "tasks": [{"name": task, "frames": 64, "set": {"num_envs": 2}}], "seeds": [7],
        "trainer": {"set": {"eval.episodes": 10}}})
    result = snakemake(workflow_copy, "--dry-run", "--printshellcmds", "--configfile", extra)
    run = f"results/runs/{task}/entropy_min+temporal/base/seed7"
    assert re.search(rf"moe-train --env {task} --variant entropy_min\+temporal --seed 7 --frames 64 "
                     rf"--set eval.episodes=10 --set num_envs=2 --out {re.escape(run)} "
                     rf"--from-warmup results/warmups/{task}/[0-9a-f]+/seed7 "
                     rf"> results/logs/train/{task}/entropy_min\+temporal/base/seed7.log 2>&1", result.stdout)
    assert re.search(rf"moe-train --env {task} --variant baseline --seed 7 --frames 64 --set eval.episodes=10 "
                     rf"--set num_envs=2 --out results/warmups/{task}/[0-9a-f]+/seed7 --warmup-only", result.stdout)
    # the trainer's checkpoint is not a declared output, so Snakemake never deletes it
    assert f"output: results/runs/{task}/baseline/base/seed7/final.json" in result.stdout
    assert "checkpoint.pt" not in result.stdout


def test_only_warmup_and_train_jobs_leave_the_submitting_node(parsed):
    """Every other rule is a localrule, including those made with `use rule ... with:`, whose
    `with:` block resets `localrule` unless it repeats it. Snakemake shows locality only under a
    cluster executor (tests/slurm checks it there), so this reads the parsed workflow."""
    is_local = {name: rule["local"] for name, rule in parsed["rules"].items()}
    assert {"plot_final_return", "plot_eval_episodes", "aggregate_sweep", "plot_sweep", "sweep_temporal_coef",
            "all"} <= set(is_local)
    assert sorted(rule for rule, local in is_local.items() if not local) == ["train", "warmup"]


# --- validation and lint ----------------------------------------------------------


@pytest.mark.parametrize(
    "bad_config, key",
    [
        ({"seed": [1, 2]}, "'seed'"),                                        # unknown top-level key
        ({"trainer": {"comand": "x"}}, "'trainer.comand'"),                  # unknown nested key
        ({"seeds": ["one"]}, "'seeds.0'"),                                   # wrong type
        ({"tasks": [{"name": "A-v0", "frames": 0}]}, "'tasks.0.frames'"),    # wrong value
        ({"corrections": "temporal"}, "'corrections'"),                      # wrong type
        ({"sweeps": {"s": {"variant": "nope", "key": "lr", "values": [1]}}}, "'sweeps.s.variant'"),
        # What only the trainer's own config code knows, checked at parse time (issue 20):
        ({"tasks": [{"name": "NoSuch-v0", "frames": 1000}]}, "'tasks.0.name': unknown env id 'NoSuch-v0'"),
        ({"trainer": {"set": {"no_such.key": 1}}}, "'trainer.set' (no_such.key=1)"),
        ({"sweeps": {"temporal_coef": {"variant": "temporal", "key": "corrections.temporl.coef",
                                       "values": [0.3, 1]}}},
         "'sweeps.temporal_coef' (corrections.temporl.coef=0.3): the trainer refuses it: config key "
         "corrections.temporl: unknown correction"),
        ({"corrections": ["temporal", "entropy_min"]}, "'corrections'"),
    ],
)
def test_invalid_config_stops_before_any_job_naming_the_key(workflow_copy, tmp_path, bad_config, key):
    result = snakemake(workflow_copy, "--dry-run", "--configfile", write_config(tmp_path / "bad.yaml", bad_config),
                       check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Invalid config" in output and key in output, output
    assert "Job stats" not in output
    message = [line for line in output.splitlines() if line.startswith("Invalid config")]
    assert len(message) == 1, output  # one line names the problem


def test_lint_reports_nothing_but_the_missing_conda_environments(workflow_copy):
    """Rules carry no `conda:` directive on purpose: the project is one pip package (`pip install -e .`),
    conda channels are out of reach where this is built and tested, and an untested deployment
    path must not be offered. Every other lint must be clean."""
    result = snakemake(workflow_copy, "--lint", check=False)
    output = result.stdout + result.stderr
    lints = re.findall(r"^\s+\* (.+?):?$", output, re.M)
    assert lints and set(lints) == {"Specify a conda environment or container for each rule."}, output


# --- end to end with the fake trainer ----------------------------------------------


def check_tables_match_runs(workdir: Path, config: dict) -> pd.DataFrame:
    """Recompute every table cell of a final.json metric from the runs' final.json files:
    finished runs' values, diverged runs' failure scores (`scored`)."""
    summary = pd.read_csv(workdir / "results/tables/final_metrics.csv")
    variants = summary["variant"].unique().tolist()
    assert len(variants) == 2 ** len(config.get("corrections", default_config()["corrections"]))
    for row in summary.itertuples(index=False):
        finals = []
        for seed in config["seeds"]:
            path = workdir / f"results/runs/{row.task}/{row.variant}/base/seed{seed}/final.json"
            finals.append(json.loads(path.read_text()) if path.exists() else None)
        finished = [f for f in finals if f and f["status"] == "finished"]
        assert row.n_seeds == len(config["seeds"])
        assert row.n_finished == len(finished)
        assert row.n_diverged == sum(1 for f in finals if f and f["status"] == "diverged")
        assert row.n_missing == sum(1 for f in finals if f is None)
        experts = max((f["num_experts"] for f in finals if f), default=None)  # ln K bounds the router's
        for metric in names(source="final.json"):
            values = [scored(metric, f["status"], math.nan if f.get(metric) is None else f[metric])
                      for f in finals if f]
            expected = mean_ci(values, bounds=metric_range(metric, experts))
            got = (getattr(row, f"{metric}_mean"), getattr(row, f"{metric}_ci_low"), getattr(row, f"{metric}_ci_high"))
            for e, g in zip(expected, got, strict=True):
                assert (math.isnan(e) and math.isnan(g)) or g == pytest.approx(e, rel=1e-9), (row, metric)
    return summary


def test_failed_runs_reported_as_missing_with_keep_going(tmp_path, study):
    """The documented recovery: --keep-going trains what it can, then
    --config allow_missing_runs=True tables the rest as missing, and a later plain
    call trains the rest and tables the whole grid."""
    workdir = copy_workflow(tmp_path)
    good, crash = "MultiIntent-Hunt-6x6-v0", "MultiIntent-Dodge-6x6-v0"
    config = {
        **FAKE_TRAINER,
        "tasks": [{"name": good, "frames": 64}, {"name": crash, "frames": 64}],
        "corrections": ["temporal"],
        "seeds": [1, 2],
        "sweeps": {},
    }
    configfile = write_config(tmp_path / "crash.yaml", config)
    result = snakemake(workdir, "--cores", "2", "--keep-going", "--configfile", configfile, check=False,
                       env={"MOE_FAKE_CRASH": crash})
    assert result.returncode != 0
    assert not (workdir / "results/tables/final_metrics.csv").exists()  # blocked by the failed runs

    snakemake(workdir, "--cores", "2", "--configfile", configfile, "--config", "allow_missing_runs=True")
    summary = check_tables_match_runs(workdir, config)
    crashed = summary[summary["task"] == crash]
    assert crashed["n_missing"].tolist() == [2, 2] and crashed["n_finished"].tolist() == [0, 0]
    assert summary[summary["task"] == good]["n_finished"].tolist() == [2, 2]
    for name in study["figures"]:
        assert (workdir / "results/figures" / name).exists()

    # Tables of part of the grid do not hide the rest, even without the records (.snakemake/metadata)
    # by which Snakemake sees that their set of inputs changed: tables copied in, or a fresh checkout.
    # Snakemake does not remake a missing input of an output it finds up to date, so `all` asks for
    # the runs themselves.
    shutil.rmtree(workdir / ".snakemake" / "metadata")
    jobs = planned_jobs(workdir, "--configfile", configfile)
    assert jobs.get("train") == 4 and jobs.get("aggregate_final") == 1, jobs
    snakemake(workdir, "--cores", "2", "--configfile", configfile)
    summary = check_tables_match_runs(workdir, config)
    assert summary["n_missing"].tolist() == [0, 0, 0, 0] and summary["n_finished"].tolist() == [2, 2, 2, 2]


def test_tables_rebuilt_from_copied_runs_without_training(tmp_path, study):
    """`train: false` (committed reference results): the tables and figures are remade from
    the runs under runs_dir, in report_dir, and no training job can be planned."""
    trained = copy_workflow(tmp_path / "trained")
    config = {**FAKE_TRAINER, "tasks": [{"name": "MultiIntent-Hunt-6x6-v0", "frames": 64},
                                        {"name": "MultiIntent-Dodge-6x6-v0", "frames": 64}],
              "corrections": ["temporal"], "seeds": [1, 2]}
    configfile = write_config(tmp_path / "grid.yaml", config)
    snakemake(trained, "tables", "--cores", "2", "--configfile", configfile)  # the runs and their tables

    rebuilt = copy_workflow(tmp_path / "rebuilt")  # a fresh checkout: no .snakemake records
    shutil.copytree(trained / "results/runs", rebuilt / "reference/runs")
    args = ["--configfile", configfile, "--config", "train=False", "runs_dir=reference/runs",
            "report_dir=reference"]
    jobs = planned_jobs(rebuilt, *args)
    assert "train" not in jobs and "warmup" not in jobs
    assert jobs["aggregate_final"] == 1 and jobs["all"] == 1
    snakemake(rebuilt, "--cores", "2", *args)

    tables = sorted(path.name for path in (trained / "results/tables").iterdir())
    assert sorted(path.name for path in (rebuilt / "reference/tables").iterdir()) == tables
    for name in tables:
        original = (trained / "results/tables" / name).read_bytes()
        if name == "runs.csv":  # its run_dir column says where the runs are
            original = original.replace(b"results/runs/", b"reference/runs/")
        assert (rebuilt / "reference/tables" / name).read_bytes() == original, name
    assert sorted(path.name for path in (rebuilt / "reference/figures").iterdir()) == study["figures"]
    assert not (rebuilt / "results").exists()  # no run, warm-up or training log written elsewhere
    assert planned_jobs(rebuilt, *args) == {}

    # The trained grid against those runs as its reference: every final.json identical.
    snakemake(trained, "compare_reference", "--cores", "1", "--configfile", configfile,
              "--config", f"reference_runs_dir={rebuilt / 'reference/runs'}")
    verdict = (trained / "results/tables/compare_reference.md").read_text()
    assert "8 of 8 runs present in both match the reference's final.json, key for key" in verdict
    assert "0 of 24 task x variant x metric means fall outside" in verdict  # 2 tasks x 2 variants x 6

    # A run that is not there is named, not trained; allow_missing_runs tables it as missing.
    missing = "reference/runs/MultiIntent-Dodge-6x6-v0/temporal/base/seed2"
    shutil.rmtree(rebuilt / missing)
    result = snakemake(rebuilt, "--dry-run", *args, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "1 of 8 runs have no final.json" in output, output
    assert re.search(rf"^\s*{re.escape(missing)}$", output, re.M), output
    jobs = planned_jobs(rebuilt, *args, "allow_missing_runs=True")
    assert "train" not in jobs and jobs["aggregate_final"] == 1


def test_fake_sweep_end_to_end_reuses_the_grids_runs(tmp_path):
    workdir = copy_workflow(tmp_path)
    task = "MultiIntent-Hunt-6x6-v0"
    config = {**FAKE_TRAINER, "tasks": [{"name": task, "frames": 64}], "seeds": [1, 2]}
    configfile = write_config(tmp_path / "sweep.yaml", config)
    snakemake(workdir, "tables", "--cores", "2", "--configfile", configfile)  # the grid first
    values = [str(value) for value in default_config()["sweeps"]["temporal_coef"]["values"]]
    jobs = planned_jobs(workdir, "sweep_temporal_coef", "--configfile", configfile)
    assert jobs["train"] == (len(values) - 1) * 2 and "warmup" not in jobs  # the default value's runs exist
    snakemake(workdir, "sweep_temporal_coef", "--cores", "2", "--configfile", configfile)
    table = pd.read_csv(workdir / "results/tables/sweep_temporal_coef.csv", dtype={"setting": str})
    assert table["setting"].tolist() == values
    assert table["n_finished"].tolist() == [2] * len(values)
    log = workdir / f"results/logs/train/{task}/temporal/corrections.temporal.coef={values[1]}/seed2.log"
    assert f"'corrections.temporal.coef': '{values[1]}'" in log.read_text() and "temporal seed 2" in log.read_text()
    for ext in ("pdf", "png"):
        assert (workdir / f"results/figures/sweep_temporal_coef.{ext}").stat().st_size > 1000

    # A sweep run gone, and Snakemake's records with it: the sweep's target trains it again, as `all` does
    # the grid's (test_failed_runs_reported_as_missing_with_keep_going).
    shutil.rmtree(workdir / f"results/runs/{task}/temporal/corrections.temporal.coef={values[1]}/seed2")
    shutil.rmtree(workdir / ".snakemake" / "metadata")
    jobs = planned_jobs(workdir, "sweep_temporal_coef", "--configfile", configfile)
    assert jobs.get("train") == 1 and jobs.get("aggregate_sweep") == 1, jobs


# --- end to end with the real trainer -----------------------------------------------


@pytest.mark.slow
def test_quick_config_end_to_end_with_real_trainer(tmp_path, study):
    """The README's main job with the real trainer, every table and figure, cut to the first
    of its tasks (the one its sweep runs on) and one correction (the full quick grid's plan
    is checked above, the 8-variant grid end to end with the fake trainer, each task and
    correction in the trainer's own tests); then what a user does next: edit a plot, find
    a run diverged, make the report."""
    workdir = copy_workflow(tmp_path)
    quick = yaml.safe_load((REPO / "workflow/config/quick.yaml").read_text())
    cut = {"tasks": quick["tasks"][:1], "corrections": ["temporal"]}
    quick.update(cut)
    args = ["--configfile", "workflow/config/quick.yaml", write_config(tmp_path / "cut.yaml", cut)]
    snakemake(workdir, "--cores", "2", *args, timeout=1200)
    for name in study["tables"]:
        assert (workdir / "results/tables" / name).stat().st_size > 0
    for name in study["figures"]:
        assert (workdir / "results/figures" / name).stat().st_size > 1000
    check_deliverables_only(workdir / "results", study)
    task = quick["tasks"][0]["name"]
    run = workdir / "results/runs" / task / "baseline/base/seed1"
    log = workdir / f"results/logs/train/{task}/baseline/base/seed1.log"
    assert log.exists() and (workdir / f"results/benchmarks/train/{task}/baseline/base/seed1.tsv").exists()
    recorded = yaml.safe_load((run / "config.yaml").read_text())
    assert recorded["config"]["eval"]["episodes"] == quick["trainer"]["set"]["eval.episodes"]  # overrides arrive
    summary = check_tables_match_runs(workdir, quick)
    cells = len(quick["tasks"]) * 2 ** len(quick["corrections"])
    assert len(summary) == cells
    assert summary["n_finished"].sum() + summary["n_diverged"].sum() == cells * len(quick["seeds"])
    check_analysis_tables(workdir, quick)
    assert json.loads((run / "final.json").read_text())["num_experts"] == 4
    assert planned_jobs(workdir, *args) == {}

    # Editing the tables' and figures' script re-plans each of them once, never training.
    script = workdir / "workflow/scripts/run.py"
    script.write_text(script.read_text() + "\n# edited\n")
    jobs = planned_jobs(workdir, *args)
    assert set(jobs.values()) == {1} and {"aggregate_final", "plot_final_return", "all"} <= set(jobs)
    assert "train" not in jobs and "warmup" not in jobs
    snakemake(workdir, "--cores", "2", *args)

    # A run that diverges after the fact (final.json rewritten) re-aggregates, and is counted.
    final_path = run / "final.json"
    final = json.loads(final_path.read_text())
    final.update(status="diverged", return_mean=None)
    final_path.write_text(json.dumps(final))
    jobs = planned_jobs(workdir, *args)
    assert "train" not in jobs and "warmup" not in jobs and jobs["aggregate_final"] == 1
    snakemake(workdir, "--cores", "2", *args)
    summary = check_tables_match_runs(workdir, quick)
    assert summary.loc[0, "n_diverged"] == 1 and summary.loc[0, "n_finished"] == 1

    # The report is one self-contained page with every figure.
    check_report(workdir, study, *args)

    # Beside the quick grid's runs, every grid the README documents still plans.
    for grid in ([], ["sweeps"], ["--configfile", "workflow/config/extended.yaml"]):
        jobs = planned_jobs(workdir, "--cores", "8", *grid)
        assert jobs["train"] > 0 and jobs["warmup"] > 0, grid
