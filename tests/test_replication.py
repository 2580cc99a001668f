"""The replication's statistics on hand-made score matrices: the IQM difference, the pre-stated match."""

import numpy as np
import pytest

from moe.analysis.replication import PUBLISHED_GAP, arm_table, differences, overlaps, score_matrix
from moe.analysis.stats import iqm, iqm_difference_interval


def test_the_iqm_difference_of_constant_matrices_is_exact_and_its_interval_has_no_width():
    assert iqm_difference_interval(np.full((4, 3), 0.8), np.full((6, 3), 0.7), resamples=200) == \
        pytest.approx((0.1, 0.1, 0.1))


def test_the_iqm_difference_interval_covers_its_estimate_and_tells_a_real_gap_from_none():
    rng = np.random.default_rng(0)
    base = rng.uniform(0.4, 0.8, size=(10, 3))
    same = iqm_difference_interval(base, rng.permutation(base), resamples=2000)
    assert same[1] < 0 < same[2]
    shifted = iqm_difference_interval(base + 0.3, base, resamples=2000)
    assert shifted[0] == pytest.approx(iqm(base + 0.3) - iqm(base)) and shifted[1] > 0
    with pytest.raises(ValueError, match="same tasks"):
        iqm_difference_interval(np.zeros((3, 2)), np.zeros((3, 3)))


def test_the_iqm_difference_interval_resamples_each_arm_within_its_tasks():
    # Task A's runs score 0 or 1, task B's 10 or 11. A resample that keeps two runs per task has the
    # sorted scores a, a', b, b' and the IQM (max(a, a') + min(b, b')) / 2, which is 5, 5.5 or 6; a pooled
    # resample could reach 0.5 or 10.5. The reference arm is constant, so the difference lies in [5, 6] - 1.
    arm = np.array([[0.0, 10.0], [1.0, 11.0]])
    estimate, low, high = iqm_difference_interval(arm, np.ones((3, 2)), resamples=4000)
    assert estimate == pytest.approx(5.5 - 1.0)
    assert 4.0 <= low < estimate < high <= 5.0
    assert (low, high) == pytest.approx((4.0, 5.0))  # each extreme has probability 3/16, more than a 2.5% tail


def test_the_differences_carry_a_stricter_interval_that_holds_the_95_one():
    rng = np.random.default_rng(3)
    scores = {"intent oracle, K = 3": rng.uniform(0.6, 0.9, size=(5, 3)),
              "view router, K = 3": rng.uniform(0.2, 0.7, size=(5, 3)), "MTPPO": rng.uniform(0.5, 0.8, size=(10, 3))}
    gaps = differences(scores).set_index("difference")
    assert list(gaps.index) == ["intent oracle, K = 3 - view router, K = 3", "intent oracle, K = 3 - MTPPO",
                                "MTPPO - view router, K = 3"]
    assert (gaps["low_99"] <= gaps["low"]).all() and (gaps["high"] <= gaps["high_99"]).all()
    assert (gaps["excludes_0_at_99"] <= gaps["excludes_0"]).all()


def test_the_match_reads_overlapping_intervals_and_the_published_gap():
    assert overlaps((0.5, 0.7), (0.69, 0.9)) and not overlaps((0.5, 0.6), (0.61, 0.9))
    finals = [{"normalized_return_by_task": {"A": a, "B": b, "C": c}} for a, b, c in
              [(0.9, 0.7, 0.5), (0.8, 0.6, 0.5), (0.95, 0.75, 0.4), (0.85, 0.7, 0.45), (0.9, 0.65, 0.55)]]
    matrix, tasks = score_matrix(finals)
    assert tasks == ["A", "B", "C"] and matrix.shape == (5, 3)
    scores = {"MOORE": matrix, "MTPPO": matrix - PUBLISHED_GAP}  # the same spread, shifted by the gap
    table = arm_table(scores, tasks).set_index("arm")
    assert table.loc["MOORE", "iqm"] == pytest.approx(iqm(matrix.ravel()))
    assert table.loc["MOORE", "mean A"] == pytest.approx(0.88)
    gaps = differences(scores).set_index("difference")
    assert gaps.loc["MOORE - MTPPO", "iqm_difference"] == pytest.approx(PUBLISHED_GAP)
    assert bool(gaps.loc["MOORE - MTPPO", "holds_published_gap"]) and bool(gaps.loc["MOORE - MTPPO", "excludes_0"])


def test_the_report_reads_every_arm_of_the_replication_grid(tmp_path, monkeypatch):
    import json
    from pathlib import Path

    import pandas as pd
    import yaml

    from moe.analysis.replication import main
    from moe.plan import load_config, sweep_runs, train_runs

    root = Path(__file__).resolve().parents[1]
    grid = yaml.safe_load((root / "workflow/config/moore_mt3.yaml").read_text())
    grid.update(seeds=[1, 2, 3], runs_dir=str(tmp_path / "runs"), report_dir=str(tmp_path / "report"))
    config_path = tmp_path / "grid.yaml"
    config_path.write_text(yaml.safe_dump(grid))
    monkeypatch.chdir(root)
    config = load_config([config_path])
    cells = train_runs(config) + sweep_runs(config, "moore_arms") + sweep_runs(config, "view_arms")
    assert len(cells) == 5 * 3
    for index, cell in enumerate(cells):
        run_dir = Path(cell["run_dir"])
        run_dir.mkdir(parents=True)
        score = 0.5 + 0.01 * index
        final = {"status": "finished", "normalized_return_by_task": {
            "LavaGapS7": score, "RedBlueDoors-6x6": score, "MemoryS11": score}}
        if index == 0:  # MOORE's seed 1 diverged: it scores 0, not nothing
            final = {"status": "diverged", "normalized_return_by_task": None}
        (run_dir / "final.json").write_text(json.dumps(final))
        pd.DataFrame({"frames": [6000, 12000], "return_mean": [0.1, score]}).to_csv(run_dir / "metrics.csv")
    assert main(["--config", str(config_path)]) == 0
    table = pd.read_csv(tmp_path / "report/tables/replication.csv").set_index("arm")
    assert set(table.index) == {"MOORE", "MoE", "MTPPO", "view router, K = 3", "intent oracle, K = 3"}
    assert (table["runs"] == 3).all() and table.loc["MOORE", "published"] == 0.78
    assert table.loc["MOORE", "mean LavaGapS7"] == pytest.approx((0 + 0.51 + 0.52) / 3)
    assert (tmp_path / "report/figures/replication_curves.png").stat().st_size > 0

