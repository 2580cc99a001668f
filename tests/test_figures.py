"""Figures that say what the tables and verdicts say: bands inside the metric's range,
frames on readable ticks, seeds aligned on their own warm-ups, the intent scatter in the
verdicts' colours. Each test draws a small hand-made grid (seconds)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.colors as mcolors
import numpy as np
import pandas as pd
import pytest
from fakeruns import write_fake_run
from matplotlib.collections import PolyCollection

from moe.analysis.curves import finetune_curves, learning_curves, warmup_end_frames
from moe.analysis.metrics import LN_K_METRICS, VERDICTS, metric, metric_range
from moe.analysis.plots import (
    CORNER_COMMITS,
    VERDICT_COLORS,
    format_frames,
    plot_entropy_scatter,
    plot_final_metrics,
    plot_intent_scatter,
    plot_learning_curves,
)
from moe.analysis.runs import collect_runs
from moe.analysis.stats import mean_ci

# Five seeds whose values straddle their range: a t-interval of n = 5 reaches beyond both ends.
SPREAD = [0.0, 0.02, 0.5, 0.98, 1.0]


def _band_limits(ax) -> tuple[float, float]:
    """Lowest and highest y of every band (fill_between) in `ax`."""
    ys = np.concatenate([path.vertices[:, 1] for band in ax.collections if isinstance(band, PolyCollection)
                         for path in band.get_paths()])
    ys = ys[np.isfinite(ys)]
    return float(ys.min()), float(ys.max())


def _curves(task: str, name: str, values, x: str = "frames", frames=(1000.0, 2000.0)) -> pd.DataFrame:
    return pd.DataFrame([{"task": task, "variant": "baseline", "seed": seed, x: at, "metric": name, "value": value}
                         for at in frames for seed, value in enumerate(values, start=1)])


def _runs(experts: dict[str, int]) -> pd.DataFrame:
    return pd.DataFrame([{"task": task, "variant": "baseline", "seed": 1, "status": "finished", "num_experts": k}
                         for task, k in experts.items()])


def test_metric_range_puts_ln_k_on_the_routers_entropies_and_mutual_informations():
    assert metric_range("router_entropy", 3) == (0.0, pytest.approx(math.log(3)))
    assert metric_range("router_mutual_information_success", 2) == (0.0, pytest.approx(math.log(2)))
    assert metric_range("state_split", 4) == (0.0, pytest.approx(math.log(4)))
    assert metric_range("effective_experts", 3) == (1.0, 3.0)
    assert metric_range("return_mean", 3) == (0.0, 1.0)
    assert metric_range("router_entropy") == (0.0, math.inf)  # without K: the registry's
    # H(intent) depends on the intents met, not on K.
    assert "intent_entropy" not in LN_K_METRICS and metric_range("intent_entropy", 2) == (0.0, math.inf)


@pytest.mark.parametrize("x", ["frames", "finetune_frames"])
def test_learning_curve_bands_stay_inside_the_metrics_range(tmp_path, x):
    """Router entropy at K = 3 (range [0, ln 3]), router MI at K = 2 ([0, ln 2]) and return
    ([0, 1]), each from five seeds whose t-interval leaves the range on both sides."""
    entropy = [v * math.log(3) for v in SPREAD]
    mutual_information = [v * math.log(2) for v in SPREAD]
    for values, bounds in ((entropy, (0, math.log(3))), (SPREAD, (0, 1))):
        _, low, high = mean_ci(values, bounds=(-math.inf, math.inf))
        assert low < bounds[0] and high > bounds[1]  # the unclipped interval would leave the range
    curves = pd.concat([_curves("KeyDoor", "router_entropy", entropy, x), _curves("Dodge", "router_mutual_information",
                        mutual_information, x), _curves("KeyDoor", "return_mean", SPREAD, x)])
    fig = plot_learning_curves(curves, ["KeyDoor", "Dodge"], ["baseline"], [tmp_path / "curves.png"], x=x,
                               metrics=["router_entropy", "router_mutual_information", "return_mean"],
                               runs=_runs({"KeyDoor": 3, "Dodge": 2}))
    axes = np.array(fig.axes[:6]).reshape(3, 2)
    for ax, top in ((axes[0][0], math.log(3)), (axes[1][1], math.log(2)), (axes[2][0], 1.0)):
        low, high = _band_limits(ax)
        assert low == pytest.approx(0.0) and high == pytest.approx(top)  # clipped, and reaching the range's ends


def test_final_metrics_bars_end_at_the_tasks_ln_k_and_its_reference_lines_are_its_own(tmp_path):
    runs = pd.DataFrame([{"task": task, "variant": "v", "seed": seed, "status": "finished", "num_experts": k,
                          "router_entropy": value * math.log(k)}
                         for task, k in (("KeyDoor", 3), ("Hunt", 2)) for seed, value in enumerate(SPREAD, 1)])
    fig = plot_final_metrics(runs, ["router_entropy"], ["KeyDoor", "Hunt"], ["v"], [tmp_path / "final.png"])
    for ax, k in zip(fig.axes, (3, 2), strict=True):
        dashed = sorted(line.get_ydata()[0] for line in ax.get_lines() if line.get_linestyle() == "--")
        assert dashed == pytest.approx(sorted({math.log(2), math.log(k)}))  # no ln 3 on a two-expert task
        ys = np.concatenate([np.asarray(line.get_ydata(), dtype=float) for line in ax.get_lines()])
        assert np.nanmax(ys) == pytest.approx(math.log(k)) and np.nanmin(ys) >= 0.0


def test_frames_ticks_are_short_and_readable(tmp_path):
    assert [format_frames(v) for v in (0, 500, 50_000, 200_000, 1_000_000, 1_500_000, -250_000)] == [
        "0", "500", "50k", "200k", "1M", "1.5M", "-250k"]
    curves = _curves("KeyDoor", "return_mean", SPREAD, frames=np.linspace(2048, 1_400_000, 40))
    fig = plot_learning_curves(curves, ["KeyDoor"], ["baseline"], [tmp_path / "curves.png"], metrics=["return_mean"])
    fig.canvas.draw()
    labels = [label.get_text() for label in fig.axes[0].get_xticklabels() if label.get_text()]
    assert labels and all(len(label) <= 5 for label in labels), labels  # no "200000400000..."
    assert "1M" in labels


def _two_seed_runs(tmp_path, warmup_updates: dict[int, int], finetune_updates: int = 3) -> pd.DataFrame:
    """One task, two finished seeds whose warm-ups end after their own number of 100-frame
    updates (a learned gate), then the same fine-tuning; router entropy 1.0 in the warm-up,
    falling by 0.25 an update after it."""
    runs = []
    for seed, warmup in warmup_updates.items():
        run_dir = tmp_path / f"seed{seed}"
        write_fake_run(run_dir, "KeyDoor", "baseline", seed)
        rows = ["update,frames,phase,router_entropy,return_mean"]
        for update in range(1, warmup + finetune_updates + 1):
            phase = "warmup" if update <= warmup else "finetune"
            entropy = 1.0 if phase == "warmup" else 1.0 - 0.25 * (update - warmup)
            rows.append(f"{update},{100 * update},{phase},{entropy},0.5")
        (run_dir / "metrics.csv").write_text("\n".join(rows) + "\n")
        runs.append({"task": "KeyDoor", "variant": "baseline", "seed": seed, "run_dir": str(run_dir)})
    return collect_runs(runs)


def test_finetune_curve_of_a_seed_whose_warmup_ended_at_frame_f_starts_at_zero(tmp_path):
    runs = _two_seed_runs(tmp_path, {1: 2, 2: 7})  # warm-ups end at frames 200 and 700
    assert [warmup_end_frames(pd.read_csv(Path(d) / "metrics.csv")) for d in runs["run_dir"]] == [200.0, 700.0]
    curves = finetune_curves(runs, metrics=["router_entropy"])
    for seed in (1, 2):
        assert curves[curves.seed == seed]["finetune_frames"].tolist() == [0.0, 100.0, 200.0, 300.0]
    fig = plot_learning_curves(curves, ["KeyDoor"], ["baseline"], [tmp_path / "finetune.png"],
                               metrics=["router_entropy"], x="finetune_frames", runs=runs)
    solid = [line for line in fig.axes[0].get_lines() if line.get_linestyle() == "-"]
    assert len(solid) == 1 and solid[0].get_xdata()[0] == 0.0  # the mean of both seeds starts at 0
    assert np.asarray(solid[0].get_ydata(), dtype=float).tolist() == [1.0, 0.75, 0.5, 0.25]  # phase by phase


def test_whole_run_curves_align_each_seed_on_its_warmup_end(tmp_path):
    runs = _two_seed_runs(tmp_path, {1: 2, 2: 7})
    frames = learning_curves(runs, metrics=["router_entropy"], points=10)
    assert list(frames.columns) == ["task", "variant", "seed", "frames", "metric", "value"]  # unaligned by default
    curves = learning_curves(runs, metrics=["router_entropy"], points=10, align=True)
    assert list(curves.columns) == ["task", "variant", "seed", "finetune_frames", "metric", "value"]
    for seed, warmup_end in ((1, 200.0), (2, 700.0)):
        own = curves[curves.seed == seed].set_index("finetune_frames")["value"]
        assert own.loc[0.0] == 1.0  # the warm-up's last update, at 0 for either seed
        assert own.index.min() >= 100.0 - warmup_end - 1e-9  # its first update, not before
        assert own[own.index > 0].max() < 1.0  # after 0: fine-tuning only, the entropy falling
    # Both seeds share the grid: at every x where both have a point, they are in the same phase.
    both = curves.pivot_table(index="finetune_frames", columns="seed", values="value").dropna()
    assert len(both) >= 4 and np.allclose(both[1], both[2])
    fig = plot_learning_curves(curves, ["KeyDoor"], ["baseline"], [tmp_path / "whole.png"],
                               metrics=["router_entropy"], x="finetune_frames", runs=runs)
    assert "warm-up" in fig.axes[0].get_xlabel()  # x < 0 is said to be the warm-up
    assert any(line.get_linestyle() == "--" and line.get_xdata()[0] == 0.0 for line in fig.axes[0].get_lines())
    # Where only the seed with the longer warm-up has a point, the line is the dotted one only.
    solid = next(line for line in fig.axes[0].get_lines() if line.get_linestyle() == "-")
    x, y = np.asarray(solid.get_xdata(), dtype=float), np.asarray(solid.get_ydata(), dtype=float)
    assert np.isnan(y[x < -150.0]).all() and np.isfinite(y[(x >= -100.0) & (x <= 300.0)]).all()


def test_intent_scatter_puts_each_run_at_its_coordinates_in_its_verdicts_colour(tmp_path):
    rows = [("Hunt", "hedge", 0.01, 0.02), ("Hunt", "split", 0.05, 0.4), ("Hunt", "collapse", 0.03, 0.1),
            ("Dodge", "specialise", 0.55, 0.3), ("Dodge", "split", 0.25, 0.26)]
    runs = pd.DataFrame([{"task": task, "variant": "entropy_min", "seed": seed, "status": "finished",
                          "num_experts": 2, "verdict": verdict, "intent_explained": x, "state_split": y}
                         for seed, (task, verdict, x, y) in enumerate(rows, start=1)])
    diverged = {"task": "Dodge", "variant": "entropy_min", "seed": 9, "status": "diverged", "num_experts": 2,
                "verdict": "diverged", "intent_explained": math.nan, "state_split": math.nan}
    runs = pd.concat([runs, pd.DataFrame([diverged])], ignore_index=True)
    fig = plot_intent_scatter(runs, ["Hunt", "Dodge", "KeyDoor"], [tmp_path / "intent.png"])
    hunt, dodge, keydoor = fig.axes[:3]
    for ax, task in ((hunt, "Hunt"), (dodge, "Dodge")):
        drawn = {collection.get_label(): collection for collection in ax.collections if collection.get_label() in
                 VERDICT_COLORS}
        expected = [row for row in rows if row[0] == task]
        assert set(drawn) == {verdict for _, verdict, _, _ in expected}
        for _, verdict, x, y in expected:
            assert drawn[verdict].get_offsets().tolist() == [[x, y]]
            assert mcolors.to_hex(drawn[verdict].get_facecolor()[0]) == mcolors.to_hex(VERDICT_COLORS[verdict])
    assert dodge.get_xlim()[0] < 0.0 and dodge.get_xlim()[1] > 1.0  # the whole [0, 1] of intent explained
    assert dodge.get_ylim()[1] > math.log(2)  # and up to ln K of state split
    assert "specialise 1" in dodge.get_title() and "split 1" in dodge.get_title()
    assert metric("intent_explained").label in dodge.get_xlabel()
    assert "no finished run" in keydoor.texts[0].get_text()
    # One legend for every panel, with every verdict in its colour, whether a panel shows it or not.
    legend = fig.legends[0]
    labels = [text.get_text() for text in legend.get_texts()]
    assert labels[:len(VERDICTS)] == list(VERDICTS)
    for handle, verdict in zip(legend.legend_handles, VERDICTS, strict=False):
        assert mcolors.to_hex(handle.get_color()) == mcolors.to_hex(VERDICT_COLORS[verdict])


def test_intent_scatter_says_when_runs_have_no_pooled_statistics(tmp_path):
    runs = pd.DataFrame([{"task": "Hunt", "variant": "baseline", "seed": 1, "status": "finished", "num_experts": 4,
                          "verdict": "n/a", "intent_explained": math.nan, "state_split": math.nan}])
    fig = plot_intent_scatter(runs, ["Hunt"], [tmp_path / "intent.png", tmp_path / "intent.pdf"])
    assert "no run with pooled statistics" in fig.axes[0].texts[0].get_text()
    assert (tmp_path / "intent.pdf").stat().st_size > 1000


def test_entropy_scatter_calls_its_top_left_corner_committing_not_specialised(tmp_path):
    runs = pd.DataFrame({"task": ["A"], "variant": ["entropy_min"], "status": ["finished"], "num_experts": [3.0],
                         "router_entropy": [0.01], "marginal_router_entropy": [0.8]})
    fig = plot_entropy_scatter(runs, ["A"], ["entropy_min"], [tmp_path / "scatter.png"])
    texts = [text.get_text() for text in fig.axes[0].texts]
    assert CORNER_COMMITS in texts and "intent or by state" in CORNER_COMMITS
    assert not any("specialis" in text for text in texts)
