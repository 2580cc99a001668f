"""The linear probe reads the intent from an agent's features when the features carry it."""

import pytest

from moe.errors import ConfigError
from moe.tools.probe import probe_run
from moe.train import train


def test_probe_recovers_an_intent_the_features_show(tmp_path, tiny):
    # The intent is the half of the compass the agent faces, and h_t includes a direction
    # embedding: even an agent trained for two tiny updates shows it, linearly.
    train("MoETest-DirectionIntent-v0", "baseline", 1, 160, tmp_path, assignments=tiny)
    result = probe_run(tmp_path, episodes=20)
    assert result["accuracy"] > 0.95 > result["majority_accuracy"]
    assert result["recovered_fraction"] > 0.8
    assert result["recovered_information"] <= result["intent_entropy"]


def test_probe_refuses_a_task_without_intents(tmp_path, tiny, short_task):
    train(short_task, "baseline", 1, 80, tmp_path, assignments=tiny)
    with pytest.raises(ConfigError, match="no intent labels"):
        probe_run(tmp_path, episodes=2)
