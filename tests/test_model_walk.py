import pytest
import torch
import torch.nn.functional as F
from torch import nn

import spline_utils as su
from spline_utils.spline_view.model_walk import check_supported, evaluation_mode


@pytest.mark.parametrize(
    "act", [nn.Tanh(), nn.Sigmoid(), nn.GELU(), nn.SiLU(), nn.ELU(), nn.Softplus()]
)
def test_smooth_activations_refused_naming_the_module(act):
    model = nn.Sequential(nn.Linear(2, 3), act, nn.Linear(3, 1))
    with pytest.raises(ValueError, match=rf"'1' \({type(act).__name__}\) is not piecewise affine"):
        check_supported(model)


def test_unknown_leaf_module_refused():
    model = nn.Sequential(nn.Linear(2, 3), nn.LayerNorm(3))
    with pytest.raises(ValueError, match="LayerNorm.*not supported"):
        check_supported(model)


def test_functional_nonlinearity_in_forward_refused():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)

        def forward(self, x):
            return torch.tanh(self.fc(x))

    with pytest.raises(ValueError, match="'tanh'.*not a supported piecewise-affine operation"):
        check_supported(Net())

    class FunctionalRelu(Net):
        def forward(self, x):
            return F.relu(self.fc(x))

    with pytest.raises(ValueError, match="use an nn.ReLU"):
        check_supported(FunctionalRelu())


def test_product_of_two_tensors_refused_but_scaling_allowed():
    class Gate(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)

        def forward(self, x):
            return self.fc(x) * x

    with pytest.raises(ValueError, match="'mul'"):
        check_supported(Gate())

    class Scale(Gate):
        def forward(self, x):
            return 0.5 * self.fc(x) + x

    check_supported(Scale())


def test_supported_models_pass(resnet, convnet):
    for model in (resnet, convnet, su.make_mlp([2, 4, 1], batch_norm=True), su.vgg((4, "M", 8), 3)):
        check_supported(model)


def test_empty_model_refused():
    with pytest.raises(ValueError, match="empty"):
        check_supported(nn.Sequential())


def test_non_module_refused():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        check_supported(lambda x: x)


def test_negative_leaky_slope_and_ceil_mode_refused():
    with pytest.raises(ValueError, match="negative_slope"):
        check_supported(nn.Sequential(nn.Linear(2, 2), nn.LeakyReLU(-0.5)))
    with pytest.raises(ValueError, match="ceil_mode"):
        check_supported(nn.Sequential(nn.Conv2d(1, 1, 1), nn.MaxPool2d(2, ceil_mode=True)))


def test_evaluation_mode_restores_each_module():
    model = su.make_mlp([2, 3, 1], batch_norm=True)
    model.train()
    model[1].eval()
    with evaluation_mode(model):
        assert not any(m.training for m in model.modules())
    assert model.training and not model[1].training and model[0].training


def test_functional_average_pooling_and_views_are_affine():
    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.relu, self.fc = nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Linear(2, 3)

        def forward(self, x):
            z = F.adaptive_avg_pool2d(self.relu(self.conv(x)), 1)
            return self.fc(z.view(z.size(0), -1))

    check_supported(Head())
    codes = su.activation_codes(Head(), torch.randn(3, 1, 5, 5))
    assert codes.names == ["relu"]
