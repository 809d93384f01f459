import numpy as np
import pytest
import torch
from torch import nn

import spline_utils as su


def _v_net():
    """f(x, y) = |x| - y - 0.5 as a ReLU net: the decision boundary y = |x| - 0.5 bends once, at
    (0, -0.5), on the spline x = 0 of hidden unit 0 (units 1, 2 are active on the whole domain)."""
    first, last = nn.Linear(2, 3).double(), nn.Linear(3, 1).double()
    with torch.no_grad():
        first.weight.copy_(torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
        first.bias.copy_(torch.tensor([0.0, 10.0, 10.0]))
        last.weight.copy_(torch.tensor([[2.0, -1.0, -1.0]]))
        last.bias.fill_(20.0 - 0.5)
    return nn.Sequential(first, nn.ReLU(), last)


def test_a_known_turning_point_and_its_supplier():
    net = _v_net()
    part = su.exact_partition(net, (-1, 1, -1, 1))
    points = su.decision_turning_points(part)
    np.testing.assert_allclose(points, [[0.0, -0.5]], atol=1e-12)
    labels, dist = su.supplying_splines(part, points)
    assert part.edge_source(labels[0]) == (0, 0) and dist[0] < 1e-12
    assert abs(su.unit_preactivations(net, part, points, labels)[0]) < 1e-12
    # prune unit 0: the boundary becomes the straight line y = x - 0.5, with no turning point
    pruned = su.apply_mask(net, su.unit_mask(net, {"0": [0]}))
    assert len(su.decision_turning_points(su.exact_partition(pruned, (-1, 1, -1, 1)))) == 0


@pytest.mark.parametrize("seed", [0, 1])
def test_turning_points_lie_on_earlier_splines(seed):
    model = su.he_init_(
        su.make_mlp([2, 16, 16, 1]), bias_std=0.5, generator=torch.Generator().manual_seed(seed)
    )
    part = su.exact_partition(model, (-2, 2, -2, 2))
    points = su.decision_turning_points(part)
    assert len(points) >= 2
    labels, dist = su.supplying_splines(part, points)
    assert dist.max() < 1e-9
    assert np.abs(su.unit_preactivations(model, part, points, labels)).max() < 1e-8
    # layer-2 splines bend only on layer-1 splines
    bend_points, units = su.spline_turning_points(part, 1)
    assert len(bend_points) > 0
    labels, dist = su.supplying_splines(part, bend_points, before_layer=1)
    assert dist.max() < 1e-9 and ((labels >> 32) == 0).all()


def test_multiclass_turning_points_exclude_three_class_junctions():
    model = su.he_init_(
        su.make_mlp([2, 12, 3]), bias_std=0.5, generator=torch.Generator().manual_seed(2)
    )
    part = su.exact_partition(model, (-2, 2, -2, 2))
    points = su.decision_turning_points(part)
    _, dist = su.supplying_splines(part, points)
    assert len(points) > 0 and dist.max() < 1e-9


def test_splines_through_counts_every_spline_at_a_point():
    """A duplicated unit puts two splines through every point of one line: supplying_splines
    names one of them, splines_through both; split_labels decodes the labels."""
    net = su.make_mlp([2, 3, 2]).double()
    with torch.no_grad():
        net[0].weight[2] = -2.0 * net[0].weight[0]  # same line, other orientation
        net[0].bias[2] = -2.0 * net[0].bias[0]
    part = su.exact_partition(net, (-3, 3, -3, 3))
    segs, labels = su.spline_segments(part, [0])
    layers, units = su.split_labels(labels)
    assert set(layers.tolist()) == {0}
    on_line = segs[units == 0].mean(1)  # midpoints of unit 0's edges
    through = su.splines_through(net, on_line)
    assert all(set(su.split_labels(t)[1].tolist()) == {0, 2} for t in through)
    nearest, _ = su.supplying_splines(part, on_line)  # the engine keeps one label per edge
    assert set(su.split_labels(nearest)[1].tolist()) == {0}
    assert su.splines_through(net, np.array([[10.0, 10.0]]), radius=1e-3)[0].size in (0, 1)
    with pytest.raises(ValueError, match="labels"):
        su.split_labels([-1])
