"""Every bad input gets an error that names the problem (issue 13): a ValueError / TypeError whose
message names the argument, never a silently wrong value or an obscure traceback."""

import json
import warnings

import numpy as np
import pytest
import torch
from torch import nn

import spline_utils as su
from spline_utils import experiments
from spline_utils.experiments import distributed, results_files, resumable_training
from spline_utils.experiments import image_data as cifar
from spline_utils.partition.exact import PartitionCheckError


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
        su.train_classifier(
            su.make_mlp([2, 3, 2]), torch.zeros(4, 2), torch.zeros(3, dtype=torch.long)
        )


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
        (lambda s, h, x: h**2, r"'pow'.*power"),
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
    for call in (
        lambda: su.check_supported(model),
        lambda: su.region_affine_map(model, torch.randn(3, 2)),
        lambda: su.mlp_region_affine_map(model, torch.randn(3, 2)),
        lambda: su.exact_partition(model, (0, 1, 0, 1)),
    ):
        with pytest.raises(ValueError, match="'1' \\(BatchNorm1d\\) keeps no running statistics"):
            call()
    conv = nn.Sequential(
        nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2, track_running_stats=False), nn.ReLU()
    )
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
        (nn.Hardtanh(), (2,)),
        (nn.ReLU6(), (2,)),
        (nn.Threshold(0.1, 0.0), (2,)),
        (nn.PReLU(), (2,)),
        (nn.RReLU(), (2,)),
        (nn.LayerNorm(2), (2,)),
        (nn.GroupNorm(1, 2), (2,)),
        (nn.Softmin(1), (2,)),
        (nn.BatchNorm3d(2), (2,)),
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
        su.grid_partition(
            model, (0, 1, 0, 1), 4, slice=su.PlaneSlice.through(torch.randn(1, *shape))
        )


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
        (
            lambda m: su.packed_codes(m, torch.randn(3, 2), batch_size=2.5),
            TypeError,
            "batch_size must be an integer",
        ),
        (
            lambda m: su.packed_codes(m, torch.randn(3, 2), batch_size=True),
            TypeError,
            "batch_size must be an integer",
        ),
        (
            lambda m: su.packed_codes(m, torch.randn(3, 2), batch_size=0),
            ValueError,
            "batch_size must be an integer >= 1",
        ),
        (
            lambda m: su.region_affine_map(m, torch.randn(3, 2), batch_size=-1),
            ValueError,
            "batch_size must be",
        ),
        (
            lambda m: su.activation_codes(m, torch.ones(3, 2, dtype=torch.bool)),
            TypeError,
            "x must hold real numbers",
        ),
        (
            lambda m: su.activation_codes(m, torch.randn(3, 2), keep_preactivations="yes"),
            TypeError,
            "keep_preactivations",
        ),
        (lambda m: su.packed_codes(m, "abc"), TypeError, "x must be a tensor"),
        (
            lambda m: su.packed_codes(m, torch.randn(3, 2)).region_ids(1.5),
            TypeError,
            "upto must be an integer",
        ),
        (
            lambda m: su.packed_codes(m, torch.randn(3, 2)).unpack(2),
            ValueError,
            r"layer must be an integer in \[0, 1\]",
        ),
        (
            lambda m: su.code_distance(su.packed_codes(m, torch.randn(3, 2)), "b"),
            TypeError,
            "b must be PackedCodes",
        ),
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
    model = nn.Sequential(
        nn.Conv2d(1, 1, 3, padding=1), nn.MaxPool2d(17), nn.Flatten(), nn.Linear(1, 1)
    ).double()
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
        (
            dict(anchors=[torch.zeros(3), torch.ones(4)]),
            ValueError,
            "anchors must all have one shape",
        ),
        (
            dict(anchors=torch.ones(2, 3, dtype=torch.bool)),
            TypeError,
            "anchors must hold real numbers",
        ),
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
        (
            lambda m: su.grid_partition(m, (0, 1, 0, 1), 2.5),
            TypeError,
            "resolution must be an integer",
        ),
        (
            lambda m: su.grid_partition(m, (0, 1, 0, 1), True),
            TypeError,
            "resolution must be an integer",
        ),
        (
            lambda m: su.grid_partition(m, (0, 1, 0, 1), (10, 1)),
            ValueError,
            r"resolution\[1\] must be an integer >= 2",
        ),
        (
            lambda m: su.grid_partition(m, (0, 1, 0, 1), (10, 10, 10)),
            TypeError,
            "resolution must be",
        ),
        (lambda m: su.grid_partition(m, (0, 1, 0, 1), 5, batch_size=0), ValueError, "batch_size"),
        (
            lambda m: su.grid_partition(m, (0, 1, 0, 1), 5, slice="uv"),
            ValueError,
            "slice must be a PlaneSlice",
        ),
        (
            lambda m: su.grid_partition(m, (0, 1, 0, 1), 5).layer_code_grid(2),
            ValueError,
            "layer must be an integer in",
        ),
        (
            lambda m: su.grid_partition(m, (0, 1, 0, 1), 5).crossing_units(-1),
            ValueError,
            "layer must be an integer in",
        ),
        (
            lambda m: su.grid_partition(m, (0, 1, 0, 1), 5).spline_mask(0.0),
            TypeError,
            "layer must be an integer",
        ),
        (
            lambda m: su.exact_partition(m, (0, 1, 0, 1), max_regions=1.5),
            TypeError,
            "max_regions must be an integer",
        ),
        (
            lambda m: su.exact_partition(m, (0, 1, 0, 1), min_area=-1.0),
            ValueError,
            r"min_area must be in \[0, 1\)",
        ),
        (
            lambda m: su.exact_partition(m, (0, 1, 0, 1), min_area=NAN),
            ValueError,
            "min_area must be a finite",
        ),
        (
            lambda m: su.exact_partition(m, [[0, 0], [1, "a"], [0, 1]]),
            ValueError,
            "domain must be a box",
        ),
    ],
)
def test_bad_partition_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call(_mlp())


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda p, m: p.check(m, n_points=0), ValueError, "n_points must be an integer >= 1"),
        (lambda p, m: p.check(m, tol=-1e-9), ValueError, "tol must be >= 0"),
        (lambda p, m: p.check(m, seed=0.5), TypeError, "seed must be an integer"),
        (
            lambda p, m: p.check_decision_boundary(m, resolution=1),
            ValueError,
            "resolution must be an integer >= 2",
        ),
        (lambda p, m: p.local_complexity((0.5, NAN), 0.1), ValueError, "point must be finite"),
        (
            lambda p, m: p.local_complexity((0.5, 0.5, 0.5), 0.1),
            ValueError,
            r"point must have shape \(2\)",
        ),
        (lambda p, m: p.local_complexity((0.5, 0.5), -0.1), ValueError, "radius must be >= 0"),
        (lambda p, m: p.local_complexity((0.5, 0.5), INF), ValueError, "radius must be a finite"),
        (lambda p, m: p.spline_units(5), ValueError, r"layer must be an integer in \[0, 1\]"),
        (lambda p, m: p.layer_segments(True), TypeError, "layer must be an integer"),
        (lambda p, m: p.labelled_segments([0, 7]), ValueError, "layers entry must be"),
        (lambda p, m: p.code_rows(upto=3), ValueError, "upto must be"),
        (lambda p, m: p.grid_coverage("grid"), TypeError, "grid must be a GridPartition"),
        (
            lambda p, m: p.grid_coverage(
                su.grid_partition(su.make_mlp([2, 5, 1]), (0, 1, 0, 1), 5)
            ),
            ValueError,
            "grid must hold the codes of the same model",
        ),
        (
            lambda p, m: su.sampled_local_complexity(m, (0.5, 0.5), NAN),
            ValueError,
            "radius must be a finite",
        ),
        (
            lambda p, m: su.sampled_local_complexity(m, (INF, 0.5), 0.1),
            ValueError,
            "point must be finite",
        ),
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

    from spline_utils.partition.exact import result as module  # where the checks live

    assert "assert " not in inspect.getsource(module)
    model = _mlp()
    part = su.exact_partition(model, (0, 1, 0, 1))
    other = _with(_mlp(), 3.0, 1)
    with pytest.raises(
        PartitionCheckError, match="interior points have a code different|affine maps differ"
    ):
        part.check(other)
    with pytest.raises(AssertionError):
        part.check(other)


# --------------------------------------------------------------------------- masks, criteria, removal
def _bn_mlp():
    torch.manual_seed(0)
    model = su.make_mlp([2, 6, 5, 3], batch_norm=True)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_()
                m.running_var.uniform_(0.5, 2.0)
    return model.eval()


@pytest.mark.parametrize(
    "indices, error, message",
    [
        ([1.7], TypeError, r"units\['0'\] must hold integer unit indices, got 1.7"),
        ([2.0], TypeError, "must hold integer unit indices"),
        ([True], TypeError, "must hold integer unit indices, got True"),
        (torch.tensor([1.0]), TypeError, "must hold integer unit indices, got dtype float32"),
        (np.array([[1, 2]]), ValueError, "must be a 1-D sequence"),
        (3, TypeError, "must be a sequence of unit indices"),
        ("12", TypeError, "must be a sequence of unit indices"),
        ([6], ValueError, r"units\['0'\] must be unit indices in \[0, 6\)"),
        ([-1], ValueError, r"must be unit indices in \[0, 6\)"),
    ],
)
def test_unit_indices_must_be_integers_in_range(indices, error, message):
    model = _bn_mlp()
    with pytest.raises(error, match=message):
        su.unit_mask(model, {"0": indices})
    with pytest.raises(
        error, match=message.replace(r"units\[", r"pruned\[").replace("units[", "pruned[")
    ):
        su.physical.remove_units(model, {"0": indices}, torch.randn(2, 2))


def test_integer_arrays_and_tensors_are_valid_unit_indices():
    model = _bn_mlp()
    for idx in (
        [1, 3],
        (1, 3),
        np.array([1, 3]),
        torch.tensor([1, 3]),
        [np.int64(1), 3],
        range(1, 4, 2),
    ):
        assert su.unit_mask(model, {"0": idx}).pruned_units("0") == [1, 3]
        x = torch.randn(4, 2)
        small = su.physical.remove_units(model, {"0": idx}, x)
        assert small[0].out_features == 4


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda m: su.unit_mask(m, [("0", [1])]), TypeError, "units must be a mapping"),
        (lambda m: su.unit_mask(m, {0: [1]}), ValueError, "unknown layer 0"),
        (lambda m: su.magnitude_weight_mask(m, NAN), ValueError, "pruning ratio must be a finite"),
        (
            lambda m: su.magnitude_weight_mask(m, "0.5"),
            TypeError,
            "pruning ratio must be a real number",
        ),
        (
            lambda m: su.magnitude_weight_mask(m, 0.5, layers="0"),
            TypeError,
            "layers must be a sequence",
        ),
        (
            lambda m: su.magnitude_weight_mask(_with(m, NAN), 0.5),
            ValueError,
            "weight of layer '0' must be finite",
        ),
        (lambda m: su.weight_mask(m, {"0": torch.full((6, 2), NAN)}), ValueError, "only 0 and 1"),
        (
            lambda m: su.weight_mask(m, {"0": "mask"}),
            TypeError,
            "weight mask of layer '0' must be a bool tensor",
        ),
        (lambda m: su.weight_mask(m, [1]), TypeError, "weight must be a mapping"),
        (
            lambda m: su.apply_mask(m, {"0": torch.ones(6, 2)}),
            TypeError,
            "mask must be a PruningMask",
        ),
        (
            lambda m: su.apply_mask(m, su.PruningMask({"0": torch.full((6, 2), 0.5)}, {})),
            TypeError,
            "mask of layer '0' must be a bool tensor",
        ),
        (
            lambda m: su.enforce_mask_(
                m, su.PruningMask({}, {"0": torch.ones(3, dtype=torch.bool)})
            ),
            ValueError,
            "bias mask of layer '0' must be a bool tensor of the bias's shape",
        ),
        (lambda m: su.full_mask(m).pruned_units("9"), ValueError, "name must be a masked layer"),
        (lambda m: su.full_mask(m).sparsity("x"), ValueError, "name must be a masked layer"),
        (lambda m: su.prunable_layers("model"), TypeError, "model must be a torch.nn.Module"),
    ],
)
def test_bad_mask_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call(_bn_mlp())


@pytest.mark.parametrize(
    "scores, kwargs, error, message",
    [
        ({"0": [0.1, NAN, 0.3]}, {}, ValueError, r"scores\['0'\] must be finite"),
        ({"0": [0.1, INF, 0.3]}, dict(scope="global"), ValueError, r"scores\['0'\] must be finite"),
        ({"0": []}, {}, ValueError, "one score per unit"),
        ({"0": [[0.1, 0.2]]}, {}, ValueError, "must have 1 dimension"),
        ({"0": ["a", "b"]}, {}, TypeError, "must be an array of real numbers"),
        ({"0": [True, False]}, {}, TypeError, "must be an array of real numbers"),
        ({"0": [-1.0, 2.0]}, dict(scope="global"), ValueError, "must be non-negative scores"),
        ([0.1, 0.2], {}, TypeError, "scores must be a mapping"),
        ({"0": [0.1, 0.2]}, dict(ratio=-0.1), ValueError, r"pruning ratio must be in \[0, 1\)"),
        ({"0": [0.1, 0.2]}, dict(scope="all"), ValueError, "scope must be"),
    ],
)
def test_select_units_refuses_bad_scores(scores, kwargs, error, message):
    kwargs = {"ratio": 0.5, **kwargs}
    with pytest.raises(error, match=message):
        su.criteria.select_units(scores, **kwargs)


def test_selected_units_are_python_ints():
    pruned = su.criteria.select_units({"a": np.array([0.3, 0.1, 0.2, 0.9])}, 0.5)
    assert pruned == {"a": [1, 2]} and all(type(i) is int for i in pruned["a"])


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda m: su.criteria.unit_scores(m, "magnitude", seed=1.5),
            TypeError,
            "seed must be an integer",
        ),
        (
            lambda m: su.criteria.unit_scores(m, "magnitude", layers="0"),
            TypeError,
            "layers must be a sequence",
        ),
        (
            lambda m: su.criteria.unit_scores(m, "magnitude", layers=[]),
            ValueError,
            "at least one prunable layer",
        ),
        (
            lambda m: su.criteria.unit_scores(m, "mask", mask={"0": [1]}),
            TypeError,
            "mask must be a PruningMask",
        ),
        (
            lambda m: su.criteria.unit_scores(_with(m, NAN), "magnitude"),
            ValueError,
            "model parameter '0.weight' must be finite",
        ),
        (
            lambda m: su.criteria.unit_scores(_with(m, INF, 2), "slimming"),
            ValueError,
            "'1.weight' must be finite",
        ),
        (
            lambda m: su.criteria.slimming_units(m, 1.0),
            ValueError,
            r"pruning ratio must be in \[0, 1\)",
        ),
        (lambda m: su.criteria.outgoing_norms(m, "7"), ValueError, "unknown layer '7'"),
        (
            lambda m: su.criteria.round_widths({"0": [1]}, {"3": [0.1]}),
            ValueError,
            r"scores must hold every layer of pruned; missing \['0'\]",
        ),
        (
            lambda m: su.criteria.round_widths({"0": [4]}, {"0": [0.1, 0.2]}),
            ValueError,
            r"pruned\['0'\] must be unit indices in \[0, 2\)",
        ),
        (
            lambda m: su.criteria.round_widths({"0": [1.0]}, {"0": [0.1, 0.2]}),
            TypeError,
            "integer unit indices",
        ),
        (
            lambda m: su.criteria.round_widths({"0": [1]}, {"0": [0.1, 0.2]}, multiple=2.0),
            TypeError,
            "multiple must be an integer",
        ),
    ],
)
def test_bad_criteria_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call(_bn_mlp())


def test_grouped_and_depthwise_convolutions_are_refused_by_physical_removal():
    x = torch.randn(2, 2, 6, 6)
    depthwise = nn.Sequential(
        nn.Conv2d(2, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3, groups=4), nn.ReLU(), nn.Conv2d(4, 2, 1)
    )
    with pytest.raises(
        ValueError,
        match=r"layer '2' is a grouped convolution \(groups=4\) that reads the pruned outputs of layer '0'",
    ):
        su.physical.remove_units(depthwise, {"0": [1]}, x)
    grouped = nn.Sequential(nn.Conv2d(2, 4, 3, groups=2), nn.ReLU(), nn.Conv2d(4, 2, 1))
    with pytest.raises(
        ValueError,
        match=r"layer '0' is a grouped convolution \(groups=2\): physical removal cannot",
    ):
        su.physical.remove_units(grouped, {"0": [1]}, x)
    assert (
        su.physical.remove_units(grouped, {"0": []}, x)[0].groups == 2
    )  # nothing to remove: a copy


def test_batchnorm_not_right_after_the_pruned_layer_is_refused():
    """The mask zeroes only the BatchNorm right after a layer: through any other BatchNorm a pruned
    unit still emits that BatchNorm's shift, so removing it would change the outputs."""
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.ReLU(), nn.BatchNorm2d(4), nn.Conv2d(4, 2, 1)
    ).eval()
    with pytest.raises(ValueError, match="layer '0' is separated from the BatchNorm '2'"):
        su.physical.remove_units(model, {"0": [1]}, torch.randn(2, 1, 6, 6))


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda m: su.physical.remove_units(m, {"0": [1]}, [[0.0, 1.0]]),
            TypeError,
            "example must be a torch.Tensor",
        ),
        (
            lambda m: su.physical.remove_units(m, {"0": [1]}, torch.randn(2, 2).fill_(NAN)),
            ValueError,
            "example must be finite",
        ),
        (
            lambda m: su.physical.remove_units(m, [("0", [1])], torch.randn(2, 2)),
            TypeError,
            "pruned must be a mapping",
        ),
        (lambda m: su.physical.consumer_name(m, "9"), ValueError, "unknown layer '9'"),
        (lambda m: su.physical.pruned_widths(None), TypeError, "model must be a torch.nn.Module"),
    ],
)
def test_bad_removal_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call(_bn_mlp())


# --------------------------------------------------------------------------- splines, merging, folding
@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda m: su.merge_units(m, "0", 1.7, 2), TypeError, "keep must be an integer unit index"),
        (
            lambda m: su.merge_units(m, "0", 1, True),
            TypeError,
            "drop must be an integer unit index",
        ),
        (lambda m: su.merge_bound(m, "0", 1, 2, NAN), ValueError, "radius must be a finite number"),
        (lambda m: su.merge_bound(m, "0", 1, 2, -1.0), ValueError, "radius must be >= 0"),
        (
            lambda m: su.merge_bound(su.apply_mask(m, su.unit_mask(m, {"0": [1]})), "0", 1, 2, 1.0),
            ValueError,
            "keep=1 is a pruned unit",
        ),
        (
            lambda m: su.normalised_hyperplanes(np.array([[1.0, NAN]]), np.zeros(1)),
            ValueError,
            "w must be finite",
        ),
        (
            lambda m: su.spline_distances(np.eye(2), np.array([0.0, INF])),
            ValueError,
            "b must be finite",
        ),
        (
            lambda m: su.unit_hyperplanes(_with(m, NAN, 1), "0"),
            ValueError,
            "layer bias must be finite",
        ),
        (
            lambda m: su.bn_spline_distance(_with(m, NAN, 2), "0"),
            ValueError,
            r"bn weight \(gamma\) must be finite",
        ),
        (
            lambda m: su.data_spline_distance(m, "0", torch.randn(1, 2)),
            ValueError,
            "x must hold at least 2 inputs",
        ),
        (
            lambda m: su.data_spline_distance(m, "0", torch.tensor([[0.0, NAN]] * 3)),
            ValueError,
            "x must be finite",
        ),
        (
            lambda m: su.fold_batchnorm(m[0], _with(m, INF, 2)[1]),
            ValueError,
            "bn weight must be finite",
        ),
    ],
)
def test_bad_spline_parameter_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call(_bn_mlp())


def test_fold_batchnorm_refuses_negative_variance():
    model = _bn_mlp()
    model[1].running_var[0] = -0.5
    with pytest.raises(ValueError, match="bn running_var must be >= 0"):
        su.fold_batchnorm(model[0], model[1])


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda m: su.prune_units(m, "0", 0.5, seed=-1),
            ValueError,
            "seed must be an integer >= 0",
        ),
        (
            lambda m: su.prune_units(
                m, "0", 0.5, criterion="spline-merge", x=torch.full((4, 2), INF)
            ),
            ValueError,
            "x must be finite",
        ),
        (lambda m: su.prune_units(m, "0", True), TypeError, "pruning ratio must be a real number"),
        (lambda m: su.input_radius(m, "5", torch.randn(3, 2)), ValueError, "unknown layer '5'"),
        (lambda m: su.redundancy_bounds(m, "0", NAN), ValueError, "radius must be a finite number"),
        (
            lambda m: su.redundancy_bounds(m, "0", 1.0, alive=np.ones(3, bool)),
            ValueError,
            r"alive must be a bool array of shape \(6,\)",
        ),
        (
            lambda m: su.remove_pruned_units(su.digits_convnet(), "0"),
            ValueError,
            "merging needs a Linear layer",
        ),
    ],
)
def test_bad_unit_pruning_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call(_bn_mlp())


def test_remove_pruned_units_needs_an_mlp():
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 2)
    )
    with pytest.raises(ValueError, match="remove_pruned_units needs an MLP"):
        su.remove_pruned_units(model, "2")


def _lines_partition():
    model = _mlp()
    return model, su.exact_partition(model, (-1, 1, -1, 1))


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda m, p: su.bends(np.zeros((2, 2, 2)), np.zeros(2, int)),
            ValueError,
            "segs must have non-zero length",
        ),
        (
            lambda m, p: su.bends(np.ones((3, 2)), np.zeros(3, int)),
            ValueError,
            r"segs must have shape \(S, 2, 2\)",
        ),
        (
            lambda m, p: su.bends(np.full((2, 2, 2), NAN), np.zeros(2, int)),
            ValueError,
            "segs must be finite",
        ),
        (
            lambda m, p: su.bends(np.random.default_rng(0).random((3, 2, 2)), np.zeros(2, int)),
            ValueError,
            r"groups must be integers of shape \(3,\)",
        ),
        (
            lambda m, p: su.bends(
                np.random.default_rng(0).random((3, 2, 2)), np.zeros(3, int), tol=-1.0
            ),
            ValueError,
            "tol must be >= 0",
        ),
        (lambda m, p: su.spline_segments("part"), TypeError, "part must be an ExactPartition"),
        (
            lambda m, p: su.spline_turning_points(p, 2),
            ValueError,
            r"layer must be an integer in \[0, 1\]",
        ),
        (lambda m, p: su.supplying_splines(p, [[0.0, NAN]]), ValueError, "points must be finite"),
        (
            lambda m, p: su.supplying_splines(p, [[0.0, 0.0, 0.0]]),
            ValueError,
            r"points must have shape \(T, 2\)",
        ),
        (
            lambda m, p: su.supplying_splines(p, [[0.0, 0.0]], before_layer=3),
            ValueError,
            "before_layer must be",
        ),
        (
            lambda m, p: su.unit_preactivations(m, p, [[0.0, 0.0], [0.1, 0.1]], [0]),
            ValueError,
            r"labels must be integer edge labels of shape \(2,\)",
        ),
        (
            lambda m, p: su.unit_preactivations(m, p, [[0.0, 0.0]], [-1]),
            ValueError,
            "not the domain edge -1",
        ),
        (
            lambda m, p: su.unit_preactivations(m, p, [[0.0, 0.0]], [(1 << 32) + 9]),
            ValueError,
            "labels must name units",
        ),
    ],
)
def test_bad_turning_point_arguments(call, error, message):
    model, part = _lines_partition()
    with pytest.raises(error, match=message):
        call(model, part)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: su.maso(torch.tensor([[NAN, 0.0]]), torch.ones(1, 2, 2), torch.zeros(1, 2)),
            ValueError,
            "x must be finite",
        ),
        (
            lambda: su.maso(torch.ones(1, 2), torch.ones(1, 2, 2), torch.full((1, 2), NAN)),
            ValueError,
            "offsets must be finite or -inf",
        ),
        (
            lambda: su.maso(torch.ones(1, 2), torch.ones(1, 0, 2), torch.zeros(1, 0)),
            ValueError,
            "at least one piece",
        ),
        (
            lambda: su.maso(
                torch.ones(1, 2), torch.ones(1, 2, 2).double(), torch.zeros(1, 2).double()
            ),
            ValueError,
            "share one dtype",
        ),
        (
            lambda: su.maso([[1.0, 2.0]], torch.ones(1, 2, 2), torch.zeros(1, 2)),
            TypeError,
            "x must be a torch.Tensor",
        ),
        (
            lambda: su.dense_layer_maso(nn.Conv2d(1, 1, 1), nn.ReLU()),
            TypeError,
            "linear must be an nn.Linear",
        ),
        (
            lambda: su.dense_layer_maso(_with(nn.Linear(2, 2), NAN), nn.ReLU()),
            ValueError,
            "linear weight must be finite",
        ),
        (
            lambda: su.dense_layer_maso(nn.Linear(2, 2), nn.LeakyReLU(2.0)),
            ValueError,
            "activation must be",
        ),
        (
            lambda: su.maxpool_maso(nn.MaxPool2d(3), (1, 2, 2)),
            ValueError,
            "smaller than the pooling window",
        ),
        (
            lambda: su.maxpool_maso(nn.MaxPool2d(2), (1, 4.0, 4)),
            TypeError,
            r"input_shape\[1\] must be an integer",
        ),
        (
            lambda: su.maxpool_maso(nn.MaxPool2d(2, ceil_mode=True), (1, 4, 4)),
            ValueError,
            "ceil_mode",
        ),
        (
            lambda: su.maxpool_maso(nn.AvgPool2d(2), (1, 4, 4)),
            TypeError,
            "pool must be an nn.MaxPool2d",
        ),
    ],
)
def test_bad_maso_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()


# --------------------------------------------------------------------------- early-bird detectors
def test_mask_detector_fires_at_a_distance_equal_to_the_threshold():
    """The EB paper's released code fires when every distance is at most the threshold."""
    from spline_utils.early_bird import MaskEBDetector

    def run(changed):
        det = MaskEBDetector(ratios=(0.5,), fifo=5, threshold=0.1)
        old = np.zeros(40, bool)
        new = old.copy()
        new[:changed] = True
        fired = [det.update_masks({0.5: old}, epoch)[0.5] for epoch in range(1, 5)]
        fired.append(det.update_masks({0.5: new}, 5)[0.5])
        return det, fired

    det, fired = run(4)  # 4 / 40 = 0.1 from each of the 4 older masks
    assert (
        det.distances[0.5][-1] == 0.1
        and fired == [False] * 4 + [True]
        and det.fired_epoch[0.5] == 5
    )
    det, fired = run(5)  # 5 / 40 = 0.125
    assert not any(fired) and det.fired_epoch[0.5] is None


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(threshold=-0.1), ValueError, r"threshold must be in \[0, 1\)"),
        (dict(threshold=NAN), ValueError, "threshold must be a finite number"),
        (dict(threshold=1.0), ValueError, r"threshold must be in \[0, 1\)"),
        (dict(fifo=1), ValueError, "fifo must be an integer >= 2"),
        (dict(fifo=5.0), TypeError, "fifo must be an integer"),
        (dict(fifo=True), TypeError, "fifo must be an integer"),
        (dict(ratios=(0.5, NAN)), ValueError, "pruning ratio p must be a finite number"),
        (dict(ratios=(0.5, 0.5)), ValueError, "ratios must be distinct"),
        (dict(ratios=()), ValueError, "ratios must be distinct pruning ratios, at least one"),
        (dict(ratios=0.5), TypeError, "ratios must be a sequence"),
    ],
)
def test_bad_mask_detector_arguments(kwargs, error, message):
    from spline_utils.early_bird import MaskEBDetector

    with pytest.raises(error, match=message):
        MaskEBDetector(**kwargs)


def test_bad_mask_detector_updates():
    from spline_utils.early_bird import MaskEBDetector, bn_channel_mask, mask_distance

    det = MaskEBDetector(ratios=(0.3, 0.5))
    with pytest.raises(
        ValueError, match=r"masks must hold a mask for every ratio .*missing \[0.5\]"
    ):
        det.update_masks({0.3: np.zeros(4, bool)}, 1)
    with pytest.raises(ValueError, match=r"masks\[0.3\] must be a bool mask"):
        det.update_masks({0.3: np.full(4, 0.5), 0.5: np.zeros(4, bool)}, 1)
    with pytest.raises(TypeError, match="epoch must be an integer"):
        det.update_masks({0.3: np.zeros(4, bool), 0.5: np.zeros(4, bool)}, 1.5)
    with pytest.raises(ValueError, match="a must be a non-empty 1-D channel mask"):
        mask_distance(np.zeros(0, bool), np.zeros(0, bool))
    net = su.digits_convnet()
    net[1].weight.data[0] = NAN
    with pytest.raises(ValueError, match="gamma must be finite"):
        bn_channel_mask(net, 0.5)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(threshold=-0.1), ValueError, r"threshold must be in \(0, 1\)"),
        (dict(threshold=INF), ValueError, "threshold must be a finite number"),
        (dict(window=0), ValueError, "window must be an integer >= 1"),
        (dict(window=2.5), TypeError, "window must be an integer"),
        (dict(batch_size=False), TypeError, "batch_size must be an integer"),
        (dict(keep_all=1), TypeError, "keep_all must be True or False"),
        (dict(probe=torch.tensor([[0.0, NAN]])), ValueError, "probe must be finite"),
        (dict(probe=torch.ones(3, 2, dtype=torch.bool)), TypeError, "probe must hold real numbers"),
    ],
)
def test_bad_spline_detector_arguments(kwargs, error, message):
    from spline_utils.early_bird import SplineEBDetector

    kwargs = {"probe": torch.randn(4, 2), **kwargs}
    with pytest.raises(error, match=message):
        SplineEBDetector(**kwargs)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda eb: eb.canvas([torch.zeros(2), torch.ones(2)], n=2.5),
            TypeError,
            "n must be an integer",
        ),
        (
            lambda eb: eb.canvas([torch.zeros(2), torch.ones(2)], n=1),
            ValueError,
            "n must be an integer >= 2",
        ),
        (
            lambda eb: eb.canvas([torch.zeros(2), torch.tensor([1.0, NAN])]),
            ValueError,
            r"anchors\[1\] must be finite",
        ),
        (lambda eb: eb.canvas(torch.zeros(2)[0]), TypeError, "anchors must be"),
        (lambda eb: eb.canvas(3.0), TypeError, "anchors must be a sequence"),
        (
            lambda eb: eb.code_set_distance(_packed(), _packed(), kinds="relu"),
            TypeError,
            "kinds must be a sequence",
        ),
        (
            lambda eb: eb.code_set_distance(_packed(), _packed(), kinds=("conv",)),
            ValueError,
            "kinds entry must be one of",
        ),
        (
            lambda eb: eb.distance_matrix([_packed(), "codes"]),
            TypeError,
            "code_sets must hold PackedCodes",
        ),
        (
            lambda eb: eb.probe_codes(_mlp(), [[0.0, 1.0]]),
            TypeError,
            "probe must be a torch.Tensor",
        ),
        (
            lambda eb: eb.probe_codes(_mlp(), torch.randn(3, 2), batch_size=0),
            ValueError,
            "batch_size must be",
        ),
        (
            lambda eb: eb.SplineEBDetector(torch.randn(3, 2)).update_codes("codes", 1),
            TypeError,
            "codes must be PackedCodes",
        ),
        (
            lambda eb: eb.CodeRecorder(torch.randn(3, 2), "folder", batch_size=-2),
            ValueError,
            "batch_size must be",
        ),
    ],
)
def test_bad_early_bird_arguments(call, error, message):
    from spline_utils import early_bird

    with pytest.raises(error, match=message):
        call(early_bird)


def _packed():
    return su.packed_codes(_mlp(), torch.randn(5, 2))


# --------------------------------------------------------------------------- models, data, training, costs
@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: su.make_mlp([2, 2.5, 1]), TypeError, r"widths\[1\] must be an integer"),
        (lambda: su.make_mlp([2, True, 1]), TypeError, r"widths\[1\] must be an integer"),
        (lambda: su.make_mlp([2, 0, 1]), ValueError, r"widths\[1\] must be an integer >= 1"),
        (lambda: su.make_mlp(3), TypeError, "widths must be a sequence"),
        (
            lambda: su.make_mlp([2, 3, 1], batch_norm="yes"),
            TypeError,
            "batch_norm must be True or False",
        ),
        (lambda: su.vgg((8, True, "M")), ValueError, "cfg entries must be positive channel counts"),
        (
            lambda: su.vgg((8, "M"), num_classes=0),
            ValueError,
            "num_classes must be an integer >= 1",
        ),
        (lambda: su.digits_convnet((8,)), ValueError, r"channels must be a pair \(c1, c2\)"),
        (lambda: su.digits_convnet((8, 1.5)), TypeError, r"channels\[1\] must be an integer"),
        (lambda: su.preresnet(20.0), TypeError, "depth must be an integer"),
        (lambda: su.preresnet(20, mid=[4] * 8 + [2.5]), TypeError, r"mid\[8\] must be an integer"),
        (
            lambda: su.preresnet(11, bottleneck=True, mid=[4, 4, 4]),
            ValueError,
            r"mid\[0\] must be a pair",
        ),
        (lambda: su.ResidualBlock(-2), ValueError, "channels must be an integer >= 1"),
        (
            lambda: su.he_init_(su.make_mlp([2, 3, 1]), bias_std=NAN),
            ValueError,
            "bias_std must be a finite number",
        ),
        (
            lambda: su.he_init_(su.make_mlp([2, 3, 1]), generator=0),
            TypeError,
            "generator must be a torch.Generator",
        ),
        (lambda: su.models.conv_bn_relu(3, 0), ValueError, "c_out must be an integer >= 1"),
    ],
)
def test_bad_model_builder_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: su.x_shaped_data(2.5), TypeError, "n must be an integer"),
        (lambda: su.x_shaped_data(10, half_width=-1.0), ValueError, "half_width must be > 0"),
        (lambda: su.x_shaped_data(10, seed=True), TypeError, "seed must be an integer"),
        (lambda: su.digits_tensors(test_size=NAN), ValueError, "test_size must be a finite number"),
        (lambda: su.seed_everything(1.5), ValueError, "seed must be a non-negative integer"),
        (lambda: su.seed_everything(True), ValueError, "seed must be a non-negative integer"),
        (
            lambda: su.fcnet_study.x_data_split(n=10, train_fraction=0.01),
            ValueError,
            "leaves an empty train or test set",
        ),
        (lambda: su.fcnet_study.x_data_split(n=1.0), TypeError, "n must be an integer"),
        (
            lambda: su.fcnet_study.train_fcnet(
                0, torch.randn(4, 2), torch.zeros(4, dtype=torch.long)
            ),
            ValueError,
            "width must be an integer >= 1",
        ),
        (
            lambda: su.fcnet_study.fcnet_pruning_study(widths=(20,), ratios=(0.5, 1.0)),
            ValueError,
            r"ratios\[1\] must be in \[0, 1\)",
        ),
        (
            lambda: su.fcnet_study.fcnet_pruning_study(criteria=("spline-merge", "l1")),
            ValueError,
            r"criteria\[1\] must be one of",
        ),
        (
            lambda: su.fcnet_study.fcnet_pruning_study(seeds=[0.5]),
            TypeError,
            r"seeds\[0\] must be an integer",
        ),
        (
            lambda: su.fcnet_study.from_scratch(20, seeds=[], epochs=1),
            ValueError,
            "seeds must not be empty",
        ),
        (
            lambda: su.digits_study.digits_pruning_study(methods=("mask",)),
            ValueError,
            r"methods\[0\] must be one of",
        ),
        (
            lambda: su.digits_study.digits_pruning_study(ratios=(NAN,)),
            ValueError,
            r"ratios\[0\] must be a finite",
        ),
        (
            lambda: su.digits_study.digits_pruning_study(finetune_epochs=0),
            ValueError,
            "finetune_epochs must be",
        ),
        (lambda: su.explorer.explorer_figure(width=2.5), TypeError, "width must be an integer"),
        (
            lambda: su.explorer.explorer_figure(method="polygons"),
            ValueError,
            "method must be one of",
        ),
        (
            lambda: su.explorer.explorer_figure(method="grid", resolution=1),
            ValueError,
            "resolution must be an integer >= 2",
        ),
    ],
)
def test_bad_data_and_study_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(epochs=2.5), TypeError, "epochs must be an integer"),
        (dict(epochs=True), TypeError, "epochs must be an integer"),
        (dict(batch_size=0), ValueError, "batch_size must be an integer >= 1"),
        (dict(lr=NAN), ValueError, "lr must be a finite number"),
        (dict(lr=0.0), ValueError, "lr must be > 0"),
        (dict(momentum=-0.5), ValueError, "momentum must be >= 0"),
        (dict(weight_decay=INF), ValueError, "weight_decay must be a finite number"),
        (dict(seed=-3), ValueError, "seed must be an integer >= 0"),
        (dict(x=torch.full((8, 2), NAN)), ValueError, "x must be finite"),
        (dict(y=torch.zeros(8)), ValueError, "y must be a 1-D integer tensor of class labels"),
        (dict(y=torch.full((8,), -1)), ValueError, "y must hold class labels >= 0"),
        (
            dict(y=torch.full((8,), 2)),
            ValueError,
            r"y must hold class labels in \[0, 2\) for a model with 1 output",
        ),
        (
            dict(mask=su.PruningMask({"0": torch.ones(4, 2)}, {})),
            TypeError,
            "must be a bool tensor",
        ),
        (dict(callbacks=[1]), TypeError, "callbacks must be callables"),
    ],
)
def test_bad_training_arguments(kwargs, error, message):
    model = su.make_mlp([2, 4, 1])
    kwargs = {
        "x": torch.randn(8, 2),
        "y": torch.randint(0, 2, (8,)),
        "epochs": 1,
        "progress": False,
        **kwargs,
    }
    with pytest.raises(error, match=message):
        su.train_classifier(model, **kwargs)


def test_accuracy_checks_its_labels():
    model = su.make_mlp([2, 4, 3])
    with pytest.raises(ValueError, match="x and y must hold the same number of examples"):
        su.accuracy(model, torch.randn(5, 2), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="y must be a 1-D integer tensor"):
        su.accuracy(model, torch.randn(5, 2), torch.zeros(5))


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda m: su.costs.count_flops(m, 2), TypeError, "input_shape must be a non-empty tuple"),
        (
            lambda m: su.costs.count_flops(m, (2.0,)),
            TypeError,
            r"input_shape\[0\] must be an integer",
        ),
        (
            lambda m: su.costs.count_flops(m, (0,)),
            ValueError,
            r"input_shape\[0\] must be an integer >= 1",
        ),
        (
            lambda m: su.costs.throughput(m, (2,), batch_size=1.5),
            TypeError,
            "batch_size must be an integer",
        ),
        (
            lambda m: su.costs.throughput(m, (2,), warmup=-1),
            ValueError,
            "warmup must be an integer >= 0",
        ),
        (
            lambda m: su.costs.training_flops(m, (2,), examples=-5),
            ValueError,
            "examples must be an integer >= 0",
        ),
        (
            lambda m: su.costs.training_flops(nn.Sequential(nn.ReLU()), (2,), 10),
            ValueError,
            "model must have parameters",
        ),
        (lambda m: su.costs.count_parameters("net"), TypeError, "model must be a torch.nn.Module"),
    ],
)
def test_bad_cost_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call(su.make_mlp([2, 4, 1]))


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: su.model_walk.code_modules([nn.ReLU()]),
            TypeError,
            "model must be a torch.nn.Module",
        ),
        (
            lambda: su.model_walk.pool_geometry(nn.AvgPool2d(2), 4, 4),
            TypeError,
            "pool must be an nn.MaxPool2d",
        ),
        (
            lambda: su.model_walk.pool_geometry(nn.MaxPool2d(2), 4.0, 4),
            TypeError,
            "height must be an integer",
        ),
        (
            lambda: su.model_walk.module_tensor(_mlp(), nn.ReLU(), torch.randn(2, 2)),
            ValueError,
            "module must be a submodule of model",
        ),
    ],
)
def test_bad_model_walk_helper_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()


# --------------------------------------------------------------------------- plotting, Chapter 6
@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda g, p: su.plot_partition(g, upto=1.5), TypeError, "upto must be an integer"),
        (lambda g, p: su.plot_partition(p), TypeError, "part must be a GridPartition"),
        (lambda g, p: su.plot_exact(g), TypeError, "part must be a ExactPartition"),
        (lambda g, p: su.plot_exact(p, upto=-1), ValueError, "upto must be in"),
        (lambda g, p: su.plot_exact(p, color_by="area"), ValueError, "color_by must be one of"),
        (
            lambda g, p: su.plot_layer_by_layer("part"),
            TypeError,
            "part must be a ExactPartition or GridPartition",
        ),
        (
            lambda g, p: su.plotting.draw_layer_splines(None, g, -1, "k"),
            ValueError,
            "layer must be an integer in",
        ),
        (lambda g, p: su.plotting.region_colormap(2.5), TypeError, "n_regions must be an integer"),
        (
            lambda g, p: su.plot_slice(_mlp(), (0, 1, 0, 1), method="mesh"),
            ValueError,
            "method must be one of",
        ),
    ],
)
def test_bad_plotting_arguments(call, error, message):
    import matplotlib

    matplotlib.use("Agg")
    model = _mlp()
    grid = su.grid_partition(model, (0, 1, 0, 1), 5)
    part = su.exact_partition(model, (0, 1, 0, 1))
    with pytest.raises(error, match=message):
        call(grid, part)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: resumable_training.Schedule(epochs=10, milestones=(2.5,)),
            TypeError,
            r"milestones\[0\] must be an integer",
        ),
        (
            lambda: resumable_training.Schedule(epochs=10, milestones=(5, 5)),
            ValueError,
            "milestones must be increasing",
        ),
        (lambda: resumable_training.Schedule(lr=NAN), ValueError, "lr must be a finite number"),
        (
            lambda: resumable_training.Schedule(batch_size=64.0),
            TypeError,
            "batch_size must be an integer",
        ),
        (
            lambda: resumable_training.Schedule(augment="no"),
            TypeError,
            "augment must be True or False",
        ),
        (
            lambda: resumable_training.Schedule().scaled(0),
            ValueError,
            "epochs must be an integer >= 1",
        ),
        (
            lambda: experiments.preset("quick", eb_threshold=0.0),
            ValueError,
            r"eb_threshold must be in \(0, 1\)",
        ),
        (
            lambda: experiments.preset("quick", mask_threshold=-0.1),
            ValueError,
            r"mask_threshold must be in \[0, 1\)",
        ),
        (
            lambda: experiments.preset("quick", mask_fifo=1),
            ValueError,
            "mask_fifo must be an integer >= 2",
        ),
        (lambda: experiments.preset("quick", canvas=2.5), TypeError, "canvas must be an integer"),
        (lambda: experiments.preset("quick", seed=True), TypeError, "seed must be an integer"),
        (lambda: experiments.preset("quick", ratios="0.5"), TypeError, "ratios must be a sequence"),
        (
            lambda: experiments.preset("quick", ratios=(NAN,)),
            ValueError,
            r"ratios\[0\] must be a finite",
        ),
        (
            lambda: experiments.preset("quick", device="tpu"),
            ValueError,
            "device must be 'cpu', 'cuda' or None",
        ),
        (
            lambda: experiments.prune(_mlp(), "l1", 0.5, torch.randn(2, 2)),
            ValueError,
            "unknown method 'l1'",
        ),
        (
            lambda: cifar.augment(torch.rand(2, 3, 8, 8), torch.Generator()),
            ValueError,
            "x must be uint8 images",
        ),
        (
            lambda: cifar.augment(torch.zeros(2, 3, 8, 8, dtype=torch.uint8), 0),
            TypeError,
            "generator must be",
        ),
        (
            lambda: cifar.augment(
                torch.zeros(2, 3, 8, 8, dtype=torch.uint8), torch.Generator(), pad=-1
            ),
            ValueError,
            "pad must be an integer >= 0",
        ),
        (
            lambda: results_files.summary(__import__("pandas").DataFrame({"run": ["dense"]})),
            ValueError,
            "frame must have the columns of load_results",
        ),
    ],
)
def test_bad_chapter6_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: su.ExactPartition.edge_source(1.5),
            TypeError,
            "label must be an integer edge label",
        ),
        (lambda: su.codes.window_dtype(0), ValueError, "positions must be an integer >= 1"),
        (lambda: su.check_supported(_mlp(), trace="no"), TypeError, "trace must be True or False"),
        (lambda: distributed.setup("tpu"), ValueError, "device must be 'cpu', 'cuda' or None"),
        (
            lambda: su.early_bird.CodeRecorder(torch.randn(3, 2), "codes", write=False)(
                _mlp(), 1.5
            ),
            TypeError,
            "epoch must be an integer",
        ),
        (
            lambda: su.criteria.spline_scores(_with(_bn_mlp(), NAN, 3), "0"),
            ValueError,
            "beta of the BatchNorm after layer '0' must be finite",
        ),
    ],
)
def test_bad_helper_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()


# =========================================================================== issue 21
# A second round of misuse: real bugs fixed at their cause, and every other bad input refused
# with a message that names the argument (or a correct answer).


# --------------------------------------------------------------------------- exact engine: a
# Linear on a 3-D input adds its bias along the last axis (the sequential path added it along
# axis 1 and found 2 regions, failing its own check)
class _Wrapped(nn.Module):
    """The same network behind a custom forward: the engine's forward-AD path."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x)


def test_linear_on_a_3d_input_gets_its_bias_on_the_last_axis():
    from spline_utils.partition.exact.engine import _EngineOptions

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(9, 2)).double()
    plane = su.PlaneSlice.through(torch.randn(3, 3, 4, dtype=torch.float64))
    log = []
    part = su.exact_partition(model, (-3, 3, -3, 3), slice=plane, _options=_EngineOptions(log=log))
    assert any(step == "sequential maps" for _, step in log)  # the path that had the bug
    part.check(model)  # codes and affine maps of every region match the network
    by_ad = su.exact_partition(_Wrapped(model), (-3, 3, -3, 3), slice=plane)
    assert part.n_regions == by_ad.n_regions > 2
    grid = su.grid_partition(model, (-3, 3, -3, 3), 200, slice=plane)
    assert part.grid_coverage(grid) == 1.0


# --------------------------------------------------------------------------- BatchNorm without
# gamma and beta (affine=False) after a pruned layer: masking, removal and maps agree
def _bn_plain(conv: bool = False):
    torch.manual_seed(0)
    if conv:
        model = nn.Sequential(
            nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4, affine=False), nn.ReLU(), nn.Flatten(),
            nn.Linear(4 * 4 * 4, 2),
        )  # fmt: skip
        x = torch.randn(64, 1, 6, 6)
    else:
        model = nn.Sequential(
            nn.Linear(2, 4), nn.BatchNorm1d(4, affine=False), nn.ReLU(), nn.Linear(4, 2)
        )
        x = 3 * torch.randn(64, 2)
    model.train()
    with torch.no_grad():
        model(x)  # running statistics far from (0, 1)
    return model.eval(), x


@pytest.mark.parametrize("conv", [False, True])
def test_batchnorm_without_affine_after_a_pruned_layer(conv):
    model, x = _bn_plain(conv)
    mask = su.unit_mask(model, {"0": [1]})
    masked = su.apply_mask(model, mask)
    with torch.no_grad():
        assert masked[1](masked[0](x))[:, 1].abs().max() == 0.0  # the pruned unit outputs 0
    small = su.physical.remove_units(model, {"0": [1]}, x[:2])
    torch.testing.assert_close(small(x), masked(x), rtol=0, atol=1e-6)
    assert model[1].running_mean[1] != 0.0  # the dense model is unchanged
    if not conv:  # the explicit product and the Jacobian give the same maps
        for net in (model, masked):
            a, b = su.mlp_region_affine_map(net, x[:8])
            a_jac, b_jac = su.region_affine_map(net, x[:8])
            torch.testing.assert_close(a, a_jac, rtol=0, atol=1e-5)
            torch.testing.assert_close(b, b_jac, rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match=r"no learnable scale \(affine=False\): there is no gamma"):
        su.criteria.slimming_units(model, 0.5)
    with pytest.raises(ValueError, match=r"has none \(affine=False\)"):
        su.criteria.unit_scores(model, "spline")


# --------------------------------------------------------------------------- shared (tied)
# modules: physical removal refuses them instead of returning a model that cannot run
def test_removal_refuses_tied_layers_and_parameters():
    shared = nn.Linear(3, 3)
    tied = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), shared, nn.ReLU(), shared, nn.Linear(3, 1))
    with pytest.raises(ValueError, match=r"must not share \(tie\) layers.*'2' and '4'"):
        su.physical.remove_units(tied, {"2": [0]}, torch.zeros(1, 2))
    weights = nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 1))
    weights[2].weight = weights[0].weight  # one parameter in two layers
    with pytest.raises(ValueError, match=r"'0.weight' and '2.weight' are the same"):
        su.physical.remove_units(weights, {"0": [0]}, torch.zeros(1, 3))
    relu = nn.ReLU()  # a shared module without state is harmless
    net = nn.Sequential(nn.Linear(2, 4), relu, nn.Linear(4, 4), relu, nn.Linear(4, 1))
    x = torch.randn(20, 2)
    small = su.physical.remove_units(net, {"0": [1], "2": [0, 3]}, x[:1])
    masked = su.apply_mask(net, su.unit_mask(net, {"0": [1], "2": [0, 3]}))
    torch.testing.assert_close(small(x), masked(x), rtol=0, atol=1e-6)


# --------------------------------------------------------------------------- domains: polygons
# traced once, tolerances relative to the domain's own size, small regions of large domains kept
def _star(turns: int = 2, points: int = 5):
    angles = np.pi / 2 + 2 * np.pi * turns / points * np.arange(points)
    return np.stack([np.cos(angles), np.sin(angles)], 1)


@pytest.mark.parametrize(
    "domain",
    [
        _star(),  # a pentagram: self-intersecting, every turn to the left
        np.tile([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]], (2, 1)),  # a square, twice
        _star(3, 7),  # a seven-pointed star, traced three times around
    ],
)
def test_domains_that_are_not_traced_once_are_refused(domain):
    with pytest.raises(ValueError, match="must be simple and traced once"):
        su.exact_partition(_mlp(), domain)


def _lines_through(centre: float, size: float, seed: int = 0):
    """An MLP whose first-layer lines cross the box [centre, centre + size]^2."""
    torch.manual_seed(seed)
    model = su.make_mlp([2, 5, 5, 2]).double()
    point = torch.full((2,), centre + size / 2, dtype=torch.float64)
    with torch.no_grad():
        shift = 0.2 * size * torch.randn(5, dtype=torch.float64)
        model[0].bias.copy_(shift - model[0].weight @ point)
    return model


@pytest.mark.parametrize("centre, size", [(1e6, 1.0), (0.0, 1e-6), (-2e5, 3.0), (3.0, 1e-6)])
def test_small_domains_and_domains_far_from_the_origin_are_valid(centre, size):
    model = _lines_through(centre, size)
    box = (centre, centre + size, centre, centre + size)
    part = su.exact_partition(model, box)
    part.check(model, tol=1e-6 * max(1.0, abs(centre)))
    assert part.areas.sum() == pytest.approx(size * size, rel=1e-6)
    grid = su.grid_partition(model, box, 200)
    assert part.n_regions >= 4 and part.grid_coverage(grid) == 1.0
    polygon = np.array([[centre, centre], [centre + size, centre], [centre, centre + size]])
    assert su.exact_partition(model, polygon).areas.sum() == pytest.approx(size * size / 2)


def test_degenerate_domains_are_still_refused():
    with pytest.raises(ValueError, match="degenerate"):
        su.exact_partition(_mlp(), np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0 + 1e-14]]))
    with pytest.raises(ValueError, match="degenerate"):
        su.exact_partition(_mlp(), np.array([[5.0, 5.0]] * 3))


def test_a_large_domain_keeps_its_small_regions():
    torch.manual_seed(0)
    model = su.make_mlp([2, 8, 8, 1]).double()
    large = su.exact_partition(model, (-1e6, 1e6, -1e6, 1e6))  # default min_area: 0.04 there
    assert (
        large.n_regions == su.exact_partition(model, (-1e6, 1e6, -1e6, 1e6), min_area=0).n_regions
    )
    assert large.areas.min() < 1e-14 * 4e12  # regions below min_area x the domain area are kept
    large.check(model)
    small = su.exact_partition(model, (-3, 3, -3, 3))
    # every region of the small box is a region of the large one (the large box contains it)
    assert {r.tobytes() for r in small.code_rows()} <= {r.tobytes() for r in large.code_rows()}


# --------------------------------------------------------------------------- identical duplicate
# units share one spline: the exact partition lists every unit the grid sees crossing
def test_duplicate_units_are_listed_as_the_grid_lists_them():
    model = su.make_mlp([2, 5, 3, 1]).double()
    torch.manual_seed(0)
    with torch.no_grad():
        model[0].weight.copy_(torch.randn(5, 2, dtype=torch.float64))
        model[0].bias.copy_(torch.randn(5, dtype=torch.float64))
        model[0].weight[1], model[0].bias[1] = model[0].weight[0], model[0].bias[0]  # a twin
        model[0].weight[3], model[0].bias[3] = -model[0].weight[2], -model[0].bias[2]  # mirrored
        model[0].bias[4] = 100.0  # always active: cuts nothing
    part = su.exact_partition(model, (-3, 3, -3, 3))
    grid = su.grid_partition(model, (-3, 3, -3, 3), 101)
    assert part.spline_units(0).tolist() == grid.crossing_units(0).tolist() == [0, 1, 2, 3]
    for layer in range(len(part.codes)):
        assert part.spline_units(layer).tolist() == grid.crossing_units(layer).tolist()


# --------------------------------------------------------------------------- early-bird replay
# and detectors: NaN distances, lists of different lengths, epochs that go backwards
def test_a_nan_distance_is_refused_not_replayed():
    from spline_utils.early_bird import replay_spline_detector

    d = np.full((5, 5), 0.5)
    np.fill_diagonal(d, 0.0)
    d[4, 3] = d[3, 4] = 0.05
    d[4, 2] = d[2, 4] = NAN  # max(0.05, nan) is 0.05 in Python: it would fire at epoch 4
    assert replay_spline_detector(np.nan_to_num(d, nan=0.5), range(5), window=2) is None
    with pytest.raises(ValueError, match="matrix must be finite, got 2 NaN/inf entries"):
        replay_spline_detector(d, range(5), window=2)


def test_mask_replay_needs_one_value_per_epoch_and_finite_scales():
    from spline_utils.early_bird import replay_mask_detector
    from spline_utils.early_bird.replay import gamma_mask

    values = [np.random.default_rng(i).random(10) for i in range(6)]
    with pytest.raises(ValueError, match="6 values and 4 epochs"):
        replay_mask_detector(values, [0, 1, 2, 3], 0.5, fifo=2)
    with pytest.raises(ValueError, match=r"epochs must be increasing \(each epoch once\)"):
        replay_mask_detector(values, [0, 1, 3, 2, 4, 5], 0.5, fifo=2)
    gamma = values[0].copy()
    gamma[3] = NAN  # NaN compares False: the mask would silently drop it
    with pytest.raises(ValueError, match="gamma must be finite, got 1 NaN/inf entries"):
        gamma_mask(gamma, 0.5)
    with pytest.raises(ValueError, match="gamma must have 1 dimension"):
        gamma_mask(np.ones((2, 3)), 0.5)


def test_detectors_refuse_epochs_that_go_backwards():
    from spline_utils.early_bird import MaskEBDetector, SplineEBDetector, training_record
    from spline_utils.early_bird.replay import GammaRecorder

    codes = su.packed_codes(_mlp(), torch.randn(10, 2))
    spline = SplineEBDetector(torch.randn(10, 2), window=2, keep_all=True)
    spline.update_codes(codes, 1)
    spline.update_codes(codes, 2)
    for epoch in (2, 1):
        with pytest.raises(ValueError, match=f"got {epoch} after epoch 2"):
            spline.update_codes(codes, epoch)
    assert spline.epochs == [1, 2]  # the refused calls changed nothing
    masks = MaskEBDetector(ratios=(0.5,))
    masks.update_masks({0.5: np.zeros(4, bool)}, 3)
    with pytest.raises(ValueError, match="got 2 after epoch 3"):
        masks.update_masks({0.5: np.zeros(4, bool)}, 2)
    gammas = GammaRecorder()
    for epoch in (0, 1):
        gammas(_bn_mlp(), epoch)
    with pytest.raises(ValueError, match=r"code_epochs must be increasing.*\[2, 1\]"):
        training_record(0, spline.history, [2, 1], gammas)


# --------------------------------------------------------------------------- ratios and ties:
# ratio 0 prunes nothing, exact counts where ties are broken, a warning where the early-bird
# rule keeps its ties, and no layer loses all its channels
def _bn_net(gammas):
    model = nn.Sequential(
        nn.Linear(2, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 6), nn.BatchNorm1d(6),
        nn.ReLU(), nn.Linear(6, 1),
    ).eval()  # fmt: skip
    with torch.no_grad():
        model[1].weight.copy_(torch.as_tensor(gammas[0]))
        model[4].weight.copy_(torch.as_tensor(gammas[1]))
    return model


def test_ratio_zero_prunes_nothing():
    model = _bn_net([torch.rand(6), torch.rand(6)])
    assert su.criteria.slimming_units(model, 0.0) == {"0": [], "3": []}
    tied = _bn_net([torch.ones(6), torch.ones(6)])  # fresh BatchNorms: every gamma is 1
    assert su.criteria.slimming_units(tied, 0.0) == {"0": [], "3": []}
    scores = {"a": np.ones(6), "b": np.zeros(6)}
    assert su.criteria.select_units(scores, 0.0, scope="global") == {"a": [], "b": []}
    assert su.criteria.select_units(scores, 0.0) == {"a": [], "b": []}


def test_slimming_keeps_the_early_bird_rule_and_warns_about_its_ties():
    from spline_utils.pruning.selection import TiedThresholdWarning

    distinct = _bn_net([torch.arange(1.0, 12.0, 2) / 10, torch.arange(2.0, 13.0, 2) / 10])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # distinct scales: the paper's count, no warning
        pruned = su.criteria.slimming_units(distinct, 0.5)
    assert sum(map(len, pruned.values())) == int(12 * 0.5) + 1
    tied = _bn_net([torch.ones(6), torch.full((6,), 0.5)])
    with pytest.warns(TiedThresholdWarning, match=r"drops 12 of 12 \(100%\), not about 50%"):
        pruned = su.criteria.slimming_units(tied, 0.5)
    assert {k: len(v) for k, v in pruned.items()} == {"0": 5, "3": 5}  # each keeps one
    with pytest.warns(TiedThresholdWarning):
        mask = su.early_bird.bn_channel_mask(tied, 0.5)
    assert not mask.any()  # the paper's detector mask, kept as it is
    from spline_utils.early_bird.replay import gamma_mask, mask_distances

    with pytest.warns(TiedThresholdWarning):
        gamma_mask(np.ones(12), 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the replay reproduces the paper's ties silently
        assert mask_distances([np.ones(12), np.arange(12.0)], 0.5)[0, 1] == pytest.approx(5 / 12)


def test_tied_scores_are_broken_so_the_count_is_exact():
    scores = {"a": np.ones(6), "b": np.ones(6)}
    assert su.criteria.select_units(scores, 0.5, scope="global") == {
        "a": [1, 2, 3],
        "b": [1, 2, 3],
    }  # 6 of 12, not 10
    assert su.criteria.select_units(scores, 0.5) == {"a": [0, 1, 2], "b": [0, 1, 2]}
    for ratio in (0.25, 0.5, 0.75, 0.9):
        for scope in ("layerwise", "global"):
            pruned = su.criteria.select_units({"a": np.ones(4), "b": np.ones(8)}, ratio, scope)
            assert all(len(pruned[k]) < n for k, n in (("a", 4), ("b", 8)))  # one unit kept
            if scope == "global":
                assert sum(map(len, pruned.values())) == min(round(ratio * 12), 10)
    zero = {"a": np.array([0.0, 0.0, 0.0, 1.0]), "b": np.zeros(4)}  # b: all zero, all tied
    pruned = su.criteria.select_units(zero, 0.5, scope="global")
    assert sum(map(len, pruned.values())) == 4 and len(pruned["b"]) <= 3


# --------------------------------------------------------------------------- the support check:
# a compiled model, and a forward that mixes the inputs of a batch
class _MixesTheBatch(nn.Module):
    def __init__(self, how):
        super().__init__()
        torch.manual_seed(0)
        self.a, self.relu, self.b, self.how = nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 2), how

    def forward(self, x):
        h = self.a(x)
        if self.how == "mean":
            h = h - h.mean(0)
        elif self.how == "mean-all":
            h = h - torch.mean(h)
        elif self.how == "cat":
            h = torch.cat([h, h])
        elif self.how == "first-row":
            h = h - h[:1]
        elif self.how == "own-mean":  # per input: allowed
            h = h - h.mean(1, keepdim=True)
        return self.b(self.relu(h))


def test_a_compiled_model_is_refused_naming_the_original_module():
    compiled = torch.compile(_MixesTheBatch("own-mean"))
    with pytest.raises(ValueError, match=r"torch.compile'd _MixesTheBatch.*model._orig_mod"):
        su.check_supported(compiled)
    with pytest.raises(ValueError, match="torch.compile'd"):
        su.activation_codes(compiled, torch.randn(3, 2))
    su.check_supported(compiled._orig_mod)  # the original module passes
    hidden = torch.compile(_Custom(lambda m, h, x: h * h))
    with pytest.raises(ValueError, match="multiplies two tensors"):
        su.check_supported(hidden._orig_mod)  # what compiling hid from the trace


@pytest.mark.parametrize(
    "how, message",
    [
        ("mean", r"averages over the batch dimension \(dim 0\)"),
        ("mean-all", "averages over every entry, the batch dimension included"),
        ("cat", r"concatenates along the batch dimension \(dim 0\)"),
    ],
)
def test_operations_over_the_batch_are_refused_by_the_trace(how, message):
    with pytest.raises(ValueError, match=message):
        su.check_supported(_MixesTheBatch(how))


@pytest.mark.parametrize(
    "call",
    [
        lambda m, x: su.activation_codes(m, x),
        lambda m, x: su.packed_codes(m, x),
        lambda m, x: su.region_affine_map(m, x),
        lambda m, x: su.grid_partition(m, (-1, 1, -1, 1), 5),
        lambda m, x: su.exact_partition(m, (-1, 1, -1, 1)),
        lambda m, x: su.activation_codes(m, x[:1]),  # one input: compared with shifted copies
    ],
)
def test_a_forward_that_mixes_the_batch_is_refused_where_inputs_are_given(call):
    model, x = _MixesTheBatch("first-row"), torch.randn(6, 2)
    su.check_supported(model)  # the trace cannot see it: x[:1] is an ordinary index
    with pytest.raises(ValueError, match="mixes the inputs of a batch"):
        call(model, x)


def test_a_forward_that_treats_inputs_alone_still_passes():
    model, x = _MixesTheBatch("own-mean"), torch.randn(6, 2)
    codes = su.activation_codes(model, x)
    alone = [su.activation_codes(model, x[i : i + 1])[0].values for i in range(6)]
    assert torch.equal(codes[0].values, torch.cat(alone))
    part = su.exact_partition(model, (-2, 2, -2, 2))
    part.check(model)


# --------------------------------------------------------------------------- codes: windows of
# more than 256 positions, and models without a code layer
def test_window_positions_beyond_255_are_kept_exactly():
    model = nn.Sequential(nn.MaxPool2d((1, 257)), nn.Flatten(), nn.Linear(1, 1)).double()
    x = torch.randn(3, 1, 1, 257, dtype=torch.float64)
    x[0, 0, 0, 256], x[1, 0, 0, 255] = 100.0, 100.0  # the last positions win
    codes = su.activation_codes(model, x)
    assert codes[0].values.flatten().tolist()[:2] == [256, 255]
    packed = su.packed_codes(model, x)
    bits = su.unpack_bits(torch.as_tensor(packed.data[0]), packed.n_bits[0]).long()
    assert (bits * 2 ** torch.arange(8, -1, -1)).sum(1).tolist() == codes[
        0
    ].values.flatten().tolist()
    plane = su.PlaneSlice.through(x[:1])
    part = su.exact_partition(model, (-1, 1, -1, 1), slice=plane)
    assert part.codes[0].max() == 256 and part.code_bits() == [9]


@pytest.mark.parametrize(
    "call",
    [lambda m, x: su.activation_codes(m, x), lambda m, x: su.packed_codes(m, x)],
)
def test_a_model_without_code_layers_has_no_codes(call):
    with pytest.raises(ValueError, match="model Sequential has no code layer"):
        call(nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1)), torch.randn(4, 2))
    with pytest.raises(ValueError, match=r"no code layer of the kinds \('maxpool',\)"):
        su.packed_codes(_mlp(), torch.randn(4, 2), kinds=("maxpool",))


# --------------------------------------------------------------------------- the command line
# and the results loaders: one line naming the flag or the file, nothing written by a refusal
def _run_cli(args, capsys):
    """``main(args)``: (exit status, stderr lines); argparse's own exits included."""
    from spline_utils.experiments.cli import main

    try:
        status = main(args)
    except SystemExit as exc:
        status = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    return status, err


def _files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_command_line_errors_are_one_line_and_leave_nothing(tmp_path, capsys):
    run = ["run", "--mode", "quick", "--dense-only"]
    (tmp_path / "a-file").write_text("")
    tag = "digits32-vgg16-w0.125-seed0"
    truncated = tmp_path / "truncated" / tag / "experiment.json"
    truncated.parent.mkdir(parents=True)
    truncated.write_text('{"seed": 0, "arch"')
    listed = tmp_path / "listed" / tag / "experiment.json"
    listed.parent.mkdir(parents=True)
    listed.write_text("[1, 2]")
    before = _files(tmp_path)
    cases = [
        ([*run, "--threads", "-1", "--out", str(tmp_path / "x")], "--threads must be"),
        ([*run, "--threads", "0", "--out", str(tmp_path / "x")], "--threads must be"),
        ([*run, "--out", str(tmp_path / "a-file")], "a-file is a file"),
        ([*run, "--out", str(tmp_path / "a-file" / "deeper")], "a-file is a file"),
        ([*run, "--ratios", "0.5", "0.5", "--out", str(tmp_path / "x")], "--ratios: ratios must"),
        ([*run, "--ratios", "0.5", "0.501", "--out", str(tmp_path / "x")], "distinct to the"),
        ([*run, "--out", str(tmp_path / "truncated")], "experiment.json is not valid JSON"),
        ([*run, "--out", str(tmp_path / "listed")], "experiment.json must hold a JSON object"),
    ]
    for args, message in cases:
        status, err = _run_cli(args, capsys)
        assert status != 0 and len(err) == 1 and message in err[0], (args, err)
        assert "Traceback" not in err[0]
        assert _files(tmp_path) == before, args  # nothing written


def _result(**fields):
    record = {
        "schema": "spline-pruning-book/run-result/v1",
        "run": "dense",
        "protocol": "dense",
        "dataset": "digits32",
        "arch": "vgg16",
        "seed": 0,
        "smoke": True,
        "metrics": {"test_acc": 0.5},
        "history": [],
        "provenance": {"device": "cpu", "date": "2026-01-01"},
    }
    record.update(fields)
    return {k: v for k, v in record.items() if v is not None}


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"schema": "spline-pruning-book/run-result/v1", "run"', "is not valid JSON"),
        ("[1, 2, 3]", "must hold a JSON object, got a JSON list"),
        (json.dumps(_result(metrics=None)), "has no metrics: it is incomplete"),
        (json.dumps(_result(metrics=[1])), "metrics must be a JSON object"),
        (json.dumps(_result(provenance={"device": "cpu"})), "its provenance has no date"),
    ],
)
def test_bad_results_files_are_named(tmp_path, capsys, text, message):
    from spline_utils.experiments.results_files import load_records, load_results, read_record

    path = tmp_path / "run" / "dense.json"
    path.parent.mkdir()
    path.write_text(text)
    for load in (load_results, load_records, read_record):  # read_record: a run read back
        with pytest.raises(ValueError, match=message) as info:
            load(path if load is read_record else tmp_path)
        assert str(path) in str(info.value)
    status, err = _run_cli(["table", str(tmp_path)], capsys)
    assert status == 1 and len(err) == 1 and str(path) in err[0] and message.split()[0] in err[0]


def test_results_loaders_agree_on_a_missing_folder(tmp_path):
    from spline_utils.experiments.results_files import load_records, load_results

    for load in (load_results, load_records):
        with pytest.raises(FileNotFoundError, match=f"no results folder {tmp_path / 'none'}"):
            load(tmp_path / "none")
    (tmp_path / "other.json").write_text('{"schema": "something else"}')  # skipped
    with pytest.raises(ValueError, match="other.json is not a run's results file"):
        results_files.read_record(tmp_path / "other.json")
    (tmp_path / "dense.json").write_text(json.dumps(_result()))
    assert len(load_results(tmp_path)) == len(load_records(tmp_path)) == 1
    (tmp_path / "empty").mkdir()
    assert load_results(tmp_path / "empty").empty and load_records(tmp_path / "empty") == []
