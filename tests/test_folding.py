import pytest
import torch
import torch.nn.functional as F
from torch import nn

from spline_utils.spline_view.folding import fold_batchnorm

from .conftest import random_bn_


def test_folded_linear_equals_linear_then_bn():
    lin, bn = nn.Linear(5, 4).double(), random_bn_(nn.BatchNorm1d(4)).double()
    w, b = fold_batchnorm(lin, bn)
    z = torch.randn(50, 5, dtype=torch.float64)
    assert torch.allclose(F.linear(z, w, b), bn(lin(z)), atol=1e-12)


def test_folded_strided_conv_equals_conv_then_bn():
    conv = nn.Conv2d(3, 6, 3, stride=2, padding=1, bias=False).double()
    bn = random_bn_(nn.BatchNorm2d(6)).double()
    w, b = fold_batchnorm(conv, bn)
    z = torch.randn(4, 3, 9, 9, dtype=torch.float64)
    assert torch.allclose(F.conv2d(z, w, b, stride=2, padding=1), bn(conv(z)), atol=1e-12)


def test_fold_checks_its_arguments():
    with pytest.raises(ValueError, match="4 features but the layer has 3"):
        fold_batchnorm(nn.Linear(2, 3), nn.BatchNorm1d(4))
    with pytest.raises(ValueError, match="nn.Linear or nn.Conv2d"):
        fold_batchnorm(nn.ReLU(), nn.BatchNorm1d(4))
    with pytest.raises(ValueError, match="running statistics"):
        fold_batchnorm(nn.Linear(2, 3), nn.BatchNorm1d(3, track_running_stats=False))
