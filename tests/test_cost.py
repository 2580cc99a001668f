"""A grid's cost: each seed's shared warm-up counted once, each run's fine-tuning once."""

import pandas as pd
import pytest

from moe.tools.cost import job_records, trainer_cpu


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


def test_job_records_count_only_the_runs_own_jobs(tmp_path):
    runs = [{"task": "T", "variant": variant, "settings": "base", "seed": 1, "warmup_dir": "warmups/T/a/seed1",
             "run_dir": f"runs/T/{variant}/base/seed1"} for variant in ("baseline", "temporal")]
    records = (("warmup/T/a/seed1.tsv", 30.0, 400.0), ("train/T/baseline/base/seed1.tsv", 5.5, 450.0),
               ("train/T/temporal/base/seed1.tsv", 4.0, 420.0),
               # a sweep's run and warm-up beside the grid's: not the grid's cost
               ("train/T/temporal/corrections.temporal.coef=3/seed1.tsv", 100.0, 900.0),
               ("warmup/T/b/seed1.tsv", 200.0, 900.0))
    for name, seconds, rss in records:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"s\th:m:s\tmax_rss\tcpu_time\n{seconds}\t0:00:30\t{rss}\t1.0\n")
    record = job_records(runs, str(tmp_path)).iloc[0]
    # one shared warm-up and two training jobs
    assert (record["jobs"], record["job_seconds"], record["peak_rss_mb"]) == (3, 39.5, 450.0)
    (tmp_path / "train/T/temporal/base/seed1.tsv").unlink()  # not run yet: not counted
    assert job_records(runs, str(tmp_path)).iloc[0]["jobs"] == 2
