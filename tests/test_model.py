import pytest
import torch
import torch.nn.functional as F

from moe.corrections import CorrectionBatch, correction_loss, router_entropy
from moe.model import ConvEncoder, MoEAgent, neighbourhood_mask


def random_observation(batch=8, seed=0):
    generator = torch.Generator().manual_seed(seed)
    image = torch.stack([
        torch.randint(0, 11, (batch, 7, 7), generator=generator),
        torch.randint(0, 6, (batch, 7, 7), generator=generator),
        torch.randint(0, 3, (batch, 7, 7), generator=generator),
    ], dim=-1).to(torch.uint8)
    return image, torch.randint(0, 4, (batch,), generator=generator)


@pytest.mark.parametrize("encoder", ["gat", "cnn"])
@pytest.mark.parametrize("experts", [1, 2, 4])
def test_mixture_probabilities_sum_to_one_and_match_the_definition(encoder, experts):
    torch.manual_seed(0)
    agent = MoEAgent(num_actions=7, encoder=encoder, num_experts=experts)
    output = agent(*random_observation())
    probabilities = output.action_log_probs.exp()
    assert torch.allclose(probabilities.sum(-1), torch.ones(8), atol=1e-6)
    # pi(a|s) = sum_k alpha_k softmax(l_k)[a], computed directly.
    direct = (output.alpha.unsqueeze(-1) * torch.softmax(output.expert_logits, -1)).sum(1)
    assert torch.allclose(probabilities, direct, atol=1e-6)
    assert output.value.shape == (8,)


def test_one_expert_is_plain_ppo():
    torch.manual_seed(0)
    agent = MoEAgent(num_actions=7, num_experts=1)
    image, direction = random_observation()
    output = agent(image, direction)
    assert torch.allclose(output.alpha, torch.ones(8, 1))
    assert torch.allclose(output.action_log_probs, torch.log_softmax(output.expert_logits[:, 0], -1), atol=1e-6)
    assert router_entropy(output.alpha, output.log_alpha).item() == 0.0
    batch = CorrectionBatch(output, output.alpha.detach(), torch.zeros(8, dtype=torch.bool))
    # No router means nothing for the corrections to act on.
    for name in ("temporal", "overlap"):
        assert correction_loss(name, {}, batch).abs().item() < 1e-6


@pytest.mark.parametrize("view_size", [7, 9])
def test_cnn_encoder_computes_the_convolution_stack(view_size):
    """The encoder computes rl-starter-files' stack (convolution, ReLU, max-pool, two more
    convolutions with ReLUs) in values and gradients, though it pools before the first ReLU
    and runs each convolution as a matrix product over the 2x2 patches of a channels-last map."""
    torch.manual_seed(0)
    encoder = ConvEncoder(view_size, out_dim=64)
    first_conv, second_conv, last_conv = encoder.conv[0], encoder.conv[3], encoder.conv[5]
    image = torch.randint(0, 6, (8, view_size, view_size, 3), dtype=torch.uint8)
    features = encoder(image)
    hidden = F.max_pool2d(F.relu(first_conv(image.permute(0, 3, 1, 2).float())), 2)
    hidden = F.relu(last_conv(F.relu(second_conv(hidden))))
    plain = F.relu(encoder.out(hidden.flatten(1)))
    assert features.shape == (8, 64)
    assert torch.allclose(features, plain, atol=1e-5)
    parameters = [first_conv.weight, second_conv.weight, last_conv.weight, last_conv.bias]
    gradients = torch.autograd.grad(features.sum(), parameters)
    plain_gradients = torch.autograd.grad(plain.sum(), parameters)
    for gradient, plain_gradient in zip(gradients, plain_gradients, strict=True):
        assert gradient.abs().max() > 0
        assert torch.allclose(gradient, plain_gradient, atol=1e-4)


def test_rejects_zero_experts():
    with pytest.raises(ValueError, match="num_experts"):
        MoEAgent(num_actions=7, num_experts=0)


def test_neighbourhood_mask_links_each_cell_to_its_eight_neighbours_and_itself():
    mask = neighbourhood_mask(7, 7, radius=1)
    linked = torch.isfinite(mask).sum(1).view(7, 7)
    assert linked[3, 3] == 9 and linked[0, 0] == 4 and linked[0, 3] == 6
    assert torch.equal(torch.isfinite(mask), torch.isfinite(mask).T)


def test_attention_only_mixes_neighbours():
    """A change to a cell moves the first layer's output only within the cell's neighbourhood."""
    torch.manual_seed(0)
    agent = MoEAgent(num_actions=7, num_experts=2, gat_layers=1)
    encoder = agent.encoder
    image, _ = random_observation(batch=1)
    captured = []
    encoder.norms[0].register_forward_hook(lambda module, inputs, output: captured.append(output.detach()))
    encoder(image)
    changed = image.clone()
    changed[0, 0, 0, 0] = (int(changed[0, 0, 0, 0]) + 1) % 11
    encoder(changed)
    moved = (captured[0] - captured[1]).abs().sum(-1).view(7, 7) > 1e-6
    assert moved[0, 0] and moved[1, 1]
    assert not moved[2:, :].any() and not moved[:, 2:].any()


def test_the_oracle_router_is_the_one_hot_of_the_true_intent():
    torch.manual_seed(0)
    agent = MoEAgent(num_actions=7, num_experts=3, router="oracle")
    image, direction = random_observation(batch=4)
    intent = torch.tensor([0, 2, 1, 2])
    output = agent(image, direction, intent=intent)
    assert torch.equal(output.alpha, torch.nn.functional.one_hot(intent, 3).float())
    assert router_entropy(output.alpha, output.log_alpha).item() == 0.0  # 0 log 0 is 0, not NaN
    # The policy is the intent's own expert.
    own = torch.log_softmax(output.expert_logits[torch.arange(4), intent], -1)
    assert torch.allclose(output.action_log_probs, own, atol=1e-6)


def test_memory_reaches_the_router_alone():
    torch.manual_seed(0)
    agent = MoEAgent(num_actions=7, num_experts=2, router_memory="previous_alpha")
    image, direction = random_observation(batch=4)
    one = agent(image, direction, previous_alpha=torch.tensor([[1.0, 0.0]]).repeat(4, 1))
    other = agent(image, direction, previous_alpha=torch.tensor([[0.0, 1.0]]).repeat(4, 1))
    assert not torch.allclose(one.router_logits, other.router_logits)
    assert torch.equal(one.value, other.value) and torch.equal(one.expert_logits, other.expert_logits)


def test_a_model_without_memory_draws_the_weights_it_drew_before_memory_existed():
    torch.manual_seed(0)
    plain = MoEAgent(num_actions=7)
    torch.manual_seed(0)
    with_memory = MoEAgent(num_actions=7, router_memory="previous_alpha")
    shared = dict(with_memory.named_parameters())
    assert all(torch.equal(parameter, shared[name]) for name, parameter in plain.named_parameters())
    assert set(shared) - dict(plain.named_parameters()).keys() == {"router_memory.weight"}
