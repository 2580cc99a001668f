"""The forms and controls that give a fix a mechanism (hard routing, overlap on the router alone,
bias balancing, a supervised router, a noisy oracle, a router handed over between phases), the
coefficient ramp, the settle rule's minimum and each term's gradient at the router: hand-computed."""

import math

import pytest
import torch

from moe.config import resolve
from moe.corrections import CORRECTIONS, CorrectionBatch, correction_loss
from moe.errors import ConfigError
from moe.model import AgentOutput, MoEAgent, noisy_intent
from moe.ppo import loss_weights, router_gradient_norms
from moe.warmup import first_settled, warmup_signature

# --- hard routing ------------------------------------------------------------------------


def two_experts_output() -> AgentOutput:
    """One sample, alpha = (0.25, 0.75); expert 0 picks action 0 or 1 evenly, expert 1 always action 2."""
    log_alpha = torch.log(torch.tensor([[0.25, 0.75]]))
    expert_probs = torch.tensor([[[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]]])
    expert_log_probs = torch.log(expert_probs.clamp_min(1e-30))
    mixture = torch.log((log_alpha.exp().unsqueeze(-1) * expert_probs).sum(1))
    return AgentOutput(mixture, log_alpha, log_alpha, expert_log_probs, torch.zeros(1), expert_log_probs)


def test_hard_routing_scores_the_joint_choice_and_acts_with_the_mixtures_marginal():
    output = two_experts_output()
    # log alpha_k + log pi_k(a): choosing expert 1 then action 2 has probability 0.75 * 1.
    assert output.joint_log_prob(torch.tensor([1]), torch.tensor([2])).item() == pytest.approx(math.log(0.75))
    assert output.joint_log_prob(torch.tensor([0]), torch.tensor([1])).item() == pytest.approx(math.log(0.125))
    # Summed over experts, the joint is the mixture: action 0 with 0.125, 1 with 0.125, 2 with 0.75.
    for action in range(3):
        joint = sum(output.joint_log_prob(torch.tensor([k]), torch.tensor([action])).exp() for k in range(2))
        assert joint.item() == pytest.approx(output.action_log_probs[0, action].exp().item(), abs=1e-7)
    # A draw names an expert and an action it can take.
    generator = torch.Generator().manual_seed(0)
    draws = [tuple(int(x) for x in output.sample_hard(generator)) for _ in range(200)]
    assert {(0, 0), (0, 1), (1, 2)} == set(draws)


def test_a_hard_routed_rollout_stores_each_steps_expert_and_the_joint_log_probability(tiny_trainer):
    from moe.ppo import collect_rollout, run_agent

    trainer = tiny_trainer(assignments=["model.routing=hard"])
    rollout, _ = collect_rollout(trainer.agent, trainer.envs, trainer.carry, 5, trainer.device)
    assert rollout.experts.shape == rollout.actions.shape == (5, 2)
    with torch.no_grad():
        output = run_agent(trainer.agent, rollout.inputs.map(lambda tensor: tensor.flatten(0, 1)))
    expected = output.joint_log_prob(rollout.experts.flatten(), rollout.actions.flatten())
    assert torch.allclose(rollout.log_probs.flatten(), expected, atol=1e-6)
    mixture = tiny_trainer(seed=4)
    assert collect_rollout(mixture.agent, mixture.envs, mixture.carry, 5, mixture.device)[0].experts is None


# --- overlap with the gradient into the router alone -------------------------------------


def test_overlap_on_the_router_alone_leaves_the_experts_no_gradient():
    router_logits = torch.tensor([[0.3, -0.2]], dtype=torch.float64, requires_grad=True)
    # Two experts doing the same thing: cosine 1, so the term is 2 alpha_0 alpha_1.
    expert_logits = torch.tensor([[[1.0, 0.0, -1.0], [2.0, 0.0, -2.0]]], dtype=torch.float64, requires_grad=True)
    gradients = {}
    for gradient in ("all", "router"):
        log_alpha = torch.log_softmax(router_logits, -1)
        output = AgentOutput(torch.zeros(1, 3, dtype=torch.float64), router_logits, log_alpha, expert_logits,
                             torch.zeros(1, dtype=torch.float64))
        batch = CorrectionBatch(output, torch.full((1, 2), 0.5, dtype=torch.float64), torch.zeros(1, dtype=torch.bool))
        value = correction_loss("overlap", {"gradient": gradient}, batch)
        alpha = log_alpha.exp()[0]
        assert value.item() == pytest.approx(2 * alpha[0].item() * alpha[1].item())
        gradients[gradient] = torch.autograd.grad(value, [router_logits, expert_logits], allow_unused=True)
    # The same push on the router; with `router` the experts get none (the term does not reach them).
    assert torch.allclose(gradients["all"][0], gradients["router"][0])
    assert gradients["router"][1] is None and gradients["all"][1] is not None


# --- bias balancing ------------------------------------------------------------------------


def test_bias_balance_moves_each_bias_by_u_towards_the_underused_experts_and_is_saved():
    agent = MoEAgent(num_actions=3, num_experts=3, hidden=8, gat_dim=8)
    loads = torch.tensor([0.5, 0.3, 0.2]).expand(4, 2, 3)  # (T, N, K): mean load 1/3
    CORRECTIONS["bias_balance"].after_update(agent, loads, 0.001)
    assert agent.router_bias.tolist() == pytest.approx([-0.001, 0.001, 0.001])
    CORRECTIONS["bias_balance"].after_update(agent, torch.full((4, 2, 3), 1 / 3), 0.001)  # balanced: no move
    assert agent.router_bias.tolist() == pytest.approx([-0.001, 0.001, 0.001])
    assert "router_bias" in agent.state_dict()  # checkpointed with the model
    assert CORRECTIONS["bias_balance"].term is None  # no loss term, no gradient
    # The bias shifts alpha as softmax(logits + b).
    image = torch.zeros(1, 7, 7, 3, dtype=torch.uint8)
    before = agent(image, torch.zeros(1, dtype=torch.long))
    agent.router_bias += torch.tensor([0.0, 1.0, 0.0])
    after = agent(image, torch.zeros(1, dtype=torch.long))
    assert torch.allclose(after.router_logits - before.router_logits, torch.tensor([[0.0, 1.0, 0.0]]))


# --- the supervised router and the noisy oracle ------------------------------------------


def test_the_supervised_router_learns_from_the_label_alone():
    agent = MoEAgent(num_actions=3, num_experts=2, hidden=8, gat_dim=8, router="supervised")
    image, direction = torch.zeros(4, 7, 7, 3, dtype=torch.uint8), torch.zeros(4, dtype=torch.long)
    output = agent(image, direction)
    policy_loss = -output.action_log_probs[:, 0].mean()
    assert torch.autograd.grad(policy_loss, agent.router_out.weight, allow_unused=True)[0] is None
    label_loss = torch.nn.functional.cross_entropy(output.router_logits, torch.tensor([0, 1, 1, 1]))
    assert torch.autograd.grad(label_loss, agent.router_out.weight)[0].abs().max() > 0
    supervised = resolve(None, ["model.router=supervised"])
    assert loss_weights(supervised, [], "warmup")["router_label"] == 1.0
    assert loss_weights(resolve(None, []), [], "warmup")["router_label"] == 0.0


def test_a_noisy_oracle_routes_that_share_of_steps_to_a_wrong_expert():
    intent = torch.arange(3).repeat(20000)  # 60,000 steps of intents 0, 1, 2
    assert noisy_intent(intent, 0.0, 3) is intent
    generator = torch.Generator().manual_seed(0)
    always = noisy_intent(intent, 1.0, 3, generator)
    assert (always != intent).all()
    assert {(i, o) for i, o in zip(intent[:300].tolist(), always[:300].tolist(), strict=True)} == \
        {(i, o) for i in range(3) for o in range(3) if i != o}  # each wrong expert is reached
    some = noisy_intent(intent, 0.2, 3, generator)
    # 60,000 Bernoulli(0.2) draws: standard error 0.0016; 5 of them is a bound that holds, not luck.
    assert abs((some != intent).float().mean().item() - 0.2) < 0.008
    unlabelled = torch.full((10,), -1)
    assert (noisy_intent(unlabelled, 1.0, 3, generator) == -1).all()


# --- the coefficient ramp, the settle rule's minimum ------------------------------------


def test_a_ramp_raises_the_coefficient_linearly_to_its_value():
    config = resolve(None, ["corrections.entropy_min.coef=0.1", "corrections.entropy_min.ramp=0.5",
                            "corrections.entropy_min.phases=[warmup, finetune]"])
    weights = [loss_weights(config, ["entropy_min"], "warmup", progress)["entropy_min"]
               for progress in (0.0, 0.25, 0.5, 0.9)]
    assert weights == pytest.approx([0.0, 0.05, 0.1, 0.1])
    assert loss_weights(resolve(None, []), ["entropy_min"], "finetune", 0.0)["entropy_min"] == 0.01  # no ramp
    with pytest.raises(ConfigError, match="corrections.entropy_min.ramp"):
        resolve(None, ["corrections.entropy_min.ramp=2"])


def test_the_settle_rule_waits_for_its_minimum():
    rows = [{"router_entropy": 0.5, "router_mutual_information": 0.1}] * 30
    tolerances = {"router_entropy": 0.03, "router_mutual_information": 0.1}
    assert first_settled(rows, 10, **tolerances) == 10
    assert first_settled(rows, 10, 25, **tolerances) == 25
    assert first_settled(rows[:20], 10, 25, **tolerances) is None


# --- each term's gradient at the router ----------------------------------------------------


def test_router_gradient_norms_on_a_hand_computed_entropy():
    # z = (0, ln 3): p = (1/4, 3/4), dH/dz_k = -p_k (ln p_k + H): (0.2060, -0.2060), norm 0.2913.
    logits = torch.tensor([[0.0, math.log(3.0)]], dtype=torch.float64, requires_grad=True)
    p = torch.softmax(logits, -1)
    entropy = -(p * p.log()).sum()
    h = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    expected = math.hypot(0.25 * (math.log(0.25) + h), 0.75 * (math.log(0.75) + h))
    norms = router_gradient_norms({"entropy_min": 0.1 * entropy, "value": torch.zeros(()),
                                   "detached": (logits * 2).sum().detach()}, logits)
    assert norms["grad_router_entropy_min"] == pytest.approx(0.1 * expected)
    assert expected == pytest.approx(0.2913, abs=1e-4)
    assert math.isnan(norms["grad_router_value"]) and math.isnan(norms["grad_router_detached"])


# --- the settings reach a run, and leave earlier warm-ups as they were ---------------------


def test_new_model_settings_at_their_defaults_keep_the_warmup_signature():
    config = resolve(None, [])
    signature = warmup_signature(config, "MultiIntent-Hunt-6x6-v0", "baseline", 1, 4096)
    assert "routing" not in signature["training"]["model"] and "oracle_noise" not in signature["training"]["model"]
    assert "router_label_coef" not in signature["training"]
    hard = warmup_signature(resolve(None, ["model.routing=hard"]), "MultiIntent-Hunt-6x6-v0", "baseline", 1, 4096)
    assert hard["training"]["model"]["routing"] == "hard"


def test_a_phase_hands_routing_from_the_oracle_to_a_learned_router(tiny_trainer):
    """The basin test's phases: the oracle routes, a supervised router fits it, a learned one takes over."""
    phases = ('phases=[{"name": "oracle", "end": 0.3, "set": {"model": {"router": "oracle"}}}, '
              '{"name": "fit", "end": 0.6, "set": {"model": {"router": "supervised"}}}, '
              '{"name": "finetune", "end": 1.0}]')
    from moe.config import resolve as resolve_config
    from moe.train import Trainer

    trainer = Trainer("MoETest-DirectionIntent-v0", "baseline", 1, 240,
                      resolve_config(None, ["num_envs=2", "rollout_steps=40", "minibatch_size=40", "eval.episodes=2",
                                            "model.hidden=16", "model.gat_dim=8", "model.num_experts=2", phases]),
                      out_dir=None)
    rows = [trainer.train_one_update() for _ in range(3)]
    assert [row["phase"] for row in rows] == ["oracle", "fit", "finetune"]
    assert rows[0]["router_entropy"] < 1e-6  # the oracle's one-hot routing
    assert rows[1]["loss_router_label"] > 0 and rows[0]["loss_router_label"] == 0 == rows[2]["loss_router_label"]
    assert trainer.agent.router == "learned"
    with pytest.raises(ConfigError, match="the supervised router needs a task with intent labels"):
        Trainer("MoETest-ShortDoorKey-v0", "baseline", 1, 240, resolve_config(None, [phases.replace("oracle", "x")
                .replace('"x"', '"supervised"')]), out_dir=None)


def test_a_run_with_every_new_option_trains_and_reproduces(tmp_path):
    """Hard routing; the oracle (wrong on a fifth of its steps) hands routing to the supervised router, then
    to the learned one; entropy_min ramped, overlap on the router alone, balance and bias_balance acting;
    a settle rule with a minimum. Twice with the same seed: the same files."""
    import json

    import pandas as pd

    from moe.train import TIMING_COLUMNS, train

    settings = ["num_envs=2", "rollout_steps=40", "minibatch_size=40", "eval.episodes=4", "model.hidden=16",
                "model.gat_dim=8", "model.num_experts=2", "model.routing=hard", "model.oracle_noise=0.2",
                "corrections.entropy_min.ramp=0.5", "corrections.overlap.gradient=router", "model.router=oracle",
                'phases=[{"name": "oracle", "end": 0.25}, '
                '{"name": "fit", "end": 0.5, "set": {"model": {"router": "supervised"}}}, '
                '{"name": "finetune", "end": 1.0, "set": {"model": {"router": "learned"}}, "until_settled": '
                '{"window": 2, "router_entropy": 5, "router_mutual_information": 5, "min_updates": 3}}]']
    variant = "entropy_min+overlap+balance+bias_balance"
    finals = [train("MoETest-DirectionIntent-v0", variant, 2, 8 * 80, tmp_path / name, assignments=settings)
              for name in ("first", "second")]
    assert finals[0] == finals[1] and finals[0]["status"] == "finished"
    assert (finals[0]["settled_update"], finals[0]["settled_at_minimum"]) == (7, True)  # 4 + the minimum 3
    metrics = [pd.read_csv(tmp_path / name / "metrics.csv").drop(columns=TIMING_COLUMNS)
               for name in ("first", "second")]
    pd.testing.assert_frame_equal(*metrics)
    assert metrics[0]["phase"].tolist() == ["oracle"] * 2 + ["fit"] * 2 + ["finetune"] * 3
    assert (tmp_path / "first/eval_episode.csv").read_bytes() == (tmp_path / "second/eval_episode.csv").read_bytes()
    assert metrics[0]["grad_router_entropy_min"].iloc[-1] > 0 and math.isnan(metrics[0]["grad_router_entropy_min"][0])
    assert 0 <= finals[0]["return_auc_run"] <= 1 and "frames_to_threshold" in finals[0]
    assert json.loads((tmp_path / "first/final.json").read_text())["num_experts"] == 2
    from moe.checkpoint import load_latest

    assert load_latest(tmp_path / "first")["model"]["router_bias"].abs().sum() > 0  # bias_balance moved it
    # Killed after its last update, before finishing: the resumed run trains nothing and evaluates with the
    # last phase's router (the learned one), not the run's model.router.
    for name in ("final.json", "eval_episode.csv"):
        (tmp_path / "first" / name).unlink()
    resumed = train("MoETest-DirectionIntent-v0", variant, 2, 8 * 80, tmp_path / "first", assignments=settings)
    assert resumed == finals[0]


def test_the_intent_as_an_input_reaches_every_head_and_leaves_other_weights_as_they_were():
    torch.manual_seed(0)
    told = MoEAgent(num_actions=3, num_experts=1, hidden=8, gat_dim=8, intent_input=True)
    torch.manual_seed(0)
    plain = MoEAgent(num_actions=3, num_experts=1, hidden=8, gat_dim=8)
    for name, weight in plain.state_dict().items():
        assert torch.equal(told.state_dict()[name], weight)  # the embedding is drawn last
    image, direction = torch.zeros(2, 7, 7, 3, dtype=torch.uint8), torch.zeros(2, dtype=torch.long)
    by_intent = told(image, direction, intent=torch.tensor([0, 1]))
    assert not torch.allclose(by_intent.value[0], by_intent.value[1])  # same view, different label
    unlabelled = told(image, direction, intent=torch.tensor([-1, -1]))
    assert torch.allclose(unlabelled.value, plain(image, direction, intent=torch.tensor([-1, -1])).value)


def test_a_router_that_the_first_phase_overrides_leaves_the_warmup_shared(tmp_path):
    """The basin test's control (the label kept to the end) records another router than the baseline, but its
    first phase routes by the oracle too: one signature, and the same first-phase rows."""
    import json

    import pandas as pd

    from moe.config import resolve as resolve_config
    from moe.train import TIMING_COLUMNS, train

    phases = ('phases=[{"name": "oracle", "end": 0.5, "set": {"model": {"router": "oracle"}}}, '
              '{"name": "fit", "end": 0.75, "set": {"model": {"router": "supervised"}}}, '
              '{"name": "finetune", "end": 1.0}]')
    settings = ["num_envs=2", "rollout_steps=40", "minibatch_size=40", "eval.episodes=2", "model.hidden=16",
                "model.gat_dim=8", "model.num_experts=2", phases]
    signatures = {router: warmup_signature(resolve_config(None, [*settings, f"model.router={router}"]),
                                           "MoETest-DirectionIntent-v0", "baseline", 1, 4 * 80)
                  for router in ("learned", "supervised", "oracle")}
    assert signatures["learned"] == signatures["supervised"] == signatures["oracle"]
    # Without the first phase's router the run's own decides the first phase, and keeps its own warm-up.
    plain = [setting for setting in settings if not setting.startswith("phases")]
    assert (warmup_signature(resolve_config(None, [*plain, "model.router=oracle"]), "MoETest-DirectionIntent-v0",
                             "baseline", 1, 4 * 80)
            != warmup_signature(resolve_config(None, plain), "MoETest-DirectionIntent-v0", "baseline", 1, 4 * 80))
    rows = {}
    for router in ("learned", "supervised"):
        train("MoETest-DirectionIntent-v0", "baseline", 1, 4 * 80, tmp_path / router,
              assignments=[*settings, f"model.router={router}"])
        metrics = pd.read_csv(tmp_path / router / "metrics.csv").drop(columns=TIMING_COLUMNS)
        rows[router] = metrics[metrics["phase"] == "oracle"]
    assert len(rows["learned"]) == 2
    pd.testing.assert_frame_equal(rows["learned"], rows["supervised"])
    # The label kept to the end, trained from the baseline's warm-up, ends as it does trained whole.
    train("MoETest-DirectionIntent-v0", "baseline", 1, 4 * 80, tmp_path / "warmup",
          assignments=[*settings, "model.router=learned"], warmup_only=True)
    shared = train("MoETest-DirectionIntent-v0", "baseline", 1, 4 * 80, tmp_path / "from_warmup",
                   assignments=[*settings, "model.router=supervised"], from_warmup=tmp_path / "warmup")
    assert shared == json.loads((tmp_path / "supervised" / "final.json").read_text())
