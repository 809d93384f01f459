"""The engine-independent check of Theorem 1 (1): the decision boundary traced from forward
passes, its bends, and the splines their stretches cross."""

import numpy as np
import pytest
import torch
from torch import nn

import spline_utils as su
from spline_utils.partition.boundary_trace import (
    check_bends_on_splines,
    trace_decision_boundary,
)

BOX = (-5, 5, -5, 5)


def test_traced_points_lie_on_the_boundary():
    net = su.load_network("fcnet").double()
    traced = trace_decision_boundary(net, BOX, 80)
    points = torch.as_tensor(np.concatenate(traced.chains))
    with torch.no_grad():
        out = net(points)
    assert (out[:, 0] - out[:, 1]).abs().max() < 1e-9  # f_0 = f_1 on every traced point
    assert traced.skipped_cells == 0 and traced.n_points == len(points)


def test_every_bend_crosses_a_spline_and_a_wrong_claim_fails():
    toy = su.load_network("toy_mlp")
    check = check_bends_on_splines(toy, BOX, resolution=150)
    assert check.passed and check.n_bends >= 5
    supplied = {k for crossed in check.crossed for k in crossed}
    assert supplied == {0, 1}  # both hidden layers supply bends of this boundary
    for layer in (0, 1):  # "the bends lie on splines of layer k only" is false for each k
        wrong = check_bends_on_splines(toy, BOX, layers=[layer], traced=check.traced)
        assert not wrong.passed and len(wrong.failures) > 0


def test_bends_match_the_exact_engines_turning_points():
    """Every turning point of the exact engine lies on the stretch of a traced bend (to within a
    grid cell), and every stretch holds an exact turning point: two independent computations of
    one set of bends."""
    net = su.load_network("fcnet")
    part = su.exact_partition(net, BOX)
    exact = su.decision_turning_points(part)
    check = check_bends_on_splines(net, BOX, resolution=400)
    cell = 10 / 399
    gap = np.array([[_distance_to_polyline(p, s) for s in check.stretches] for p in exact])
    assert gap.min(1).max() < cell and gap.min(0).max() < cell


def _distance_to_polyline(p: np.ndarray, line: np.ndarray) -> float:
    a, b = line[:-1], line[1:]
    t = np.clip(((p - a) * (b - a)).sum(1) / ((b - a) ** 2).sum(1), 0, 1)
    return float(np.linalg.norm(a + t[:, None] * (b - a) - p, axis=1).min())


def test_a_straight_boundary_has_no_bend_to_check():
    linear = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 2))
    with torch.no_grad():
        linear[0].weight.copy_(torch.eye(4, 2))
        linear[0].bias.fill_(100.0)  # every unit on in the window: the network is affine there
        linear[2].weight.copy_(torch.tensor([[1.0, 0, 0, 0], [0, 1.0, 0, 0]]))
        linear[2].bias.zero_()
    check = check_bends_on_splines(linear, BOX, resolution=50)
    assert check.n_bends == 0 and not check.passed  # nothing checked is not a pass


def test_bad_arguments_are_named():
    net = su.load_network("fcnet")
    with pytest.raises(ValueError, match="angle_tol"):
        check_bends_on_splines(net, BOX, angle_tol=0.0)
    with pytest.raises(ValueError, match="resolution"):
        trace_decision_boundary(net, BOX, resolution=2)
    with pytest.raises(TypeError, match="slice"):
        trace_decision_boundary(net, BOX, slice="plane")
    with pytest.raises(ValueError, match="no decision boundary"):
        check_bends_on_splines(net, (40, 41, 40, 41), resolution=10)
    with pytest.raises(ValueError, match="layers"):
        check_bends_on_splines(net, BOX, layers=[3], resolution=40)


def test_a_layer_two_spline_bends_only_on_layer_one_splines():
    toy = su.load_network("toy_mlp")
    for index in range(6):
        traced = trace_decision_boundary(toy, BOX, 120, unit=(1, index))
        if not traced.chains:
            continue
        with torch.no_grad():
            pre = toy.double()[:3](torch.as_tensor(np.concatenate(traced.chains)))[:, index]
        toy.float()
        assert pre.abs().max() < 1e-12  # the traced points are on the unit's spline
        check = check_bends_on_splines(toy, BOX, traced=traced, unit=(1, index))
        assert check.layers == [0] and (check.passed or check.n_bends == 0)
    with pytest.raises(ValueError, match="unit"):
        trace_decision_boundary(toy, BOX, 20, unit=(1, 6))
    with pytest.raises(ValueError, match="unit"):
        trace_decision_boundary(toy, BOX, 20, unit=3)


def test_the_boundary_crosses_every_spline_that_supplies_a_turning_point():
    """Supplying implies crossing (at a bend the two pieces lie in the two regions a spline
    separates): the engine's suppliers are among the splines the traced boundary crosses."""
    net = su.load_network("fcnet")
    part = su.exact_partition(net, BOX)
    supplying = set(
        np.concatenate(su.splines_through(net, su.decision_turning_points(part))).tolist()
    )
    crossed = set(su.crossed_splines(net, trace_decision_boundary(net, BOX, 200)).tolist())
    assert supplying and supplying <= crossed
    with pytest.raises(TypeError, match="traced"):
        su.crossed_splines(net, "boundary")


def test_null_rate_says_how_much_a_passed_check_shows():
    """Straight stretches of the FCNet's boundary (one hidden layer, few splines) rarely cross a
    spline, so its passed check is strong; allowing more layers can only raise the rate."""
    net = su.load_network("fcnet")
    check = check_bends_on_splines(net, BOX, resolution=300)
    rate = su.null_crossing_rate(net, check, samples=100)
    assert 0 <= rate < 0.5 and rate**check.n_bends < 1e-6
    toy = su.load_network("toy_mlp")
    toy_check = check_bends_on_splines(toy, BOX, resolution=150)
    one_layer = check_bends_on_splines(toy, BOX, layers=[0], traced=toy_check.traced)
    both = su.null_crossing_rate(toy, toy_check, samples=60, seed=1)
    assert su.null_crossing_rate(toy, one_layer, samples=60, seed=1) <= both
    with pytest.raises(TypeError, match="BendCheck"):
        su.null_crossing_rate(net, "check")
