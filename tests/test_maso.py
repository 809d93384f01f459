import pytest
import torch
from torch import nn

from spline_utils.spline_view.maso import dense_layer_maso, maso, maxpool_maso


@pytest.mark.parametrize("activation", [nn.ReLU(), nn.LeakyReLU(0.2), "abs"])
def test_dense_layer_is_its_maso(activation):
    lin = nn.Linear(4, 7).double()
    x = torch.randn(100, 4, dtype=torch.float64)
    slopes, offsets = dense_layer_maso(lin, activation)
    h = lin(x)
    expected = h.abs() if activation == "abs" else activation(h)
    assert torch.allclose(maso(x, slopes, offsets), expected, atol=1e-12)


@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1)])
def test_maxpool_is_its_maso(kwargs):
    pool = nn.MaxPool2d(**kwargs)
    x = torch.randn(5, 2, 6, 6)
    slopes, offsets = maxpool_maso(pool, (2, 6, 6))
    assert torch.allclose(maso(x.reshape(5, -1), slopes, offsets), pool(x).reshape(5, -1))


def test_maso_checks_shapes():
    with pytest.raises(ValueError, match="slopes"):
        maso(torch.zeros(1, 3), torch.zeros(2, 3), torch.zeros(2))
    with pytest.raises(ValueError, match=r"x must have shape \(N, 3\)"):
        maso(torch.zeros(1, 4), torch.zeros(2, 2, 3), torch.zeros(2, 2))
    with pytest.raises(ValueError, match="activation"):
        dense_layer_maso(nn.Linear(2, 2), nn.Tanh())
