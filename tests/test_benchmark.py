"""`python -m moe.tools.benchmark` on a tiny budget runs every contender and writes its CSV with every column."""

import csv
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from moe.tools.benchmark import COLUMNS

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_benchmark_tiny_budget_writes_every_column(tmp_path):
    has_reference = importlib.util.find_spec("torch_ac") is not None
    out = tmp_path / "bench" / "throughput.csv"
    command = [sys.executable, "-m", "moe.tools.benchmark", "--updates", "1", "--repeats", "2", "--num-envs", "2",
               "--rollout-steps", "16", "--out", str(out), "--child-timeout", "120"]
    if not has_reference:
        command.append("--skip-reference")
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert completed.returncode == 0, completed.stderr[-3000:]

    with out.open(newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == COLUMNS
        rows = list(reader)

    expected = (["reference"] if has_reference else []) + ["gat", "cnn", "raw_env", "our_env"]
    # Alternating rounds: every contender once per repeat, in order.
    assert [row["contender"] for row in rows] == expected * 2
    assert [int(row["repeat"]) for row in rows] == [1] * len(expected) + [2] * len(expected)
    for row in rows:
        assert float(row["fps"]) > 0 and float(row["fps_median"]) > 0
        assert float(row["fps_min"]) <= float(row["fps_median"]) <= float(row["fps_max"])
        assert int(row["frames"]) == 2 * 16  # one timed update of 2 envs x 16 steps (env-only rows: as many steps)
        assert 0 < float(row["peak_rss_mb"]) <= float(row["peak_rss_mb_max"])
        assert float(row["fraction_of_raw_env"]) > 0
        assert float(row["cpu_seconds"]) > 0 and float(row["fps_per_cpu"]) > 0
        if row["contender"] not in ("raw_env", "our_env"):
            shares = float(row["share_env"]) + float(row["share_inference"]) + float(row["share_update"])
            # The split lies inside the timed wall time (the rest is the row's statistics and the loop:
            # how much of it depends on the machine's load, so no lower bound is asserted).
            assert 0 < shares < 1.01
        if has_reference:
            assert float(row["ratio_vs_reference"]) > 0
        if row["contender"] in ("gat", "cnn"):
            assert row["target_ratio"] in ("1.0", "2.0")
            assert row["meets_target"] in (("True", "False") if has_reference else ("",))
        if row["contender"] in ("gat", "cnn"):
            # FLOPs counted, the GEMM rate measured, and an update cannot beat its arithmetic floor.
            assert float(row["gflop_per_update"]) > 0 and float(row["gemm_gflops"]) > 1
            assert 0 < float(row["floor_fraction"]) < 1
    gflop = {row["contender"]: float(row["gflop_per_update"]) for row in rows if row["gflop_per_update"]}
    assert gflop["gat"] > gflop["cnn"]  # attention over 49 cells costs more than 3 tiny convs
    stdout = completed.stdout
    for name in expected:
        assert name in stdout
    assert "frames/update" in stdout and "targets:" in stdout and "GFLOP per update" in stdout
    if not has_reference:
        assert "torch-ac is not installed" in completed.stderr or "skipped" in stdout


def test_missing_torch_ac_skips_reference_with_a_message(tmp_path, monkeypatch, capsys):
    """Without torch-ac the reference is skipped with a message, not a crash (children faked)."""
    from moe.tools import benchmark

    def fake_contender(name, args):
        return {"frames": 100, "seconds": 0.5, "seconds_env": 0.2, "seconds_inference": 0.1,
                "seconds_update": 0.2, "peak_rss_mb": 300.0, "cpu_seconds": 0.5, "torch_version": "x"}

    monkeypatch.setattr(benchmark, "torch_ac_available", lambda: False)
    monkeypatch.setattr(benchmark, "run_contender", fake_contender)
    out = tmp_path / "b.csv"
    benchmark.run_benchmark(benchmark.parse_args(["--repeats", "1", "--out", str(out)]))
    captured = capsys.readouterr()
    assert "torch-ac is not installed" in captured.err
    rows = list(csv.DictReader(out.open()))
    assert [row["contender"] for row in rows] == ["gat", "cnn", "raw_env", "our_env"]
    assert all(row["ratio_vs_reference"] == "" for row in rows)


def test_summary_pairs_each_round_with_the_reference_of_that_round():
    from moe.tools.benchmark import summarise

    def row(contender, repeat, fps):
        return {"contender": contender, "repeat": repeat, "fps": fps, "share_env": 0.2, "share_inference": 0.2,
                "share_update": 0.6, "peak_rss_mb": 300.0, "fps_per_cpu": fps}

    rows = [row("reference", 1, 1000.0), row("cnn", 1, 3000.0),
            row("reference", 2, 2000.0), row("cnn", 2, 3000.0),
            row("reference", 3, 1500.0), row("cnn", 3, 2400.0)]
    cnn = summarise(rows)["cnn"]
    assert cnn["ratio_vs_reference"] == 3000.0 / 1500.0  # median over median
    assert (cnn["round_ratio_min"], cnn["round_ratio_max"]) == (1.5, 3.0)  # rounds: 3.0, 1.5, 1.6
    assert cnn["meets_target"] is True
