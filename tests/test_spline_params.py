import numpy as np
import pytest
import torch
from torch import nn

import spline_utils as su

from .conftest import random_bn_


def test_bn_folded_hyperplane_is_the_zero_set_of_the_preactivation():
    net = random_bn_(su.make_mlp([3, 6, 2], batch_norm=True), seed=3).double()
    w, b = su.unit_hyperplanes(net, "0")
    rng = np.random.default_rng(0)
    for k in range(6):
        z = rng.normal(size=(20, 3)) * 3
        z -= ((z @ w[k] + b[k]) / (w[k] @ w[k]))[:, None] * w[k]  # project onto the hyperplane
        with torch.no_grad():
            h = net[1](net[0](torch.as_tensor(z)))[:, k]
        assert h.abs().max() < 1e-10
    w_hat, b_hat = su.normalised_hyperplanes(w, b)
    np.testing.assert_allclose(np.linalg.norm(w_hat, axis=1), 1.0)


def test_bn_reading_equals_the_distance_measured_on_the_data():
    torch.manual_seed(0)
    net = su.make_mlp([2, 8, 1], batch_norm=True)
    with torch.no_grad():
        net[1].weight.uniform_(0.2, 2.0)
        net[1].bias.normal_(0.0, 1.0)
    x = torch.randn(4000, 2) * 2 + 1
    net[1].momentum = None  # cumulative average: one pass sets the running stats to the data's
    net[1].reset_running_stats()
    net.train()
    with torch.no_grad():
        net(x)
    net.eval()
    np.testing.assert_allclose(
        su.data_spline_distance(net, "0", x), su.bn_spline_distance(net, "0"), rtol=1e-3
    )


def test_spline_distances_see_duplicates_and_opposites():
    w = np.array([[1.0, 0.0], [3.0, 0.0], [-1.0, 0.0], [0.0, 2.0]])
    b = np.array([0.5, 1.5, -0.5, 0.0])
    angle, offset = su.spline_distances(w, b)
    assert angle[0, 1] == pytest.approx(0.0, abs=1e-7) and offset[0, 1] == pytest.approx(0.0)
    assert angle[0, 2] == pytest.approx(np.pi) and angle[0, 3] == pytest.approx(np.pi / 2)
    w_hat, b_hat = su.normalised_hyperplanes(np.array([[0.0, 0.0]]), np.array([1.0]))
    assert np.isnan(w_hat).all() and np.isnan(b_hat).all()  # a pruned unit has no spline


def _next_preactivation(net, x):
    with torch.no_grad():
        return net[2](net[1](net[0](x)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_merge_bound_holds_on_random_networks(seed):
    torch.manual_seed(seed)
    net = su.make_mlp([2, 8, 6, 1]).double()
    x = torch.randn(3000, 2, dtype=torch.float64) * 1.5
    radius = float(x.norm(dim=1).max())
    before = _next_preactivation(net, x)
    for keep, drop in [(0, 1), (3, 5), (7, 2)]:
        merged = su.merge_units(net, "0", keep, drop)
        change = (_next_preactivation(merged, x) - before).norm(dim=1).max()
        bound = su.merge_bound(net, "0", keep, drop, radius)
        assert 0 < change <= bound


def test_merging_coincident_splines_is_exact():
    torch.manual_seed(4)
    net = su.make_mlp([2, 5, 3]).double()
    with torch.no_grad():  # unit 3 = 2.5 x unit 1: the same spline, the same side active
        net[0].weight[3] = 2.5 * net[0].weight[1]
        net[0].bias[3] = 2.5 * net[0].bias[1]
    x = torch.randn(500, 2, dtype=torch.float64)
    merged = su.merge_units(net, "0", keep=1, drop=3)
    assert su.merge_bound(net, "0", 1, 3, radius=10.0) == pytest.approx(0.0, abs=1e-12)
    torch.testing.assert_close(merged(x), net(x), rtol=0, atol=1e-12)
    assert (merged[0].weight[3] == 0).all()


def test_merge_bad_input():
    net = su.make_mlp([2, 4, 1])
    with pytest.raises(ValueError, match="must be different units"):
        su.merge_units(net, "0", 1, 1)
    with pytest.raises(ValueError, match="drop=7 is not a unit"):
        su.merge_bound(net, "0", 1, 7, 1.0)
    with pytest.raises(ValueError, match="merging needs a Linear layer"):
        su.merge_units(su.digits_convnet(), "0", 0, 1)
    with pytest.raises(ValueError, match="merging needs a Linear after"):
        su.merge_units(net, "2", 0, 1) if False else su.merge_units(
            nn.Sequential(nn.Linear(2, 3), nn.ReLU()), "0", 0, 1
        )
    with pytest.raises(ValueError, match="not followed by an affine BatchNorm"):
        su.bn_spline_distance(net, "0")


def test_data_distance_survives_an_inplace_relu():
    # conv_bn_relu uses ReLU(inplace=True), which overwrites the BN output after the hook
    net = random_bn_(su.digits_convnet(), seed=2)
    x = torch.rand(300, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        h = net[1](net[0](x)).transpose(0, 1).reshape(8, -1).double()
    expected = (h.mean(1).abs() / h.std(1)).numpy()
    np.testing.assert_allclose(su.data_spline_distance(net, "0", x), expected, rtol=1e-6)
