"""MOORE's forms (experts as encoders, Gram-Schmidt, task routers, per-task heads) and MOORE's PPO settings
(per-task advantage normalisation, a critic fitted on the whole rollout, no gradient clipping): hand-computed."""

import pytest
import torch

from moe.config import resolve
from moe.encoder_experts import EncoderExpertsAgent, ExpertCNNs, orthonormalise
from moe.errors import ConfigError
from moe.model import build_agent
from moe.ppo import normalise_per_intent

ENCODERS = ["model.experts=encoders", "model.num_experts=2", "model.task_heads=true", "model.router=task"]


def agent(**settings) -> EncoderExpertsAgent:
    form = {"num_experts": 2, "hidden": 8, "router": "task", "orthogonal": False, "task_heads": False,
            "intent_input": False, **settings}
    torch.manual_seed(0)
    return EncoderExpertsAgent(num_actions=3, view_size=5, num_intents=3, **form)


def views(batch: int) -> torch.Tensor:
    return torch.randint(0, 11, (batch, 5, 5, 3), generator=torch.Generator().manual_seed(batch))


# --- Gram-Schmidt --------------------------------------------------------------------------


def test_gram_schmidt_by_hand_keeps_the_first_direction_and_makes_the_second_orthogonal_to_it():
    # (3, 4) -> (0.6, 0.8); (1, 0) - 0.6 (0.6, 0.8) = (0.64, -0.48), of norm 0.8 -> (0.8, -0.6).
    result = orthonormalise(torch.tensor([[[3.0, 4.0], [1.0, 0.0]]]))
    assert torch.allclose(result, torch.tensor([[[0.6, 0.8], [0.8, -0.6]]]), atol=1e-6)


def test_gram_schmidt_outputs_are_orthonormal_for_each_sample_and_span_the_same_leading_subspaces():
    vectors = torch.randn(5, 3, 16, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    basis = orthonormalise(vectors)
    gram = basis @ basis.transpose(1, 2)
    assert torch.allclose(gram, torch.eye(3, dtype=torch.float64).expand(5, 3, 3), atol=1e-12)
    # Expert order is kept: the first output is the first input's direction.
    assert torch.allclose(basis[:, 0], vectors[:, 0] / vectors[:, 0].norm(dim=-1, keepdim=True))
    # Each sample is orthonormalised on its own: changing sample 0 leaves sample 1 alone.
    changed = vectors.clone()
    changed[0] += 1
    assert torch.equal(orthonormalise(changed)[1], basis[1])


# --- the network ------------------------------------------------------------------------------


def test_each_expert_is_moores_cnn_three_2x2_convolutions_without_pooling_flattened():
    experts = ExpertCNNs(num_experts=3, view_size=7)
    assert experts.out_dim == 1024  # 64 channels on a 4x4 map
    assert sum(parameter.numel() for parameter in experts.parameters()) == 3 * (208 + 2080 + 8256)
    image = torch.randint(0, 11, (4, 7, 7, 3), generator=torch.Generator().manual_seed(0))
    features = experts(image)
    assert features.shape == (4, 3, 1024)
    for expert in range(3):
        # As nn.Conv2d runs them, channels first: ReLU after the first two, none after the last.
        first, second, third = (experts.expert_convolution(expert, layer) for layer in range(3))
        reference = third(torch.relu(second(torch.relu(first(image.float().permute(0, 3, 1, 2))))))
        assert torch.allclose(features[:, expert], reference.permute(0, 2, 3, 1).flatten(1), atol=1e-4)
    # The experts differ: each drew its own initial weights.
    assert not torch.allclose(features[:, 0], features[:, 1])


def test_parameter_counts_equal_those_of_moores_code_on_mt3():
    # Per expert 10,544 conv weights; per task head Linear(1024, 128) + Linear(128, out); task weights 3 x K.
    def head(out):
        return 1024 * 128 + 128 + 128 * out + out

    moore_actor = 2 * 10_544 + 3 * 2 + 3 * head(7)
    moore_critic = 2 * 10_544 + 3 * 2 + 3 * head(1)
    mtppo = 2 * 10_544 + 3 * head(7) + 3 * head(1)
    config = resolve(None, [*ENCODERS, "model.hidden=128", "model.orthogonal=true"])["model"]
    assert sum(p.numel() for p in build_agent(config, 7, 7, 3).parameters()) == moore_actor + moore_critic == 832_484
    config = resolve(None, [*ENCODERS, "model.hidden=128", "model.num_experts=1"])["model"]
    assert sum(p.numel() for p in build_agent(config, 7, 7, 3).parameters()) == mtppo == 811_384


def test_a_task_router_mixes_by_the_task_alone_with_linear_weights_and_tanh_after_mixing():
    network = agent(router="task").actor
    image = views(4)
    task = torch.tensor([0, 1, 2, 1])
    weights, _, log_alpha = network.mixing(image, task, torch.zeros(2))
    # w = W onehot(c): column c of W, whatever the view.
    assert torch.allclose(weights, network.task_weights.weight.t()[task])
    other_views = views(5)[:4]
    assert torch.equal(network.mixing(other_views, task, torch.zeros(2))[0], weights)
    # alpha: each expert's share of |w|.
    assert torch.allclose(log_alpha.exp(), weights.abs() / weights.abs().sum(-1, keepdim=True))
    # The heads read tanh(sum_k w_k f_k).
    with torch.no_grad():
        network.task_weights.weight.copy_(torch.tensor([[2.0, -1.0, 0.5], [-3.0, 0.0, 1.0]]))
        features = network.experts(image)
        by_hand = torch.tanh(torch.tensor([2.0, -1.0, 0.5, -1.0])[:, None] * features[:, 0]
                             + torch.tensor([-3.0, 0.0, 1.0, 0.0])[:, None] * features[:, 1])
        assert torch.allclose(network(image, task, torch.zeros(2))[0], network.heads.heads[0](by_hand), atol=1e-6)


def test_the_softmax_task_router_weights_sum_to_one_and_the_view_router_reads_the_view():
    image, task = views(4), torch.tensor([0, 1, 2, 0])
    weights = agent(router="task_softmax").actor.mixing(image, task, torch.zeros(2))[0]
    assert torch.allclose(weights.sum(-1), torch.ones(4)) and bool((weights > 0).all())
    assert torch.allclose(weights[0], weights[3])  # same task, other view
    learned = agent(router="learned").actor
    weights = learned.mixing(image, task, torch.zeros(2))[0]
    assert not torch.allclose(weights[0], weights[3])  # same task, other view: other weights
    oracle = agent(router="oracle").actor.mixing(image, torch.tensor([1, 0, 1, 0]), torch.zeros(2))[0]
    assert torch.equal(oracle, torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]))


def test_one_expert_has_weight_one_and_no_router():
    network = agent(num_experts=1, router="learned").actor
    assert network.view_router is None and network.task_weights is None
    assert torch.equal(network.mixing(views(3), torch.tensor([0, 1, 2]), torch.zeros(1))[0], torch.ones(3, 1))


def test_the_single_head_form_reads_the_task_one_hot_beside_the_mixed_features():
    network = agent(num_experts=1, router="learned", intent_input=True).actor
    image, task = views(3), torch.tensor([2, 0, 1])
    assert network.heads.heads[0][0].in_features == network.experts.out_dim + 3
    with torch.no_grad():
        by_hand = torch.cat([torch.tanh(network.experts(image)[:, 0]), torch.eye(3)[task]], dim=-1)
        assert torch.allclose(network(image, task, torch.zeros(1))[0], network.heads.heads[0](by_hand), atol=1e-6)
        # One view, three tasks: three outputs; without the one-hot the task changes nothing.
        same_view = image[:1].repeat(3, 1, 1, 1)
        told = network(same_view, torch.tensor([0, 1, 2]), torch.zeros(1))[0]
        assert not torch.allclose(told[0], told[1]) and not torch.allclose(told[1], told[2])
        blind = agent(num_experts=1, router="learned").actor(same_view, torch.tensor([0, 1, 2]), torch.zeros(1))[0]
        assert torch.equal(blind[0], blind[1]) and torch.equal(blind[1], blind[2])


def test_each_sample_is_read_by_its_own_tasks_head():
    network = agent(task_heads=True).actor
    image, task = views(6), torch.tensor([0, 1, 2, 2, 1, 0])
    out = network(image, task, torch.zeros(2))[0]
    with torch.no_grad():
        weights, _, _ = network.mixing(image, task, torch.zeros(2))
        features = network.experts(image)
        mixed = torch.tanh(torch.einsum("bk,bkf->bf", weights, features))
        for row, index in enumerate(task.tolist()):
            assert torch.allclose(out[row], network.heads.heads[index](mixed[row:row + 1])[0], atol=1e-6)
    # A head's gradient comes from its own task's samples alone.
    out[task == 1].sum().backward()
    assert network.heads.heads[0][0].weight.grad is None or not network.heads.heads[0][0].weight.grad.any()
    assert network.heads.heads[1][0].weight.grad.abs().sum() > 0


def test_actor_and_critic_are_two_networks_and_the_supervised_router_learns_from_the_label_alone():
    model = agent(router="supervised")
    assert not {id(p) for p in model.actor.parameters()} & {id(p) for p in model.critic.parameters()}
    output = model(views(4), torch.zeros(4, dtype=torch.long), intent=torch.tensor([0, 1, 0, 1]))
    # The policy's loss reaches the router through no path; the label's cross-entropy does.
    assert torch.autograd.grad(output.action_log_probs.sum(), output.router_logits, allow_unused=True,
                               retain_graph=True)[0] is None
    label_loss = torch.nn.functional.cross_entropy(output.router_logits, torch.tensor([0, 1, 0, 1]))
    assert torch.autograd.grad(label_loss, output.router_logits)[0].abs().sum() > 0
    assert model.critic.router == "learned"  # the critic's own weights learn from the value
    assert torch.isnan(output.expert_logits).all()  # no expert has a policy of its own


# --- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize("assignments, named", [
    (["model.orthogonal=true"], "model.orthogonal"),
    (["model.task_heads=true"], "model.task_heads"),
    (["model.router=task"], "model.router"),
    (["model.experts=encoders", "model.routing=hard"], "model.routing"),
    (["model.experts=encoders", "model.router_memory=previous_alpha"], "model.router_memory"),
    (["model.experts=encoders", "model.num_experts=1", "model.orthogonal=true"], "model.orthogonal"),
    (["critic_full_batch_steps=1"], "critic_full_batch_steps"),
    (["model.experts=encoders", "model.router=oracle", "model.oracle_noise=0.1"], "model.oracle_noise"),
    (["model.experts=encoders", "model.router=oracle",
      'phases=[{"name": "a", "end": 0.5}, {"name": "b", "end": 1.0, "set": {"model": {"router": "learned"}}}]'],
     "phases"),
])
def test_settings_that_the_form_has_no_meaning_for_are_refused_by_name(assignments, named):
    with pytest.raises(ConfigError, match=named):
        resolve(None, assignments)


def test_overlap_and_task_settings_without_labels_are_refused(tiny, short_task):
    from moe.train import Trainer

    config = resolve(None, [*tiny, *ENCODERS])
    with pytest.raises(ConfigError, match="overlap"):
        Trainer("MoETest-DirectionIntent-v0", "overlap", 1, 160, config, out_dir=None)
    with pytest.raises(ConfigError, match="no intent labels"):
        Trainer(short_task, "baseline", 1, 160, config, out_dir=None)
    with pytest.raises(ConfigError, match="no distribution for entropy_min"):
        Trainer("MoETest-DirectionIntent-v0", "entropy_min", 1, 160, config, out_dir=None)
    oracle = resolve(None, [*tiny, "model.experts=encoders", "model.router=oracle"])
    with pytest.raises(ConfigError, match="config key model"):  # not a traceback
        Trainer(short_task, "baseline", 1, 160, oracle, out_dir=None)


# --- MOORE's PPO settings ----------------------------------------------------------------


def test_advantages_are_normalised_within_each_intent():
    advantages = torch.tensor([1.0, 3.0, 10.0, 20.0, 5.0])
    intent = torch.tensor([0, 0, 1, 1, -1])
    normalised = normalise_per_intent(advantages, intent)
    # Each label's mean 0 and population sd 1: (1, 3) -> (-1, 1), (10, 20) -> (-1, 1); one step -> 0.
    assert torch.allclose(normalised, torch.tensor([-1.0, 1.0, -1.0, 1.0, 0.0]), atol=1e-6)


def test_the_critic_fitted_on_the_whole_rollout_takes_one_step_an_update_and_the_policy_the_rest(tmp_path, tiny):
    from moe.train import Trainer

    config = resolve(None, [*tiny, *ENCODERS, "epochs=3", "minibatch_size=20", "critic_full_batch_steps=1",
                            "max_grad_norm=null", "advantage_normalisation=per_intent"])
    trainer = Trainer("MoETest-DirectionIntent-v0", "baseline", 1, 160, config, out_dir=tmp_path)
    critic_before = [p.detach().clone() for p in trainer.agent.critic.parameters()]
    row = trainer.train_one_update()
    steps = lambda module: {int(trainer.optimizer.state[p]["step"]) for p in module.parameters()  # noqa: E731
                            if p in trainer.optimizer.state}
    assert steps(trainer.agent.critic) == {1}
    # 3 epochs x 80 frames / 20; the experts and task weights every step (a task head only where its task is).
    assert steps(trainer.agent.actor.experts) == steps(trainer.agent.actor.task_weights) == {3 * 4}
    assert all(not torch.equal(a, b) for a, b in zip(critic_before, trainer.agent.critic.parameters(), strict=True))
    assert row["loss_value"] > 0


def test_without_gradient_clipping_an_update_moves_the_weights_further_than_with_a_tight_clip(tmp_path, tiny):
    from moe.train import Trainer

    moved = {}
    for clip in ("null", "1e-6"):
        config = resolve(None, [*tiny, *ENCODERS, f"max_grad_norm={clip}", "lr=1e-2", "adam_eps=1"])
        trainer = Trainer("MoETest-DirectionIntent-v0", "baseline", 1, 160, config, out_dir=tmp_path / clip)
        before = torch.cat([p.detach().flatten().clone() for p in trainer.agent.actor.parameters()])
        trainer.train_one_update()
        moved[clip] = float((torch.cat([p.detach().flatten() for p in trainer.agent.actor.parameters()])
                             - before).norm())
    assert moved["null"] > 100 * moved["1e-6"]
