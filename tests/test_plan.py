"""The runs a workflow config describes: names, shared warm-ups, and settings trained once."""

import copy
import re

import pytest

from moe import plan

HUNT, DODGE = "MultiIntent-Hunt-6x6-v0", "MultiIntent-Dodge-6x6-v0"
CONFIG = {
    "tasks": [{"name": HUNT, "frames": 4096}, {"name": DODGE, "frames": 8192, "set": {"num_envs": 4}}],
    "corrections": ["entropy_min", "temporal", "overlap"],
    "seeds": [1, 2, 3],
    "trainer": {"command": "moe-train", "config": "", "set": {"eval.episodes": 10, "eval.greedy": True}},
    "resources": {"train": {"mem_mb": 1000, "runtime_base_min": 5, "frames_per_min": 1000}},
    "runs_dir": "results/runs", "warmups_dir": "results/warmups",
    "sweeps": {"t": {"variant": "temporal", "key": "corrections.temporal.coef", "values": [0.01, 3.0],
                     "tasks": [DODGE], "num_seeds": 0},
               "experts": {"variant": "baseline", "key": "model.num_experts", "values": [2, 4],
                           "tasks": [], "num_seeds": 1},
               "encoder": {"variant": "baseline", "tasks": [HUNT], "num_seeds": 1,
                           "settings": {"gat-small": {"model.gat_dim": 16, "model.gat_layers": 2}, "cnn":
                                        {"model.encoder": "cnn"}, "gat-default": {}}}},
}


@pytest.fixture(autouse=True)
def planned_from_an_empty_directory(tmp_path, monkeypatch):
    """Each test plans from its own empty directory: the config's relative `runs_dir` must not
    meet the runs a user's checkout holds (the quick grid's, a half-finished one)."""
    monkeypatch.chdir(tmp_path)


def config_with(**changes):
    config = copy.deepcopy(CONFIG)
    config.update(changes)
    return config


def test_train_grid_is_tasks_times_variants_times_seeds():
    runs = plan.train_runs(CONFIG)
    assert len(runs) == 2 * 8 * 3
    assert runs[0] == {"task": HUNT, "variant": "baseline", "settings": "base", "seed": 1,
                       "run_dir": f"results/runs/{HUNT}/baseline/base/seed1"}
    four = config_with(corrections=[*CONFIG["corrections"], "balance"])
    assert len(plan.train_runs(four)) == 2 * len(runs)


def test_trainer_command_layers_global_task_and_sweep_settings():
    run = plan.run(CONFIG, DODGE, "temporal", "corrections.temporal.coef=0.01", 2)
    assert plan.trainer_command(run, CONFIG) == (
        f"--env {DODGE} --variant temporal --seed 2 --frames 8192 --set eval.episodes=10 --set eval.greedy=true "
        "--set num_envs=4 --set corrections.temporal.coef=0.01")
    assert plan.train_runtime_min(CONFIG, DODGE) == 5 + 9


def test_a_sweep_value_equal_to_the_grids_setting_is_the_grids_run():
    runs = plan.sweep_runs(CONFIG, "t")
    assert [(r["setting"], r["seed"]) for r in runs] == [("0.01", 1), ("0.01", 2), ("0.01", 3),
                                                          ("3.0", 1), ("3.0", 2), ("3.0", 3)]
    # lambda_T = 3 is the trainer's default: same settings, same directory as the grid's run.
    assert runs[3]["run_dir"] == f"results/runs/{DODGE}/temporal/base/seed1"
    assert runs[0]["run_dir"] == f"results/runs/{DODGE}/temporal/corrections.temporal.coef=0.01/seed1"
    experts = plan.sweep_runs(CONFIG, "experts")
    assert [r["settings"] for r in experts] == ["model.num_experts=2"] * 2 + ["base"] * 2
    encoder = {r["setting"]: r["settings"] for r in plan.sweep_runs(CONFIG, "encoder")}
    assert encoder == {"gat-small": "model.gat_dim=16,model.gat_layers=2", "cnn": "model.encoder=cnn",
                       "gat-default": "base"}
    assert plan.sweep_values(CONFIG, "encoder") == ["gat-small", "cnn", "gat-default"]
    # A figure's x axis names what its sweep varies, and for which variant.
    assert plan.sweep_axis_label(CONFIG, "t") == "corrections.temporal.coef (temporal)"
    assert plan.sweep_axis_label(CONFIG, "encoder") == "setting"
    with pytest.raises(KeyError, match="not in the config's sweeps"):
        plan.sweep_runs(CONFIG, "nope")


def test_warmups_are_shared_unless_the_first_phase_differs():
    built = plan.build(CONFIG)
    warmup_of = {key: run.warmup_dir for key, run in built["runs"].items()}
    # All variants and corrections' coefficients of a task and seed share one warm-up.
    hunt_seed1 = {dir_ for (task, _, settings, seed), dir_ in warmup_of.items()
                  if task == HUNT and seed == 1 and settings == "base"}
    assert len(hunt_seed1) == 1
    assert warmup_of[(DODGE, "temporal", "corrections.temporal.coef=0.01", 1)] == \
        warmup_of[(DODGE, "baseline", "base", 1)]
    # K and the encoder change the first phase: their own warm-ups.
    assert warmup_of[(HUNT, "baseline", "model.num_experts=2", 1)] != warmup_of[(HUNT, "baseline", "base", 1)]
    assert warmup_of[(HUNT, "baseline", "model.encoder=cnn", 1)] != warmup_of[(HUNT, "baseline", "base", 1)]
    # Seeds have their own; 2 tasks x 3 seeds + K=2 on 2 tasks + 2 encoders on one task, seed 1.
    assert len(plan.warmup_dirs(CONFIG)) == 6 + 2 + 2


def test_warmup_frames_set_the_first_phases_end_per_task():
    config = config_with(tasks=[{"name": HUNT, "frames": 4096, "warmup_frames": 1024}], sweeps={})
    run = plan.run(config, HUNT, "baseline", "base", 1)
    assert run.overrides["phases"][0] == {"name": "warmup", "end": 0.25}
    assert '--set \'phases=[{"name":"warmup","end":0.25},{"name":"finetune","end":1.0}]\'' in \
        plan.trainer_command(run, config)
    with pytest.raises(plan.GridError, match="tasks.0.warmup_frames"):
        plan.build(config_with(tasks=[{"name": HUNT, "frames": 4096, "warmup_frames": 4096}], sweeps={}))


def test_a_warmup_return_gate_reaches_the_trainer_and_names_its_own_warmups():
    fixed = config_with(tasks=[{"name": HUNT, "frames": 4096, "warmup_frames": 2048}], sweeps={})
    gated = config_with(tasks=[{"name": HUNT, "frames": 4096, "warmup_frames": 2048, "warmup_until_return": 0.8}],
                        sweeps={})
    run = plan.run(gated, HUNT, "baseline", "base", 1)
    assert run.overrides["phases"][0] == {"name": "warmup", "end": 0.5, "until_return": 0.8}
    assert "until_return" not in plan.run(fixed, HUNT, "baseline", "base", 1).overrides["phases"][0]
    # a gated warm-up is not the fixed one: it gets its own directory
    assert run.warmup_dir != plan.run(fixed, HUNT, "baseline", "base", 1).warmup_dir


@pytest.mark.parametrize("change, message", [
    ({"tasks": [{"name": "NoSuch-v0", "frames": 100}]}, r"key 'tasks.0.name': unknown env id 'NoSuch-v0'"),
    ({"trainer": {"command": "x", "config": "", "set": {"no_such.key": 1}}},
     r"key 'trainer.set' \(no_such.key=1\).*unknown config key no_such"),
    ({"sweeps": {"t": {"variant": "temporal", "key": "corrections.temporl.coef", "values": [1]}}},
     r"key 'sweeps.t' \(corrections.temporl.coef=1\).*unknown correction"),
    ({"sweeps": {"t": {"variant": "temporal", "key": "lr", "values": [-1]}}}, r"key 'sweeps.t' \(lr=-1\)"),
    ({"corrections": ["temporal", "entropy_min"]}, r"key 'corrections'.*canonical order"),
    ({"corrections": ["entropy_min", "diversity"]}, r"key 'corrections'.*\['diversity'\] unknown to the trainer"),
])
def test_a_config_the_trainer_would_refuse_is_refused_naming_the_key(change, message):
    with pytest.raises(plan.GridError, match=message):
        plan.build(config_with(**change))


def test_a_number_names_one_run_however_the_config_spells_it(tmp_path):
    """YAML reads `1e-4` as a string and `0.0001` as a number; the trainer reads both as 0.0001."""
    import yaml

    from tests.workflow_tools import copy_workflow, snakemake, write_config

    spelled = {"t": {"variant": "temporal", "key": "corrections.temporal.coef", "values": ["1e-4"],
                     "tasks": [DODGE], "num_seeds": 1}}
    written = {"t": {**spelled["t"], "values": [0.0001]}}
    paths = [[run["run_dir"] for run in plan.sweep_runs(config_with(sweeps=sweeps), "t")]
             for sweeps in (spelled, written)]
    assert paths[0] == paths[1] == [f"results/runs/{DODGE}/temporal/corrections.temporal.coef=0.0001/seed1"]
    # And so does the workflow's dry run, from the text a researcher writes.
    workdir = copy_workflow(tmp_path)
    plans = []
    for spelling in ("1e-4", "0.0001"):
        config = yaml.safe_load(f"sweeps: {{t: {{variant: temporal, key: corrections.temporal.coef, "
                                f"values: [{spelling}], tasks: [{DODGE}], num_seeds: 1}}}}")
        config["tasks"], config["seeds"] = [{"name": DODGE, "frames": 4096}], [1]
        output = snakemake(workdir, "--dry-run", "--cores", "1", "sweep_t", "--configfile",
                           write_config(tmp_path / f"{spelling}.yaml", config)).stdout
        plans.append(sorted(set(re.findall(r"(results/runs/\S+/seed1)/final\.json", output))))
    assert plans[0] == plans[1] == [f"results/runs/{DODGE}/temporal/corrections.temporal.coef=0.0001/seed1"]


def test_a_second_config_cannot_retrain_over_a_run_made_with_other_settings(tmp_path):
    import torch

    from moe.config import resolve
    from moe.provenance import run_record

    config = config_with(sweeps={})
    run = plan.train_runs(config)[0]
    run_dir = tmp_path / run["run_dir"]
    run_dir.mkdir(parents=True)
    this = plan.run(config, run["task"], run["variant"], run["settings"], run["seed"])
    record = run_record(resolve(None, plan._assignments(this.overrides)), torch.device("cpu"), env_id=this.task,
                        variant=this.variant, seed=this.seed, frames=this.frames)
    (run_dir / "config.yaml").write_text(yaml_dump(record))
    planned = config_with(sweeps={}, runs_dir=str(tmp_path / "results/runs"))
    plan.build(planned)  # the same settings: the run is this config's
    other = config_with(sweeps={}, runs_dir=str(tmp_path / "results/runs"),
                        trainer={**CONFIG["trainer"], "set": {"eval.episodes": 7}})
    with pytest.raises(plan.GridError, match=f"{run['variant']}/base/seed1 holds a run made with other settings "
                                             r"\(eval.episodes differs\)"):
        plan.build(other)


def yaml_dump(content) -> str:
    import yaml

    return yaml.safe_dump(content, sort_keys=False)


def test_the_plan_tests_pass_beside_a_checkout_whose_results_hold_runs(tmp_path):
    """A user runs the README's main job (the quick grid), then the tests, in one checkout: the plan
    tests must not read the runs it left, finished or half-written. Run them from a directory
    holding the quick grid's real run record and a half-written one."""
    import os
    import subprocess
    import sys

    import torch
    import yaml

    from moe.config import resolve
    from moe.provenance import run_record
    from tests.workflow_tools import REPO

    quick = yaml.safe_load((REPO / "workflow/config/quick.yaml").read_text())
    quick = {**CONFIG, **quick, "sweeps": {}}
    for run in [run for run in plan.train_runs(quick) if run["variant"] == "baseline"]:
        this = plan.run(quick, run["task"], run["variant"], run["settings"], run["seed"])
        record = run_record(resolve(None, plan._assignments(this.overrides)), torch.device("cpu"),
                            env_id=this.task, variant=this.variant, seed=this.seed, frames=this.frames)
        (tmp_path / run["run_dir"]).mkdir(parents=True)
        (tmp_path / run["run_dir"] / "config.yaml").write_text(yaml_dump(record))
    half = tmp_path / f"results/runs/{DODGE}/temporal/base/seed2"
    half.mkdir(parents=True)
    (half / "config.yaml").write_text("run: {env_id: " + DODGE)  # killed while writing
    # The quick grid's record does conflict with this module's config where both read it:
    with pytest.raises(plan.GridError, match="holds a run made with other settings"):
        plan.build(CONFIG)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:cacheprovider",
         str(REPO / "tests/test_plan.py"), "-k", "not beside_a_checkout and not number_names"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " passed" in result.stdout and "failed" not in result.stdout


def test_fixes_from_the_first_update_make_each_run_one_phase_where_every_correction_acts():
    config = config_with(tasks=[{"name": HUNT, "frames": 4096}], sweeps={}, fixes_act="from_first_update",
                         trainer={**CONFIG["trainer"], "set": {"router_entropy_coef": 0}})
    run = plan.run(config, HUNT, "entropy_min+temporal", "base", 1)
    assert run.overrides["phases"] == [{"name": "train", "end": 1.0}]
    assert all(run.overrides[f"corrections.{name}.phases"] == ["train"] for name in CONFIG["corrections"])
    # Nothing is shared: every variant of a seed has its own first (and only) phase.
    assert run.warmup_dir != plan.run(config, HUNT, "baseline", "base", 1).warmup_dir
    with pytest.raises(plan.GridError, match="tasks.0': fixes_act: from_first_update has no warm-up"):
        plan.build(config_with(tasks=[{"name": HUNT, "frames": 4096, "warmup_frames": 1024}], sweeps={},
                               fixes_act="from_first_update"))
    with pytest.raises(plan.GridError, match="finetune.until_settled"):
        plan.build({**config, "finetune": {"until_settled": {"window": 10, "router_entropy": 0.03,
                                                             "router_mutual_information": 0.1}}})
