import numpy as np
import pytest
import torch

import spline_utils as su


def _net_with_redundancy():
    """2 -> 6 -> 2 net: unit 4 duplicates unit 0's spline x + y + 0.1 = 0 (scaled by 3), unit 5
    is off on the whole data."""
    torch.manual_seed(0)
    net = su.make_mlp([2, 6, 2]).double()
    with torch.no_grad():
        net[0].weight[0] = torch.tensor([1.0, 1.0], dtype=torch.float64)
        net[0].bias[0] = 0.1
        net[0].weight[4] = 3.0 * net[0].weight[0]
        net[0].bias[4] = 3.0 * net[0].bias[0]
        net[0].weight[5] = torch.tensor([1.0, 0.0], dtype=torch.float64)
        net[0].bias[5] = -100.0
    return net


def test_spline_merging_removes_duplicate_and_dead_units_first_without_changing_outputs():
    net = _net_with_redundancy()
    x = torch.rand(400, 2, dtype=torch.float64) * 2 - 1
    result = su.prune_units(net, "0", 2 / 6, criterion="spline-merge", x=x)
    assert sorted(result.pruned) == [4, 5] or sorted(result.pruned) == [0, 5]
    torch.testing.assert_close(result.model(x), net(x), rtol=0, atol=1e-10)
    assert -1 in result.merged_into  # the dead unit is deleted, the duplicate merged
    deleted = su.prune_units(net, "0", 2 / 6, criterion="spline-delete", x=x)
    assert 5 in deleted.pruned and deleted.merged_into == [-1, -1]  # no merging: the twin stays
    assert (deleted.model(x) - net(x)).abs().max() > 1e-3


def test_merge_picks_deletes_the_units_merging_picks_without_compensating():
    """`spline-merge-picks` isolates merging: the units of `spline-merge`, every one deleted,
    the next layer untouched -- so the duplicate's contribution is lost, not moved."""
    net = _net_with_redundancy()
    x = torch.rand(400, 2, dtype=torch.float64) * 2 - 1
    merged = su.prune_units(net, "0", 2 / 6, criterion="spline-merge", x=x)
    picks = su.prune_units(net, "0", 2 / 6, criterion="spline-merge-picks", x=x)
    assert picks.pruned == merged.pruned and picks.merged_into == [-1, -1]
    assert any(j >= 0 for j in merged.merged_into)  # merging happened in the merged network
    torch.testing.assert_close(picks.model[2].weight, net[2].weight, rtol=0, atol=0)
    kept = [k for k in range(6) if k not in picks.pruned]
    torch.testing.assert_close(picks.model[0].weight[kept], net[0].weight[kept], rtol=0, atol=0)
    assert (picks.model[0].weight[picks.pruned] == 0).all()
    assert (picks.model(x) - net(x)).abs().max() > 1e-3  # the duplicate's share is lost
    with pytest.raises(ValueError, match="need the data x"):
        su.prune_units(net, "0", 0.5, criterion="spline-merge-picks")


def test_magnitude_and_random_criteria():
    net = su.make_mlp([2, 10, 2])
    norms = net[0].weight.detach().norm(dim=1)
    result = su.prune_units(net, "0", 0.3, criterion="magnitude-l2")
    assert sorted(result.pruned) == sorted(torch.argsort(norms)[:3].tolist())
    assert int((result.model[0].weight.abs().sum(1) == 0).sum()) == 3
    a = su.prune_units(net, "0", 0.5, criterion="random", seed=1).pruned
    b = su.prune_units(net, "0", 0.5, criterion="random", seed=1).pruned
    c = su.prune_units(net, "0", 0.5, criterion="random", seed=2).pruned
    assert a == b and len(a) == 5 and a != c


def test_physical_removal_keeps_outputs_and_shrinks_the_layer():
    torch.manual_seed(1)
    net = su.make_mlp([2, 12, 8, 3], batch_norm=True)
    net.eval()
    x = torch.randn(50, 2)
    result = su.prune_units(net, "0", 0.5, criterion="spline-merge", x=x)
    small = su.remove_pruned_units(result.model, "0")
    assert small[0].out_features == 6 and small[1].num_features == 6 and small[3].in_features == 6
    torch.testing.assert_close(small(x), result.model(x), rtol=1e-5, atol=1e-6)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(small) < count(net)


def test_ratio_bounds_and_bad_criteria():
    net = su.make_mlp([2, 4, 1])
    assert len(su.prune_units(net, "0", 0.95, criterion="magnitude-l2").pruned) == 3  # one stays
    with pytest.raises(ValueError, match="criterion must be one of"):
        su.prune_units(net, "0", 0.5, criterion="gradient")
    with pytest.raises(ValueError, match=r"ratio must be in \[0, 1\)"):
        su.prune_units(net, "0", 1.0)
    with pytest.raises(ValueError, match="need the data x"):
        su.prune_units(net, "0", 0.5, criterion="spline-merge")


def test_redundancy_bounds_shape_and_diagonal():
    net = su.make_mlp([2, 5, 1])
    delete, merge = su.redundancy_bounds(net, "0", radius=2.0)
    assert delete.shape == (5,) and merge.shape == (5, 5)
    assert np.isinf(np.diag(merge)).all() and (delete >= 0).all()


def test_fcnet_study_rows_and_widths():
    from spline_utils import fcnet_study

    table, models = fcnet_study.fcnet_pruning_study(
        widths=[10],
        ratios=[0.0, 0.5],
        criteria=["spline-merge", "random"],
        seeds=[0],
        train_epochs=20,
        finetune_epochs=2,
        progress=False,
    )
    assert len(table) == 4 and set(table.columns) >= {
        "H",
        "seed",
        "criterion",
        "ratio",
        "acc_dense",
        "width",
        "acc_pruned",
        "acc_finetuned",
        "s_per_epoch",
    }
    assert table.set_index(["criterion", "ratio"])["width"].to_dict() == {
        ("spline-merge", 0.0): 10,
        ("spline-merge", 0.5): 5,
        ("random", 0.0): 10,
        ("random", 0.5): 5,
    }
    unpruned = table[table.ratio == 0.0]
    assert (unpruned.acc_pruned == unpruned.acc_dense).all()  # nothing removed, nothing changed
    assert models[(10, 0, "spline-merge", 0.5)][0].out_features == 5
    assert len(fcnet_study.from_scratch(3, seeds=[0, 1], epochs=2)) == 2


def test_finetuning_with_a_mask_keeps_pruned_weights_at_zero():
    torch.manual_seed(0)
    net = su.digits_convnet()
    mask = su.unit_mask(net, {"0": [1, 3], "4": [0]})
    pruned = su.apply_mask(net, mask)
    x, y = torch.rand(64, 1, 8, 8), torch.randint(0, 10, (64,))
    su.train_classifier(pruned, x, y, epochs=2, lr=0.1, batch_size=16, progress=False, mask=mask)
    assert (pruned[0].weight[[1, 3]] == 0).all() and (pruned[4].weight[0] == 0).all()
    assert (pruned[1].weight[[1, 3]] == 0).all() and (pruned[1].bias[[1, 3]] == 0).all()
    assert (pruned[0].weight[0] != net[0].weight[0]).any()  # the rest did train


def test_bn_l1_penalty_shrinks_the_batchnorm_scales():
    x, y = (
        torch.rand(128, 1, 8, 8, generator=torch.Generator().manual_seed(0)),
        torch.arange(128) % 10,
    )
    scales = []
    for l1 in (0.0, 0.05):
        torch.manual_seed(0)
        net = su.digits_convnet()
        su.train_classifier(net, x, y, epochs=5, lr=0.05, batch_size=32, progress=False, bn_l1=l1)
        scales.append(net[1].weight.detach().abs().sum().item())
    assert scales[1] < 0.8 * scales[0]
    with pytest.raises(ValueError, match="bn_l1 must be >= 0"):
        su.train_classifier(su.digits_convnet(), x, y, epochs=1, bn_l1=-1.0, progress=False)


def test_round_widths_keeps_multiples_and_returns_the_best():
    from spline_utils.pruning.criteria import round_widths, select_units

    rng = np.random.default_rng(0)
    scores = {"a": rng.random(64), "b": rng.random(20), "c": rng.random(5)}
    pruned = select_units(scores, 0.3)  # keeps 45, 14, 4
    rounded = round_widths(pruned, scores, 8)
    kept = {n: len(s) - len(rounded[n]) for n, s in scores.items()}
    assert kept == {"a": 48, "b": 16, "c": 5}  # c: 8 would exceed its 5 channels
    for n in scores:
        assert set(rounded[n]) <= set(pruned[n])
        back = set(pruned[n]) - set(rounded[n])
        if back:  # the channels that come back score higher than those still pruned
            assert min(scores[n][list(back)]) >= max(scores[n][rounded[n]], default=-1)
    assert round_widths(pruned, scores, 1) == pruned
    with pytest.raises(ValueError, match="multiple"):
        round_widths(pruned, scores, 0)
