"""Expert usage by intent, aligned across seeds before averaging (moe.analysis.specialisation),
and the figures drawn from it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from moe.analysis.factorial import factorial_effects
from moe.analysis.plots import (
    plot_effects,
    plot_entropy_scatter,
    plot_episodes,
    plot_robust_aggregates,
    plot_usage_heatmaps,
)
from moe.analysis.robust import robust_aggregates
from moe.analysis.runs import collect_runs
from moe.analysis.specialisation import align_experts, episode_table, mean_usage_table, usage_matrix, usage_table
from moe.variants import all_variants

try:  # tests/ is on sys.path under pytest's default import mode
    from fakeruns import INTENTS, fake_usage, write_fake_run
except ImportError:  # tests/ imported as a package
    from tests.fakeruns import INTENTS, fake_usage, write_fake_run

# --- specialisation ---------------------------------------------------------------


def _grid(tmp_path, plan):
    runs = []
    for (task, variant), statuses in plan.items():
        for seed, status in enumerate(statuses, start=1):
            run_dir = tmp_path / task / variant / f"seed{seed}"
            if status is not None:
                write_fake_run(run_dir, task, variant, seed, status=status)
            runs.append({"task": task, "variant": variant, "seed": seed, "run_dir": str(run_dir)})
    return collect_runs(runs)


def test_align_experts_undoes_a_relabelling():
    usage = np.array([[0.7, 0.1, 0.1, 0.1], [0.1, 0.1, 0.6, 0.2], [0.05, 0.8, 0.1, 0.05]])
    relabelled = [usage, usage[:, [3, 2, 1, 0]], usage[:, [1, 0, 3, 2]]]
    permutations = align_experts(relabelled)
    aligned = [m[:, p] for m, p in zip(relabelled, permutations, strict=True)]
    for matrix in aligned:
        assert np.array_equal(matrix, aligned[0])
    # numbered by the intent that uses them most: intent 0's favourite is expert 0, intent 1's expert 1, ...
    assert aligned[0].argmax(axis=1).tolist() == [0, 1, 2]


def test_usage_table_aligns_seeds_so_their_mean_stays_sharp(tmp_path):
    # The fake's seeds favour different expert indices for the same intent, as real runs do.
    runs = _grid(tmp_path, {("T", "baseline"): ["finished"] * 4 + ["diverged"], ("T", "temporal"): [None]})
    raw = np.mean([[fake_usage("T", "baseline", s, i) for i in range(len(INTENTS))] for s in range(1, 5)], axis=0)
    usage = usage_table(runs)
    assert set(usage["variant"]) == {"baseline"} and set(usage["seed"]) == {1, 2, 3, 4}
    matrix = usage_matrix(usage, "T", "baseline")
    assert list(matrix.index) == INTENTS and matrix.shape == (3, 4)
    assert matrix.sum(axis=1).to_numpy() == pytest.approx(1.0, abs=1e-5)
    favourite_shares = [np.mean([max(fake_usage("T", "baseline", s, i)) for s in range(1, 5)]) for i in range(3)]
    assert raw.max(axis=1).max() < min(favourite_shares) - 0.15  # by index, the seeds blur each other
    # aligned, each intent keeps its favourite: the mean of the seeds' favourite shares, on the diagonal
    assert matrix.max(axis=1).to_numpy() == pytest.approx(favourite_shares)
    assert matrix.to_numpy().argmax(axis=1).tolist() == [0, 1, 2]
    seed_two = usage_matrix(usage, "T", "baseline", seed=2)
    assert seed_two.loc["fetch"].max() == pytest.approx(max(fake_usage("T", "baseline", 2, 1)))
    assert usage_matrix(usage, "T", "temporal").empty
    wide = mean_usage_table(usage)
    assert wide.columns.tolist()[:4] == ["task", "variant", "intent", "n_seeds"] and (wide["n_seeds"] == 4).all()


def test_episode_table_takes_first_finished_seed(tmp_path):
    runs = _grid(tmp_path, {("T", "baseline"): ["diverged", "finished", "finished"]})
    episodes = episode_table(runs)
    assert set(episodes["seed"]) == {2}
    assert episodes["intent"].tolist()[:5] == ["explore"] * 4 + ["fetch"]
    alphas = episodes[[f"alpha_{k}" for k in range(4)]].sum(axis=1)
    assert alphas.to_numpy() == pytest.approx(1.0, abs=1e-5)


def test_new_figures_write_pdf_and_png_even_with_empty_panels(tmp_path):
    plan = {("T", v): ["finished", "finished", "diverged"] for v in all_variants(["temporal", "overlap"])}
    runs = _grid(tmp_path / "runs", plan)
    variants, tasks = all_variants(["temporal", "overlap"]), ["T", "EmptyTask"]
    metrics = ["router_mutual_information", "return_mean"]
    effects = factorial_effects(runs, ["temporal", "overlap"], metrics)
    robust = robust_aggregates(runs, variants, tasks, metrics)
    paths = {}
    for name, plot, args in [
        ("effects", plot_effects, (effects, tasks, metrics)),
        ("robust", plot_robust_aggregates, (robust, variants)),
        ("usage", plot_usage_heatmaps, (usage_table(runs), tasks, variants)),
        ("episodes", plot_episodes, (episode_table(runs), tasks, variants)),
        ("scatter", plot_entropy_scatter, (runs, tasks, variants)),
    ]:
        paths[name] = [tmp_path / f"{name}.pdf", tmp_path / f"{name}.png"]
        plot(*args, paths[name])
    for name, files in paths.items():
        for path in files:
            assert path.stat().st_size > 1000, name


def test_entropy_scatter_puts_each_tasks_hedging_corner_at_its_own_ln_k(tmp_path):
    """Tasks trained with different K (study v2: K = the task's intents) each get their own
    ln K line and axes, so a uniform router sits in its own panel's hedging corner."""
    import math

    runs = pd.DataFrame({"task": ["A", "A", "B"], "variant": ["baseline"] * 3, "status": ["finished"] * 3,
                         "num_experts": [2.0, 2.0, 3.0], "router_entropy": [0.69, 0.6, 1.09],
                         "marginal_router_entropy": [0.69, 0.69, 1.09]})
    fig = plot_entropy_scatter(runs, ["A", "B", "C"], ["baseline"], [tmp_path / "scatter.png"])
    limits = [ax.get_ylim()[1] for ax in fig.axes[:3]]
    assert limits == pytest.approx([1.05 * math.log(2), 1.05 * math.log(3), 1.05 * math.log(3)])  # C: the grid's K
    ln_k_lines = [[line.get_ydata()[0] for line in ax.get_lines() if line.get_linestyle() == ":"]
                  for ax in fig.axes[:2]]
    assert ln_k_lines == [[pytest.approx(math.log(2))], [pytest.approx(math.log(3))]]
