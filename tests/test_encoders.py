"""The encoder choice's arithmetic: learning points, the warm-up they imply, the grid's cost."""

import math

import pandas as pd
import pytest

from moe.tools.encoders import grid_cost, measure


def write_run(run_dir, returns, seconds_cpu=0.5):
    run_dir.mkdir(parents=True)
    frames = [2048 * (i + 1) for i in range(len(returns))]
    pd.DataFrame({"update": range(1, len(returns) + 1), "frames": frames, "phase": "warmup",
                  "return_mean": returns, "seconds_cpu": seconds_cpu}).to_csv(run_dir / "metrics.csv", index=False)
    return str(run_dir)


def test_measure_reads_speed_and_the_smoothed_learning_point(tmp_path):
    run = write_run(tmp_path / "a", [0.0] * 5 + [0.9] * 10, seconds_cpu=0.5)
    result = measure(run)
    assert result["frames_per_cpu_second"] == pytest.approx(2048 / 0.5)
    assert result["frames_to_threshold"] == 10 * 2048  # the first 5-update window at >= 0.8 ends at update 10
    never = measure(write_run(tmp_path / "b", [0.0] * 15))
    assert never["frames_to_threshold"] == math.inf
    assert math.isnan(measure(str(tmp_path / "missing"))["frames_per_cpu_second"])


def test_grid_cost_takes_the_latest_seed_and_refuses_unmeasured_or_unlearned_ones():
    table = pd.DataFrame([
        {"setting": "fast", "task": "T", "seed": 1, "frames_to_threshold": 4096.0, "frames_per_cpu_second": 1000.0},
        {"setting": "fast", "task": "T", "seed": 2, "frames_to_threshold": 10240.0, "frames_per_cpu_second": 1000.0},
        {"setting": "stuck", "task": "T", "seed": 1, "frames_to_threshold": math.inf, "frames_per_cpu_second": 9e9},
        {"setting": "partial", "task": "T", "seed": 1, "frames_to_threshold": math.nan,
         "frames_per_cpu_second": 1000.0},
    ])
    cost = grid_cost(table, seeds=10, variants=8, finetune_frames=2048).set_index("setting")
    assert cost.loc["fast", "warmup T"] == 10240
    assert cost.loc["fast", "grid CPU hours"] == pytest.approx(10 * (10240 + 8 * 2048) / 1000 / 3600)
    assert cost.loc["stuck", "warmup T"] == math.inf and cost.loc["stuck", "grid CPU hours"] == math.inf
    assert math.isnan(cost.loc["partial", "warmup T"])
