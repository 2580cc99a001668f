"""Retraining a run from its own record: identical files on its own CPU, and any difference named; on
another CPU (or one the record does not name), its cell's means consistent with the recorded ones."""

import json
import shutil
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from moe.tools.reproduce import (
    CELL_METRICS,
    ReproduceError,
    cell_holds,
    cell_report,
    check_cell,
    cpu_difference,
    cpu_here,
    differences,
    main,
    reproduce,
    same_final,
    sample_runs,
    todays_verdict,
)


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


# Another CPU: the run's cell, retrained by a fake trainer whose final.json values are set by hand.

FAKE_TRAINER = '''
import json, sys
from pathlib import Path
values, args = json.loads(Path(sys.argv[1]).read_text()), sys.argv[2:]
seed, out = args[args.index("--seed") + 1], Path(args[args.index("--out") + 1])
out.mkdir(parents=True)
(out / "final.json").write_text(json.dumps({"status": "finished", **values[seed]}))
with open(Path(sys.argv[1]).with_suffix(".log"), "a") as log:
    log.write(seed + "\\n")
'''
XEON = {"cpu_model": "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", "cpu_capability": "AVX512", "torch_threads": 1}
EPYC = {"cpu_model": "AMD EPYC 7R13 Processor", "cpu_capability": "AVX2", "torch_threads": 1}
CELL = ("Task-v0", "baseline", "base")


def recorded_cell(root, finals: dict, cpu: dict | None = XEON):
    """Recorded runs of one cell, seed -> final.json; their records name `cpu` (None: an old record)."""
    for seed, final in finals.items():
        run_dir = root.joinpath(*CELL, f"seed{seed}")
        run_dir.mkdir(parents=True)
        record = {"run": {"env_id": "Task-v0", "variant": "baseline", "seed": seed, "frames": 100 * seed},
                  "config": {"threads": 1}, "machine": "Linux-x86_64", **(cpu or {})}
        (run_dir / "config.yaml").write_text(yaml.safe_dump(record))
        (run_dir / "final.json").write_text(json.dumps({"status": "finished", "frames": 100 * seed, **final}))
    return root.joinpath(*CELL)


@pytest.fixture
def fake_trainer(tmp_path):
    """`fake_trainer(seed -> final.json values)`: a trainer command writing those, and the file it logs seeds to."""
    script = tmp_path / "fake_trainer.py"
    script.write_text(FAKE_TRAINER)

    def make(values: dict):
        path = tmp_path / "values.json"
        path.write_text(json.dumps({str(seed): final for seed, final in values.items()}))
        return [sys.executable, str(script), str(path)], path.with_suffix(".log")

    return make


def test_the_cpu_is_compared_first_and_an_old_record_names_none():
    assert cpu_difference(XEON, dict(XEON)) is None
    assert cpu_difference(XEON, EPYC) == ("it was trained on Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz "
                                          "(AVX512, 1 thread), this machine is AMD EPYC 7R13 Processor (AVX2, "
                                          "1 thread)")
    assert "4 threads" in cpu_difference(XEON, {**XEON, "torch_threads": 4})
    assert cpu_difference(XEON, {**XEON, "cpu_capability": "AVX2"}) is not None
    assert cpu_difference({"machine": "Linux-x86_64"}, EPYC) == "the record does not name its CPU"


# Recorded: return 0.58, 0.60, 0.62 (s = 0.02); success 0.9, 1.0, 0.95 (s = 0.05); router entropy 0.2, 0.3,
# 0.4 (s = 0.1); intent explained 0.6 on every seed.
RECORDED = {1: {"return_mean": 0.58, "success_rate": 0.9, "router_entropy": 0.2, "intent_explained": 0.6},
            2: {"return_mean": 0.60, "success_rate": 1.0, "router_entropy": 0.3, "intent_explained": 0.6},
            3: {"return_mean": 0.62, "success_rate": 0.95, "router_entropy": 0.4, "intent_explained": 0.6}}


def retrained_values(returns, successes, explained) -> dict:
    """seed -> final.json values of a retrained cell of three seeds (router entropy 0.3 on each)."""
    return {seed: {"return_mean": value, "success_rate": success, "router_entropy": 0.3, "intent_explained": share}
            for seed, value, success, share in zip((1, 2, 3), returns, successes, explained, strict=True)}


def welch(a, b) -> float:
    """Welch's two-sided p written out: t = (mean a - mean b) / sqrt(va + vb), v = s^2 / n,
    df = (va + vb)^2 / (va^2 / (na - 1) + vb^2 / (nb - 1))."""
    from scipy.stats import t

    va, vb = [pd.Series(x).var(ddof=1) / len(x) for x in (a, b)]
    statistic = (pd.Series(a).mean() - pd.Series(b).mean()) / (va + vb) ** 0.5
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    return 2 * t.sf(abs(statistic), df)


def test_a_retrained_cell_differs_only_where_welchs_test_after_holm_says_so(tmp_path):
    cell = recorded_cell(tmp_path / "recorded", RECORDED)
    recorded = [cell / f"seed{seed}" for seed in (1, 2, 3)]

    def retrained(name, values):
        for seed, final in values.items():
            (tmp_path / name / f"seed{seed}").mkdir(parents=True)
            (tmp_path / name / f"seed{seed}" / "final.json").write_text(json.dumps({"status": "finished", **final}))
        return [tmp_path / name / f"seed{seed}" for seed in values]

    # Return 0.60, 0.62, 0.64 against 0.58, 0.60, 0.62: t = 1.22, p = 0.29; success 0.9 on every seed
    # against 0.9, 1.0, 0.95: p = 0.225; router entropy 0.3 against 0.2, 0.3, 0.4: t = 0, p = 1; intent
    # explained 0.6 on every seed on both sides: the same value, p = 1.
    consistent = check_cell(recorded, retrained("consistent", retrained_values((0.60, 0.62, 0.64), (0.9,) * 3,
                                                                               (0.6,) * 3)))
    rows = consistent.set_index("metric")
    assert rows.loc["return_mean", "p"] == pytest.approx(welch([0.58, 0.60, 0.62], [0.60, 0.62, 0.64]))
    assert rows.loc["return_mean", "p"] == pytest.approx(0.288, abs=1e-3)
    assert rows.loc["success_rate", "p"] == pytest.approx(welch([0.9, 1.0, 0.95], [0.9, 0.9, 0.9]))
    assert rows.loc["router_entropy", "p"] == pytest.approx(1.0) and rows.loc["intent_explained", "p"] == 1.0
    assert rows.loc["return_mean", ["recorded_mean", "recorded_ci_low", "recorded_ci_high"]].tolist() == \
        pytest.approx([0.6, 0.6 - 4.302653 * 0.02 / 3 ** 0.5, 0.6 + 4.302653 * 0.02 / 3 ** 0.5])
    assert rows["outcome"].to_dict() == dict.fromkeys(CELL_METRICS, "consistent")
    assert cell_holds(consistent)

    # Return 0.80, 0.82, 0.84: t = 13.5 on 4 df, p = 0.00017, Holm x 4 = 0.0007; intent explained 0.61 on
    # every seed against 0.6 on every seed: p = 0.
    differs = check_cell(recorded, retrained("differs", retrained_values((0.80, 0.82, 0.84), (0.9,) * 3,
                                                                         (0.61,) * 3)))
    rows = differs.set_index("metric")
    assert rows.loc["return_mean", "p"] == pytest.approx(welch([0.58, 0.60, 0.62], [0.80, 0.82, 0.84]))
    assert rows.loc["return_mean", "p_holm"] == pytest.approx(3 * rows.loc["return_mean", "p"])  # 2nd smallest
    assert rows.loc["intent_explained", ["p", "p_holm"]].tolist() == [0.0, 0.0]
    assert rows["outcome"].to_dict() == {"return_mean": "differs", "success_rate": "consistent",
                                         "router_entropy": "consistent", "intent_explained": "differs"}
    assert not cell_holds(differs)
    report = cell_report(differs)
    assert report[0].startswith("  return_mean: recorded 0.6000 [0.5503, 0.6497] (3 seeds), retrained 0.8200 "
                                "[0.7703, 0.8697] (3 seeds), p = 0.000") and report[0].endswith(": differs")
    assert report[3].startswith("  intent_explained: recorded 0.6000 seeds agree (3 seeds), retrained 0.6100 seeds "
                                "agree (3 seeds), p = 0.000")

    # A metric no recorded run has is not checked.
    unrecorded = check_cell(recorded, recorded, metrics=("return_mean", "intent_mi"))
    assert unrecorded["outcome"].tolist() == ["consistent", "not recorded"] and cell_holds(unrecorded)


def test_a_run_made_on_another_cpu_is_checked_by_its_retrained_cell(tmp_path, fake_trainer, monkeypatch, capsys):
    monkeypatch.setattr("moe.tools.reproduce.cpu_identity", lambda: dict(EPYC))
    cell = recorded_cell(tmp_path / "runs", RECORDED)
    trainer, log = fake_trainer(retrained_values((0.60, 0.62, 0.64), (0.9,) * 3, (0.6,) * 3))
    assert main([str(cell / "seed2"), "--out", str(tmp_path / "out")], trainer=trainer) == 0
    out = capsys.readouterr().out
    assert log.read_text().split() == ["1", "2", "3"]  # the whole cell, in seed order
    # Said before anything trains: the CPU, what cannot be promised, what is checked, the cost.
    said, trained = out.split("retraining (1 of 3)")
    assert "trained on Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz (AVX512, 1 thread), this machine is " \
           "AMD EPYC 7R13 Processor (AVX2, 1 thread)" in said
    assert "cannot be promised" in said and "seeds 1, 2, 3" in said
    assert "to train: 3 runs, 600 frames in all" in said
    assert "return_mean: recorded 0.6000 [0.5503, 0.6497] (3 seeds), retrained 0.6200 [0.5703, 0.6697] (3 seeds), " \
           "p = 0.288 (Holm 0.902): consistent" in trained
    assert "(not promised on another CPU)" in trained and "1 of 1 cells hold" in trained
    assert "runs reproduced" not in trained  # no run was held to identical files

    # A cell that differs: exit status 1.
    trainer, _ = fake_trainer(retrained_values((0.80, 0.82, 0.84), (0.9,) * 3, (0.6,) * 3))
    assert main([str(cell / "seed2"), "--out", str(tmp_path / "out2")], trainer=trainer) == 1
    out = capsys.readouterr().out
    assert "return_mean: recorded 0.6000 [0.5503, 0.6497] (3 seeds), retrained 0.8200" in out
    assert "DIFFER from the recorded ones" in out and "0 of 1 cells hold" in out


def test_an_old_record_without_its_cpu_is_an_unknown_cpu(tmp_path, fake_trainer, monkeypatch, capsys):
    monkeypatch.setattr("moe.tools.reproduce.cpu_identity", lambda: dict(XEON))
    recorded_cell(tmp_path / "runs", RECORDED, cpu=None)
    trainer, log = fake_trainer(RECORDED)
    # --sample draws runs; two of one cell retrain it once.
    assert main(["--sample", "2", "--seed", "1", "--runs-dir", str(tmp_path / "runs"), "--out",
                 str(tmp_path / "out")], trainer=trainer) == 0
    out = capsys.readouterr().out
    assert out.count("the record does not name its CPU") == 2
    assert "to train: 3 runs, 600 frames in all" in out and sorted(log.read_text().split()) == ["1", "2", "3"]
    assert "1 of 1 cells hold" in out


def test_exact_only_retrains_the_run_alone_and_a_lone_seed_cannot_be_checked(tmp_path, fake_trainer, monkeypatch,
                                                                            capsys):
    monkeypatch.setattr("moe.tools.reproduce.cpu_identity", lambda: dict(EPYC))
    cell = recorded_cell(tmp_path / "runs", RECORDED)
    trainer, log = fake_trainer(RECORDED)
    assert main([str(cell / "seed2"), "--exact-only", "--out", str(tmp_path / "out")], trainer=trainer) == 1
    out = capsys.readouterr().out
    assert log.read_text().split() == ["2"] and "to train: 1 run, 200 frames" in out
    assert "--exact-only" in out and "DIFFERS in" in out and "0 of 1 runs reproduced" in out  # no csv files

    lone = recorded_cell(tmp_path / "lone", {1: RECORDED[1]})
    log.unlink()
    assert main([str(lone / "seed1"), "--out", str(tmp_path / "out")], trainer=trainer) == 1
    out = capsys.readouterr().out
    assert "1 finished seed: no interval" in out and "could not be checked" in out and not log.exists()


def test_verdict_is_compared_as_todays_rule_decides_it_from_each_files_statistics():
    # Pooled router entropy 0.2 < ln(4)/2, effective experts exp(1.0) = 2.7, intent explained 0.8 and
    # distinct modal experts: today's rule says specialise, whatever the record stored then.
    statistics = {"num_experts": 4, "pooled_router_entropy": 0.2, "pooled_marginal_entropy": 1.0,
                  "intent_entropy": 1.0, "intent_explained": 0.8, "distinct_modal_experts": True}
    assert todays_verdict({**statistics, "verdict": "collapse"}) == "specialise"
    assert same_final({**statistics, "verdict": "specialise"}, {**statistics, "verdict": "collapse"})
    assert not same_final({**statistics, "verdict": "specialise", "intent_explained": 0.81},
                          {**statistics, "verdict": "collapse"})
    # Null where the statistics do not decide it (a diverged run, one that predates them): the stored one.
    assert todays_verdict({"verdict": None}) is None and todays_verdict({"verdict": "hedge"}) == "hedge"


def test_a_runs_record_names_its_cpu_and_threads(recorded_run):
    record = yaml.safe_load((recorded_run / "config.yaml").read_text())
    assert isinstance(record["cpu_model"], str) and record["cpu_model"]
    assert isinstance(record["cpu_capability"], str) and record["cpu_capability"]
    assert record["torch_threads"] == record["config"]["threads"] == 1
    assert record["machine"]  # next to what was recorded before
    assert cpu_difference(record, cpu_here(record["config"])) is None  # made on this machine
