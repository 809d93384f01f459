import numpy as np
import pytest
import torch

import spline_utils as su
from spline_utils import costs, criteria, physical

from .conftest import SmallResNet, random_bn_

SMALL_VGG = (8, "M", 16, "M", 24, 24)


def _models():
    torch.manual_seed(0)
    return {
        "mlp": (su.make_mlp([2, 12, 10, 3]), (2,)),
        "mlp_bn": (random_bn_(su.make_mlp([2, 12, 10, 3], batch_norm=True)), (2,)),
        "digits": (random_bn_(su.digits_convnet()), (1, 8, 8)),
        "vgg": (random_bn_(su.vgg(SMALL_VGG)), (3, 32, 32)),
        "preresnet20": (random_bn_(su.models.preresnet(20)), (3, 32, 32)),
        "preresnet20_half": (
            random_bn_(su.models.preresnet(20, in_channels=1, width=0.5)),
            (1, 32, 32),
        ),
        "preresnet11_bottleneck": (
            random_bn_(su.models.preresnet(11, bottleneck=True)),
            (3, 32, 32),
        ),
    }


@pytest.mark.parametrize("arch", list(_models()))
@pytest.mark.parametrize("criterion", ["random", "magnitude"])
def test_physical_model_equals_masked_model(arch, criterion):
    model, shape = _models()[arch]
    model = model.double().eval()
    pruned = criteria.select_units(criteria.unit_scores(model, criterion, seed=1), 0.5)
    x = torch.randn(6, *shape, dtype=torch.float64)
    small = physical.remove_units(model, pruned, x)
    masked = su.apply_mask(model, su.unit_mask(model, pruned))
    torch.testing.assert_close(small(x), masked(x), rtol=0, atol=1e-6)
    widths, full = physical.pruned_widths(small), physical.pruned_widths(model)
    for name, idx in pruned.items():
        assert widths[name] == full[name] - len(idx)
    assert costs.count_parameters(small) < costs.count_parameters(model)
    assert costs.count_flops(small, shape) < costs.count_flops(model, shape)


def test_torch_pruning_agrees_on_widths_flops_and_outputs():
    tp = pytest.importorskip("torch_pruning")
    model, shape = _models()["vgg"]
    model = model.eval()
    pruned = criteria.select_units(criteria.unit_scores(model, "slimming"), 0.5)
    x = torch.randn(4, *shape)
    ours = physical.remove_units(model, pruned, x)
    theirs = random_bn_(su.vgg(SMALL_VGG))
    theirs.load_state_dict(model.state_dict())
    theirs.eval()
    graph = tp.DependencyGraph().build_dependency(theirs, example_inputs=x)
    for name, idx in pruned.items():
        group = graph.get_pruning_group(
            theirs.get_submodule(name), tp.prune_conv_out_channels, idxs=idx
        )
        group.prune()
    assert physical.pruned_widths(ours) == physical.pruned_widths(theirs)
    assert costs.count_flops(ours, shape) == costs.count_flops(theirs, shape)
    torch.testing.assert_close(ours(x), theirs(x), rtol=1e-5, atol=1e-5)


def test_selection_ratios_and_the_one_unit_floor():
    scores = {
        "a": np.array([0.1, 0.5, 0.3, 0.9]),
        "b": np.array([0.01, 0.02, 0.03, 0.04, 0.05, 0.06]),
    }
    layerwise = criteria.select_units(scores, 0.5)
    assert layerwise == {"a": [0, 2], "b": [0, 1, 2]}
    assert criteria.select_units(scores, 0.99) == {"a": [0, 1, 2], "b": [0, 1, 2, 3, 4]}
    glob = criteria.select_units(scores, 0.5, scope="global")  # scores / layer max
    assert glob == {"a": [0, 2], "b": [0, 1, 2]}  # the 5 lowest of a / 0.9 and b / 0.06
    assert criteria.select_units(scores, 0.0) == {"a": [], "b": []}


def test_criteria_order_on_hand_built_layers():
    net = su.make_mlp([2, 4, 1], batch_norm=True).eval()
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 3.0], [1.0, 0.0], [2.0, 2.0]]))
        net[0].bias.zero_()
        net[1].running_mean.zero_()
        net[1].running_var.fill_(1.0)
        net[1].weight.copy_(torch.tensor([1.0, 0.2, 1.0, 2.0]))
        net[1].bias.copy_(torch.tensor([0.0, -1.0, 0.0, 0.1]))
        net[3].weight.fill_(1.0)
    assert np.argsort(criteria.unit_scores(net, "magnitude")["0"]).tolist() == [0, 2, 1, 3]
    assert np.argsort(criteria.unit_scores(net, "slimming")["0"]).tolist() == [1, 0, 2, 3]
    spline = criteria.unit_scores(net, "spline")["0"]
    # unit 1: off on the data (its spline 5 std away, data on the inactive side); units 0 and 2
    # share one spline, so the later one is redundant; unit 3 reaches deepest into the data
    assert spline[2] == 0.0 and spline[1] < 1e-6 and spline[3] > spline[0] > 0.3
    phi0 = 1 / np.sqrt(2 * np.pi)  # unit 0: t = 0, mean output |gamma| phi(0), read with ||v|| = 1
    assert spline[0] == pytest.approx(phi0)


def test_bad_input_for_criteria_and_removal():
    model, shape = _models()["vgg"]
    with pytest.raises(ValueError, match="criterion must be one of"):
        criteria.unit_scores(model, "taylor")
    with pytest.raises(ValueError, match=r"ratio must be in \[0, 1\)"):
        criteria.select_units({"a": np.ones(3)}, 1.2)
    with pytest.raises(ValueError, match="scope must be"):
        criteria.select_units({"a": np.ones(3)}, 0.5, scope="blockwise")
    x = torch.randn(2, *shape)
    with pytest.raises(ValueError, match="is the last layer"):
        physical.remove_units(model, {"16": [0]}, x)
    with pytest.raises(ValueError, match="would lose all its 8 units"):
        physical.remove_units(model, {"0": list(range(8))}, x)
    with pytest.raises(ValueError, match="supports plain nn.Sequential models"):
        physical.remove_units(random_bn_(SmallResNet()), {"stem.0": [0]}, torch.randn(2, 1, 8, 8))
    pre, _ = _models()["preresnet20"]
    with pytest.raises(ValueError, match="writes to the residual stream"):
        physical.remove_units(pre, {"blocks.0.conv2": [0]}, torch.randn(2, 3, 32, 32))
    with pytest.raises(ValueError, match="depth 21 does not fit"):
        su.models.preresnet(21)


def test_default_layers_skip_the_residual_stream():
    pre = su.models.preresnet(20)
    layers = criteria.default_layers(pre)
    assert layers and all(name.endswith("conv1") and name.startswith("blocks.") for name in layers)
    assert criteria.default_layers(su.vgg(SMALL_VGG)) == ["0", "4", "8", "11"]


def test_digits_study_rows():
    from spline_utils import digits_study

    table = digits_study.digits_pruning_study(
        methods=["spline-global", "slimming"],
        ratios=[0.5],
        seeds=[0],
        epochs=1,
        finetune_epochs=1,
        progress=False,
    )
    assert len(table) == 2 and (table.flops < 1).all() and (table.params < 1).all()
    assert set(table.columns) >= {"acc_dense", "acc_pruned", "acc_finetuned", "method"}
    ablation = digits_study.spline_reach_ablation(nears=(0.0, 0.1), seeds=[0], finetune_epochs=1)
    assert list(ablation.near) == [0.0, 0.1] and ablation.acc_pruned.between(0, 1).all()


def test_mask_criterion_reproduces_an_earlier_mask():
    model, _ = _models()["digits"]
    early = su.unit_mask(model, {"0": [1, 6], "4": [0, 3, 9, 12]})
    scores = criteria.unit_scores(model, "mask", mask=early)
    assert scores["0"].tolist() == [1, 0, 1, 1, 1, 1, 0, 1]
    assert criteria.select_units(scores, 0.25) == {"0": [1, 6], "4": [0, 3, 9, 12]}
    with pytest.raises(ValueError, match="exactly when the criterion is 'mask'"):
        criteria.unit_scores(model, "mask")
    with pytest.raises(ValueError, match="exactly when the criterion is 'mask'"):
        criteria.unit_scores(model, "magnitude", mask=early)
