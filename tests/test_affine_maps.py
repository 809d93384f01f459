import pytest
import torch

import spline_utils as su

from .conftest import random_bn_


@pytest.mark.parametrize("widths", [[2, 6, 6, 1], [5, 16, 16, 16, 3], [3, 32, 2]])
@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
@pytest.mark.parametrize("batch_norm", [False, True])
def test_jacobian_and_explicit_product_agree(widths, activation, batch_norm):
    model = random_bn_(su.make_mlp(widths, activation, batch_norm))
    x = torch.randn(300, widths[0])
    a32, b32 = su.region_affine_map(model, x)
    e32, f32 = su.mlp_region_affine_map(model, x)
    assert a32.shape == (300, widths[-1], widths[0]) and b32.shape == (300, widths[-1])
    assert (a32 - e32).abs().max() < 1e-5 and (b32 - f32).abs().max() < 1e-5
    model = model.double()
    a64, b64 = su.region_affine_map(model, x.double())
    e64, f64 = su.mlp_region_affine_map(model, x.double())
    assert (a64 - e64).abs().max() < 1e-10 and (b64 - f64).abs().max() < 1e-10


def test_network_equals_its_affine_map_on_each_region_mlp():
    model = su.make_mlp([2, 6, 6, 1]).double()
    x = torch.rand(5000, 2, dtype=torch.float64) * 4 - 2
    assert su.region_consistency_error(model, x) < 1e-12


def test_network_equals_its_affine_map_on_each_region_convnets(convnet, resnet):
    for model in (convnet.double(), resnet.double()):
        plane = su.PlaneSlice.through(torch.randn(3, 1, 8, 8, dtype=torch.float64))
        x = plane.to_input(torch.rand(3000, 2, dtype=torch.float64) * 0.2).reshape(-1, 1, 8, 8)
        assert su.region_consistency_error(model, x) < 1e-10


def test_affine_map_is_wrong_outside_the_region():
    """The check can fail: the map of one region does not predict a point of another region."""
    model = su.make_mlp([2, 6, 6, 1]).double()
    x = torch.rand(2000, 2, dtype=torch.float64) * 4 - 2
    ids = su.activation_codes(model, x).region_ids()
    a, b = su.region_affine_map(model, x)
    errors = (torch.einsum("kd,nd->nk", a[0], x) + b[0] - model(x).detach()).abs().squeeze(1)
    assert errors[torch.as_tensor(ids == ids[0])].max() < 1e-12
    assert errors[torch.as_tensor(ids != ids[0])].max() > 1e-3


def test_explicit_product_refuses_convnets(convnet):
    with pytest.raises(ValueError, match="use region_affine_map"):
        su.mlp_region_affine_map(convnet, torch.randn(2, 1, 8, 8))
