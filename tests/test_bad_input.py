"""Every bad input gets an error that names the problem (issue 13): a ValueError / TypeError whose
message names the argument, never a silently wrong value or an obscure traceback."""

import numpy as np
import pytest
import torch
from torch import nn

import spline_utils as su
from spline_utils.exact_partition import PartitionCheckError


def test_wrong_input_shape_for_the_model():
    with pytest.raises(ValueError, match=r"could not be evaluated on an input of shape \(4, 3\)"):
        su.activation_codes(su.make_mlp([2, 3, 1]), torch.randn(4, 3))


def test_empty_batch():
    with pytest.raises(ValueError, match="empty batch"):
        su.activation_codes(su.make_mlp([2, 3, 1]), torch.zeros(0, 2))
    with pytest.raises(ValueError, match="non-empty batch"):
        su.packed_codes(su.make_mlp([2, 3, 1]), torch.zeros(0, 2))


def test_unbatched_input():
    with pytest.raises(ValueError, match=r"batch of shape \(N, ...\)"):
        su.region_affine_map(su.make_mlp([2, 3, 1]), torch.zeros(2))


def test_not_a_tensor():
    with pytest.raises(TypeError, match="torch.Tensor"):
        su.activation_codes(su.make_mlp([2, 3, 1]), [[0.0, 1.0]])


def test_unsupported_activation_in_affine_map():
    with pytest.raises(ValueError, match="GELU"):
        su.region_affine_map(nn.Sequential(nn.Linear(2, 2), nn.GELU()), torch.zeros(1, 2))


def test_mismatched_code_sets():
    a = su.packed_codes(su.make_mlp([2, 3, 1]), torch.randn(5, 2))
    b = su.packed_codes(su.make_mlp([2, 3, 3, 1]), torch.randn(5, 2))
    with pytest.raises(ValueError, match="do not match"):
        su.code_distance(a, b)


def test_unpack_bits_checks_sizes():
    with pytest.raises(ValueError, match="does not fit"):
        su.unpack_bits(torch.zeros(2, 1, dtype=torch.uint8), 9)
    with pytest.raises(ValueError, match="uint8"):
        su.unpack_bits(torch.zeros(2, 1), 3)


def test_bad_model_builders_and_training_arguments():
    with pytest.raises(ValueError, match="widths"):
        su.make_mlp([2])
    with pytest.raises(ValueError, match="activation"):
        su.make_mlp([2, 3, 1], activation="tanh")
    with pytest.raises(ValueError, match="same non-zero number"):
        su.train_classifier(su.make_mlp([2, 3, 2]), torch.zeros(4, 2), torch.zeros(3, dtype=torch.long))


def test_bad_resolution_and_upto():
    with pytest.raises(ValueError, match="resolution"):
        su.grid_partition(su.make_mlp([2, 3, 1]), (0, 1, 0, 1), 1)
    part = su.grid_partition(su.make_mlp([2, 3, 1]), (0, 1, 0, 1), 5)
    with pytest.raises(ValueError, match="upto"):
        part.region_ids(5)


def test_digits_split_argument():
    with pytest.raises(ValueError, match="test_size"):
        su.digits_tensors(test_size=1.5)


def test_single_output_models_train_as_binary_classifiers():
    x, y = su.x_shaped_data(400, seed=1)
    model = su.make_mlp([2, 16, 16, 1])
    history = su.train_classifier(model, x, y, epochs=60, lr=0.02, progress=False)
    assert history[-1] < history[0]
    assert su.accuracy(model, x, y) > 0.8


# --------------------------------------------------------------------------- helpers
NAN, INF = float("nan"), float("inf")


def _mlp():
    torch.manual_seed(0)
    return su.make_mlp([2, 4, 3, 1]).eval()


def _with(model, fill, where=0):
    """``model`` with one entry of its ``where``-th parameter set to ``fill``."""
    with torch.no_grad():
        list(model.parameters())[where].view(-1)[0] = fill
    return model


class _Custom(nn.Module):
    """A network with a custom forward whose last operation is ``op``."""

    def __init__(self, op):
        super().__init__()
        self.fc, self.relu, self.op = nn.Linear(2, 2), nn.ReLU(), op
        self.register_buffer("scale", torch.full((2,), 2.0))

    def forward(self, x):
        return self.op(self, self.relu(self.fc(x)), x)


# --------------------------------------------------------------------------- model_walk
@pytest.mark.parametrize(
    "op, message",
    [
        (lambda s, h, x: 2.0 / h, r"'truediv'.*divides by a tensor that depends on the input"),
        (lambda s, h, x: s.scale / h, r"'Tensor.div'.*divides by a tensor"),
        (lambda s, h, x: h / x, r"'truediv'.*divides by a tensor"),
        (lambda s, h, x: h.div(x), r"'Tensor.div'.*divides by a tensor"),
        (lambda s, h, x: torch.div(h, 2, rounding_mode="floor"), r"'div'.*rounding_mode='floor'"),
        (lambda s, h, x: h * x, r"'mul'.*multiplies two tensors"),
        (lambda s, h, x: torch.mul(h, x), r"'mul'.*multiplies two tensors"),
        (lambda s, h, x: h.mul(h), r"'Tensor.mul'.*multiplies two tensors"),
        (lambda s, h, x: h ** 2, r"'pow'.*power"),
        (lambda s, h, x: torch.abs(h), r"'abs'.*relu\(x\) \+ relu\(-x\)"),
        (lambda s, h, x: torch.relu(h), r"'relu'.*use an nn.ReLU"),
        (lambda s, h, x: h.relu(), r"'Tensor.relu'.*use an nn.ReLU"),
        (lambda s, h, x: torch.max(h, x), r"'max'.*nn.ReLU / nn.MaxPool2d"),
        (lambda s, h, x: torch.maximum(h, x), r"'maximum'"),
        (lambda s, h, x: torch.clamp(h, min=0.0), r"'clamp'"),
        (lambda s, h, x: torch.where(s.scale > 1, h, x), r"'where'"),
        (lambda s, h, x: h @ x.T, r"'matmul'"),
        (lambda s, h, x: h[x.long()], r"'Tensor.long'"),
    ],
)
def test_non_affine_forward_operations_are_refused(op, message):
    with pytest.raises(ValueError, match=message):
        su.check_supported(_Custom(op))
    with pytest.raises(ValueError, match=message):  # and so every analysis refuses them
        su.region_affine_map(_Custom(op), torch.ones(2, 2))


@pytest.mark.parametrize(
    "op",
    [
        lambda s, h, x: h * 2 + 2 * x,
        lambda s, h, x: h / 2 - x,
        lambda s, h, x: h * s.scale + x.div(4),
        lambda s, h, x: (h / s.scale).view(x.size(0), -1)[:, : x.shape[1] // 2],
        lambda s, h, x: torch.cat([h, -x], 1).mean(1, keepdim=True),
    ],
)
def test_affine_forward_operations_pass_and_are_exact(op):
    model = _Custom(op)
    su.check_supported(model)
    x = torch.randn(5, 2)
    assert su.region_consistency_error(model, x) < 1e-5


@pytest.mark.parametrize("bn", [nn.BatchNorm1d(4, track_running_stats=False)])
def test_batchnorm_without_running_statistics_is_refused(bn):
    model = nn.Sequential(nn.Linear(2, 4), bn, nn.ReLU(), nn.Linear(4, 1)).eval()
    for call in (lambda: su.check_supported(model), lambda: su.region_affine_map(model, torch.randn(3, 2)),
                 lambda: su.mlp_region_affine_map(model, torch.randn(3, 2)),
                 lambda: su.exact_partition(model, (0, 1, 0, 1))):
        with pytest.raises(ValueError, match="'1' \\(BatchNorm1d\\) keeps no running statistics"):
            call()
    conv = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2, track_running_stats=False), nn.ReLU())
    with pytest.raises(ValueError, match="track_running_stats=False"):
        su.activation_codes(conv, torch.randn(2, 1, 5, 5))


@pytest.mark.parametrize("slope", [-0.5, 1.5, NAN])
def test_leaky_relu_slope_outside_zero_one_is_refused(slope):
    model = nn.Sequential(nn.Linear(2, 2), nn.LeakyReLU(slope), nn.Linear(2, 1))
    with pytest.raises(ValueError, match=r"negative_slope=.*negative_slope in \[0, 1\]"):
        su.region_affine_map(model, torch.randn(3, 2))


@pytest.mark.parametrize(
    "layer, shape",
    [
        (nn.Hardtanh(), (2,)), (nn.ReLU6(), (2,)), (nn.Threshold(0.1, 0.0), (2,)), (nn.PReLU(), (2,)),
        (nn.RReLU(), (2,)), (nn.LayerNorm(2), (2,)), (nn.GroupNorm(1, 2), (2,)),
        (nn.Softmin(1), (2,)), (nn.BatchNorm3d(2), (2,)),
    ],
)
def test_layers_without_codes_are_refused_by_name(layer, shape):
    model = nn.Sequential(nn.Linear(2, 2), layer, nn.Linear(2, 1))
    with pytest.raises(ValueError, match=rf"'1' \({type(layer).__name__}\)"):
        su.activation_codes(model, torch.randn(3, *shape))


@pytest.mark.parametrize(
    "model, shape",
    [
        (nn.Sequential(nn.Conv1d(1, 2, 3), nn.ReLU()), (1, 6)),
        (nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool1d(2)), (1, 6, 6)),
        (nn.Sequential(nn.Conv2d(1, 2, 3), nn.AdaptiveMaxPool2d(1)), (1, 6, 6)),
        (nn.Sequential(nn.Embedding(4, 2), nn.ReLU()), (3,)),
        (nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(1, 1, 3), nn.ReLU()), (1, 4, 4)),
        (nn.Sequential(nn.Conv2d(1, 2, 3), nn.Dropout2d(), nn.ReLU()), (1, 6, 6)),
    ],
)
def test_other_unsupported_layers_get_a_clear_error(model, shape):
    with pytest.raises(ValueError, match="is not supported; supported layers"):
        su.grid_partition(model, (0, 1, 0, 1), 4, slice=su.PlaneSlice.through(torch.randn(1, *shape)))


@pytest.mark.parametrize("fill", [NAN, INF])
@pytest.mark.parametrize("where", [0, 1, 2])  # weight, bias, the next layer's weight
def test_model_with_non_finite_parameters_gets_no_affine_map(fill, where):
    model = _with(_mlp(), fill, where)
    with pytest.raises(ValueError, match="model parameter '.*' must be finite"):
        su.region_affine_map(model, torch.randn(3, 2))
    with pytest.raises(ValueError, match="must be finite"):
        su.exact_partition(model, (0, 1, 0, 1))


def test_non_finite_batchnorm_statistics_are_refused():
    model = su.make_mlp([2, 3, 1], batch_norm=True).eval()
    model[1].running_var[0] = NAN
    with pytest.raises(ValueError, match="model buffer '1.running_var' must be finite"):
        su.mlp_region_affine_map(model, torch.randn(3, 2))
    model[1].running_var[0] = -1.0
    with pytest.raises(ValueError, match="running_var must be >= 0"):
        su.activation_codes(model, torch.randn(3, 2))


# --------------------------------------------------------------------------- codes / affine maps
@pytest.mark.parametrize("fill", [NAN, INF, -INF])
@pytest.mark.parametrize(
    "call",
    [
        lambda m, x: su.activation_codes(m, x),
        lambda m, x: su.packed_codes(m, x, batch_size=2),
        lambda m, x: su.region_affine_map(m, x),
        lambda m, x: su.mlp_region_affine_map(m, x),
        lambda m, x: su.region_consistency_error(m, x),
    ],
)
def test_non_finite_inputs_get_no_region(call, fill):
    x = torch.randn(4, 2)
    x[2, 1] = fill
    with pytest.raises(ValueError, match=r"x must be finite, got 1 NaN/inf entries"):
        call(_mlp(), x)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda m: su.packed_codes(m, torch.randn(3, 2), batch_size=2.5), TypeError, "batch_size must be an integer"),
        (lambda m: su.packed_codes(m, torch.randn(3, 2), batch_size=True), TypeError, "batch_size must be an integer"),
        (lambda m: su.packed_codes(m, torch.randn(3, 2), batch_size=0), ValueError, "batch_size must be an integer >= 1"),
        (lambda m: su.region_affine_map(m, torch.randn(3, 2), batch_size=-1), ValueError, "batch_size must be"),
        (lambda m: su.activation_codes(m, torch.ones(3, 2, dtype=torch.bool)), TypeError, "x must hold real numbers"),
        (lambda m: su.activation_codes(m, torch.randn(3, 2), keep_preactivations="yes"), TypeError, "keep_preactivations"),
        (lambda m: su.packed_codes(m, "abc"), TypeError, "x must be a tensor"),
        (lambda m: su.packed_codes(m, torch.randn(3, 2)).region_ids(1.5), TypeError, "upto must be an integer"),
        (lambda m: su.packed_codes(m, torch.randn(3, 2)).unpack(2), ValueError, r"layer must be an integer in \[0, 1\]"),
        (lambda m: su.code_distance(su.packed_codes(m, torch.randn(3, 2)), "b"), TypeError, "b must be PackedCodes"),
    ],
)
def test_bad_code_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call(_mlp())


def test_pack_and_unpack_bits_check_their_arguments():
    with pytest.raises(TypeError, match="bits must be a bool tensor"):
        su.pack_bits(torch.full((2, 3), 0.5))
    with pytest.raises(ValueError, match="bits must hold only 0 and 1"):
        su.pack_bits(torch.full((2, 3), 2))
    with pytest.raises(TypeError, match="bits must be a torch.Tensor"):
        su.pack_bits([[True]])
    with pytest.raises(TypeError, match="n_bits must be an integer"):
        su.unpack_bits(torch.zeros(2, 1, dtype=torch.uint8), 3.0)


def test_max_pooling_windows_of_more_than_256_positions():
    """MaxPool2d(17) has 289 window positions: more than uint8 holds. Codes, grid and exact
    partition agree instead of failing with an error that blames the input shape."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.MaxPool2d(17), nn.Flatten(), nn.Linear(1, 1)).double()
    x = torch.randn(3, 1, 17, 17, dtype=torch.float64)
    codes = su.activation_codes(model, x)
    assert codes[0].values.flatten().tolist() == model[0](x).reshape(3, -1).argmax(1).tolist()
    assert codes[0].n_bits == 9 and su.unpack_bits(codes[0].packed(), 9).shape == (3, 9)
    plane = su.PlaneSlice.through(x[:1])
    grid = su.grid_partition(model, (-3, 3, -3, 3), 40, slice=plane)
    part = su.exact_partition(model, (-3, 3, -3, 3), slice=plane)
    assert part.n_regions == grid.n_regions() == 2
    assert part.grid_coverage(grid) == 1.0
    part.check(model)


# --------------------------------------------------------------------------- slices and partitions
@pytest.mark.parametrize("fill", [NAN, INF])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_plane_through_non_finite_anchors_is_refused(n, fill):
    anchors = torch.randn(n, 4)
    anchors[-1, 0] = fill
    with pytest.raises(ValueError, match="anchors must be finite"):
        su.PlaneSlice.through(anchors)
    with pytest.raises(ValueError, match="anchors must be finite"):
        su.PlaneSlice.through(list(anchors))


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(anchors=[]), ValueError, "1, 2 or 3 anchor points, got 0"),
        (dict(anchors=[torch.zeros(3), torch.ones(4)]), ValueError, "anchors must all have one shape"),
        (dict(anchors=torch.ones(2, 3, dtype=torch.bool)), TypeError, "anchors must hold real numbers"),
        (dict(anchors=torch.randn(1, 3), seed=1.5), TypeError, "seed must be an integer"),
        (dict(anchors=torch.randn(1, 3), seed=-1), ValueError, "seed must be an integer >= 0"),
        (dict(anchors=torch.randn(3, 3), tol=NAN), ValueError, "tol must be a finite number"),
        (dict(anchors=torch.randn(3, 3), tol=0.0), ValueError, r"tol must be in \(0, 1\)"),
        (dict(anchors=3.0), TypeError, "anchors must be a tensor"),
    ],
)
def test_bad_plane_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        su.PlaneSlice.through(**kwargs)


def test_hand_made_planes_are_checked():
    good = su.PlaneSlice.through(torch.randn(3, 4))
    with pytest.raises(ValueError, match="origin must be finite"):
        su.PlaneSlice(torch.tensor([NAN, 0, 0, 0]), good.basis, good.anchors)
    with pytest.raises(ValueError, match="basis must be two orthonormal directions"):
        su.PlaneSlice(good.origin, 2 * good.basis, good.anchors)
    with pytest.raises(ValueError, match=r"basis must have shape \(2, \*origin.shape\)"):
        su.PlaneSlice(good.origin, good.basis[:, :3], good.anchors)
    with pytest.raises(ValueError, match="uv must be finite"):
        good.to_input(torch.tensor([[0.0, NAN]]))
    with pytest.raises(ValueError, match="x must be finite"):
        good.to_slice(torch.full((4,), INF))
    good.origin[0] = NAN  # changed after construction: the partitions check again
    with pytest.raises(ValueError, match="origin must be finite"):
        su.exact_partition(su.make_mlp([4, 3, 1]), (0, 1, 0, 1), slice=good)
    with pytest.raises(ValueError, match="origin must be finite"):
        su.grid_partition(su.make_mlp([4, 3, 1]), (0, 1, 0, 1), 5, slice=good)


@pytest.mark.parametrize(
    "domain, message",
    [
        ((0, NAN, 0, 1), "not finite"),
        ((0, 1, -INF, 1), "not finite"),
        ((0, 1, 1, 1), "empty"),
        (("0", "1", "0", "1"), "domain must"),
        ((0, True, 0, 1), "4 real numbers"),
    ],
)
@pytest.mark.parametrize("engine", ["grid", "exact"])
def test_bad_2d_domains(domain, message, engine):
    with pytest.raises(ValueError, match=message):
        if engine == "grid":
            su.grid_partition(_mlp(), domain, 5)
        else:
            su.exact_partition(_mlp(), domain)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda m: su.grid_partition(m, (0, 1, 0, 1), 2.5), TypeError, "resolution must be an integer"),
        (lambda m: su.grid_partition(m, (0, 1, 0, 1), True), TypeError, "resolution must be an integer"),
        (lambda m: su.grid_partition(m, (0, 1, 0, 1), (10, 1)), ValueError, r"resolution\[1\] must be an integer >= 2"),
        (lambda m: su.grid_partition(m, (0, 1, 0, 1), (10, 10, 10)), TypeError, "resolution must be"),
        (lambda m: su.grid_partition(m, (0, 1, 0, 1), 5, batch_size=0), ValueError, "batch_size"),
        (lambda m: su.grid_partition(m, (0, 1, 0, 1), 5, slice="uv"), ValueError, "slice must be a PlaneSlice"),
        (lambda m: su.grid_partition(m, (0, 1, 0, 1), 5).layer_code_grid(2), ValueError, "layer must be an integer in"),
        (lambda m: su.grid_partition(m, (0, 1, 0, 1), 5).crossing_units(-1), ValueError, "layer must be an integer in"),
        (lambda m: su.grid_partition(m, (0, 1, 0, 1), 5).spline_mask(0.0), TypeError, "layer must be an integer"),
        (lambda m: su.exact_partition(m, (0, 1, 0, 1), max_regions=1.5), TypeError, "max_regions must be an integer"),
        (lambda m: su.exact_partition(m, (0, 1, 0, 1), min_area=-1.0), ValueError, r"min_area must be in \[0, 1\)"),
        (lambda m: su.exact_partition(m, (0, 1, 0, 1), min_area=NAN), ValueError, "min_area must be a finite"),
        (lambda m: su.exact_partition(m, [[0, 0], [1, "a"], [0, 1]]), ValueError, "domain must be a box"),
    ],
)
def test_bad_partition_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call(_mlp())


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda p, m: p.check(m, n_points=0), ValueError, "n_points must be an integer >= 1"),
        (lambda p, m: p.check(m, tol=-1e-9), ValueError, "tol must be in"),
        (lambda p, m: p.check(m, seed=0.5), TypeError, "seed must be an integer"),
        (lambda p, m: p.check_decision_boundary(m, resolution=1), ValueError, "resolution must be an integer >= 2"),
        (lambda p, m: p.local_complexity((0.5, NAN), 0.1), ValueError, "point must be finite"),
        (lambda p, m: p.local_complexity((0.5, 0.5, 0.5), 0.1), ValueError, r"point must have shape \(2\)"),
        (lambda p, m: p.local_complexity((0.5, 0.5), -0.1), ValueError, "radius must be in"),
        (lambda p, m: p.local_complexity((0.5, 0.5), INF), ValueError, "radius must be a finite"),
        (lambda p, m: p.spline_units(5), ValueError, r"layer must be an integer in \[0, 1\]"),
        (lambda p, m: p.layer_segments(True), TypeError, "layer must be an integer"),
        (lambda p, m: p.labelled_segments([0, 7]), ValueError, "layers entry must be"),
        (lambda p, m: p.code_rows(upto=3), ValueError, "upto must be"),
        (lambda p, m: p.grid_coverage("grid"), TypeError, "grid must be a GridPartition"),
        (lambda p, m: p.grid_coverage(su.grid_partition(su.make_mlp([2, 5, 1]), (0, 1, 0, 1), 5)), ValueError,
         "grid must hold the codes of the same model"),
        (lambda p, m: su.sampled_local_complexity(m, (0.5, 0.5), NAN), ValueError, "radius must be a finite"),
        (lambda p, m: su.sampled_local_complexity(m, (INF, 0.5), 0.1), ValueError, "point must be finite"),
    ],
)
def test_bad_exact_partition_method_arguments(call, error, message):
    model = _mlp()
    part = su.exact_partition(model, (0, 1, 0, 1))
    with pytest.raises(error, match=message):
        call(part, model)


def test_consistency_checks_raise_explicitly():
    """The checks raise PartitionCheckError (an AssertionError) with an explicit raise, not an
    ``assert`` statement that ``python -O`` would remove."""
    import inspect

    from spline_utils import exact_partition as module

    assert "assert " not in inspect.getsource(module)
    model = _mlp()
    part = su.exact_partition(model, (0, 1, 0, 1))
    other = _with(_mlp(), 3.0, 1)
    with pytest.raises(PartitionCheckError, match="interior points have a code different|affine maps differ"):
        part.check(other)
    with pytest.raises(AssertionError):
        part.check(other)
