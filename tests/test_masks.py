import copy

import pytest
import torch
from torch import nn

import spline_utils as su

from .conftest import random_bn_


def _bn_mlp(seed=0):
    torch.manual_seed(seed)
    return random_bn_(su.make_mlp([3, 7, 5, 2], batch_norm=True), seed=seed)


def _with_units_zeroed(net: nn.Module, zeroed: dict, x: torch.Tensor) -> torch.Tensor:
    """The output of ``net`` on ``x`` with the given units (channels) of the outputs of the given
    modules forced to zero by forward hooks: ``zeroed`` maps module -> unit list."""

    def hook(units):
        def zero(m, inputs, out):
            out = out.clone()
            out[:, units] = 0.0
            return out

        return zero

    handles = [module.register_forward_hook(hook(units)) for module, units in zeroed.items()]
    try:
        return net(x)
    finally:
        for h in handles:
            h.remove()


def test_unit_pruning_equals_zeroing_the_unit_output_mlp_with_bn():
    net = _bn_mlp()
    dense = copy.deepcopy(net.state_dict())
    pruned = su.apply_mask(net, su.unit_mask(net, {"0": [1, 4], "3": [0]}))
    x = torch.randn(64, 3, generator=torch.Generator().manual_seed(1))
    expected = _with_units_zeroed(net, {net[2]: [1, 4], net[5]: [0]}, x)  # the ReLUs after BN
    torch.testing.assert_close(pruned(x), expected, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(pruned(x), net(x))
    for key, value in net.state_dict().items():  # the dense model is untouched
        assert torch.equal(value, dense[key])


def test_channel_pruning_of_a_convnet_zeroes_the_channel():
    net = random_bn_(su.digits_convnet())
    mask = su.unit_mask(net, {"0": [2], "4": [5, 7]})
    assert mask.pruned_units("0") == [2] and mask.pruned_units("4") == [5, 7]
    pruned = su.apply_mask(net, mask)
    x = torch.rand(16, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    expected = _with_units_zeroed(net, {net[2]: [2], net[6]: [5, 7]}, x)
    torch.testing.assert_close(pruned(x), expected, rtol=1e-5, atol=1e-6)
    assert pruned[1].weight[2] == 0 and pruned[1].bias[2] == 0  # its BN is zeroed too


def test_magnitude_weight_mask_prunes_the_smallest_entries():
    net = su.make_mlp([2, 10, 10, 1])
    mask = su.magnitude_weight_mask(net, 0.5)
    assert set(mask.weight) == {"0", "2", "4"} and mask.sparsity("4") == 0.0
    for name in ("0", "2"):
        w = dict(su.prunable_layers(net))[name].weight.detach().abs()
        q = mask.weight[name]
        assert mask.sparsity(name) == pytest.approx(0.5)
        assert w[~q].max() <= w[q].min()
    pruned = su.apply_mask(net, mask)
    assert int((pruned[0].weight == 0).sum()) == 10


def test_bad_masks_and_ratios_raise_clear_errors():
    net = su.make_mlp([2, 4, 1])
    with pytest.raises(ValueError, match=r"ratio must be in \[0, 1\)"):
        su.magnitude_weight_mask(net, 1.0)
    with pytest.raises(ValueError, match=r"ratio must be in \[0, 1\)"):
        su.magnitude_weight_mask(net, -0.1)
    with pytest.raises(ValueError, match="unknown layer 'fc9'"):
        su.unit_mask(net, {"fc9": [0]})
    with pytest.raises(ValueError, match="has 4 units; cannot prune unit"):
        su.unit_mask(net, {"0": [4]})
    with pytest.raises(
        ValueError, match=r"weight mask of layer '0' has shape \(2, 2\), expected \(4, 2\)"
    ):
        su.weight_mask(net, {"0": torch.ones(2, 2)})
    with pytest.raises(ValueError, match="only 0 and 1"):
        su.weight_mask(net, {"0": torch.full((4, 2), 0.5)})
    bad = su.full_mask(net)
    bad.weight["0"] = torch.ones(3, 2, dtype=torch.bool)
    with pytest.raises(ValueError, match="mask of layer '0' has shape"):
        su.apply_mask(net, bad)
