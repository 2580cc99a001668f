"""A grid's cost: each seed's shared warm-up counted once, each run's fine-tuning once."""

import pandas as pd
import pytest

from moe.analysis.cost import job_records, trainer_cpu


def write_run(run_dir, warmup_updates=3, finetune_updates=2, seconds=(1.0, 10.0)):
    run_dir.mkdir(parents=True)
    rows = [{"update": u + 1, "frames": 2048 * (u + 1), "phase": "warmup" if u < warmup_updates else "finetune",
             "seconds_cpu": seconds[0] if u < warmup_updates else seconds[1]}
            for u in range(warmup_updates + finetune_updates)]
    pd.DataFrame(rows).to_csv(run_dir / "metrics.csv", index=False)
    return str(run_dir)


def test_trainer_cpu_counts_a_seeds_warmup_once(tmp_path):
    runs = [{"task": "T", "seed": seed, "variant": variant, "warmup_dir": f"w{seed}",
             "run_dir": write_run(tmp_path / variant / str(seed))}
            for seed in (1, 2) for variant in ("baseline", "temporal", "overlap")]
    table = trainer_cpu(runs).set_index("task")
    # 2 warm-ups of 3 updates at 1 s, 6 fine-tunings of 2 updates at 10 s.
    assert table.loc["T", "seconds_cpu"] == pytest.approx(2 * 3 * 1.0 + 6 * 2 * 10.0)
    assert table.loc["T", "frames"] == (2 * 3 + 6 * 2) * 2048


def test_job_records_sum_wall_seconds_and_take_the_peak_memory(tmp_path):
    for kind, name, seconds, rss in (("warmup", "a/seed1.tsv", 30.0, 400.0), ("train", "x/base/seed1.tsv", 5.5, 450.0)):
        path = tmp_path / kind / "T" / name
        path.parent.mkdir(parents=True)
        path.write_text(f"s\th:m:s\tmax_rss\tcpu_time\n{seconds}\t0:00:30\t{rss}\t1.0\n")
    record = job_records(str(tmp_path), ["T"]).iloc[0]
    assert (record["jobs"], record["job_seconds"], record["peak_rss_mb"]) == (2, 35.5, 450.0)
