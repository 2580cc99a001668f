"""The parameter count, and the width at which one expert has as many parameters as K."""

from moe.config import resolve
from moe.tools.params import main, matching_width, parameter_count


def test_the_matching_width_is_the_smallest_that_reaches_the_count(capsys):
    model = resolve(None, ["model.num_experts=8", "model.gat_dim=8"])["model"]
    target = parameter_count(model, 11)
    one_expert = {**model, "num_experts": 1}
    width = matching_width(one_expert, 11, target)
    assert parameter_count({**one_expert, "hidden": width}, 11) >= target
    assert parameter_count({**one_expert, "hidden": width - 2}, 11) < target  # 2: the GAT's heads
    # By hand: the experts' second layers alone are K x (hidden x A + A) = 8 x (64 x 11 + 11).
    two = parameter_count({**model, "num_experts": 2}, 11)
    assert parameter_count(model, 11) - two == 6 * (64 * 11 + 11) + 6 * 64 * 64 + 6 * 64 + 6 * (64 + 1)
    assert main(["--env", "MultiIntent-Remap-n2-c3-6x6-v0", "--set", "model.num_experts=2"]) == 0
    assert "K = 1 with at least as many: model.hidden=" in capsys.readouterr().out
