import importlib

import numpy as np
import pytest
import torch
from torch import nn

import spline_utils as su
from spline_utils.partition.exact import ExactPartition
from spline_utils.partition.exact.engine import _EngineOptions

from .conftest import random_bn_
from .test_grid_partition import lines_network


@pytest.mark.parametrize(
    "widths, seed", [([2, 6, 6, 1], 0), ([2, 16, 16, 16, 1], 1), ([2, 12, 12, 3], 2)]
)
def test_random_mlps_pass_every_check(widths, seed):
    model = su.he_init_(
        su.make_mlp(widths), bias_std=0.5, generator=torch.Generator().manual_seed(seed)
    )
    part = su.exact_partition(model, (-2, 2, -2, 2))
    report = part.check(model)
    assert report["area_error"] <= 1e-9 and report["max_map_error"] <= 1e-8
    assert part.check_decision_boundary(model, resolution=200) >= 0.0
    grid = su.grid_partition(model, (-2, 2, -2, 2), 300, keep_preactivations=False)
    assert 0 < part.grid_coverage(grid) <= 1.0
    assert part.n_regions >= grid.n_regions()


def test_known_arrangement_and_the_tiny_region_a_grid_misses():
    # three lines, two through the origin and x + y = 0.01: 7 regions in [-1, 1]^2, one a triangle
    # of area 5e-5 that a 40 x 40 grid cannot see
    model = lines_network([[1, 0], [0, 1], [1, 1]], [0.0, 0.0, -1e-2])
    part = su.exact_partition(model, (-1, 1, -1, 1))
    assert part.n_regions == 7 and part.region_counts() == [7]
    assert part.spline_units(0).tolist() == [0, 1, 2]
    assert part.areas.min() == pytest.approx(0.5 * 1e-2 * 1e-2, rel=1e-9)
    assert su.grid_partition(model, (-1, 1, -1, 1), 40).n_regions() == 6
    # the splines, each edge once: x = 0 and y = 0 across the square (length 2 each) and the line
    # x + y = 0.01 from (-0.99, 1) to (1, -0.99)
    segs = part.layer_segments(0)
    total = np.linalg.norm(segs[:, 1] - segs[:, 0], axis=1).sum()
    assert total == pytest.approx(4 + 1.99 * np.sqrt(2), rel=1e-12)


def test_edges_carry_their_provenance():
    model = lines_network([[1, 0], [0, 1]], [-0.25, 0.5])  # x = 0.25 (unit 0), y = -0.5 (unit 1)
    part = su.exact_partition(model, (-1, 1, -1, 1))
    for poly, labels in zip(part.polygons, part.edge_labels):
        for j, label in enumerate(labels):
            a, b = poly[j], poly[(j + 1) % len(poly)]
            source = ExactPartition.edge_source(label)
            if source is None:
                assert np.isclose(np.abs(np.stack([a, b])).max(), 1.0)
            elif source == (0, 0):
                assert np.allclose([a[0], b[0]], 0.25)
            else:
                assert source == (0, 1) and np.allclose([a[1], b[1]], -0.5)


def test_convnet_with_maxpool_and_a_residual_block_on_slices(convnet, resnet):
    for model in (convnet, resnet):
        plane = su.PlaneSlice.through(
            torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(3))
        )
        part = su.exact_partition(model, (-1.5, 1.5, -1.5, 1.5), slice=plane)
        assert "maxpool" in part.layer_kinds
        part.check(model)
        grid = su.grid_partition(
            model, (-1.5, 1.5, -1.5, 1.5), 150, slice=plane, keep_preactivations=False
        )
        assert 0 < part.grid_coverage(grid) <= 1.0


def test_trained_digits_convnet_decision_boundary():
    x_tr, y_tr, x_te, y_te = su.digits_tensors()
    net = su.digits_convnet(channels=(4, 8))
    su.train_classifier(net, x_tr, y_tr, epochs=10, lr=0.05, progress=False)
    plane = su.PlaneSlice.through([x_te[y_te == 6][0], x_te[y_te == 9][0]])
    a = plane.anchors.numpy()
    centre = a.mean(0)
    part = su.exact_partition(
        net, (centre[0] - 0.4, centre[0] + 0.4, centre[1] - 0.4, centre[1] + 0.4), slice=plane
    )
    part.check(net)
    part.check_decision_boundary(net, resolution=200)


def test_multiclass_boundary_is_kept_only_where_the_pair_is_on_top():
    # three classes with slopes at 0, 120 and 240 degrees, tied at the origin: the boundary is
    # three rays from the origin (not the three full lines where pairs tie)
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 3)).double()
    rows = torch.tensor(
        [[1.0, 0.0], [-0.5, 3**0.5 / 2], [-0.5, -(3**0.5) / 2]], dtype=torch.float64
    )
    with torch.no_grad():
        model[0].weight.copy_(torch.eye(2))
        model[0].bias.fill_(10.0)  # the ReLUs stay active on the domain: the model is affine there
        model[2].weight.copy_(rows)
        model[2].bias.copy_(-rows @ torch.full((2,), 10.0, dtype=torch.float64))
    part = su.exact_partition(model, (-1, 1, -1, 1))
    assert part.n_regions == 1
    segs = part.decision_segments()
    lengths = np.linalg.norm(segs[:, 1] - segs[:, 0], axis=1)
    assert len(segs) == 3 and np.allclose(np.abs(segs).min(axis=(1, 2)), 0.0, atol=1e-12)
    assert 3.0 <= lengths.sum() <= 3 * np.sqrt(2)
    part.check_decision_boundary(model, resolution=250)


def test_local_complexity_exact_vs_sampled():
    # five parallel lines x + y = c, |c| <= 0.05, at distances |c| / sqrt(2) from the origin
    offsets = np.linspace(-0.05, 0.05, 5)
    model = lines_network([[1.0, 1.0]] * 5, list(-offsets))
    part = su.exact_partition(model, (-1, 1, -1, 1))
    regions, splines = part.local_complexity([0.0, 0.0], 0.2)
    assert (regions, splines) == (6, 5)
    assert su.sampled_local_complexity(model, [0.0, 0.0], 0.2) == 5
    # radius 0.02: three lines meet the disc, but the diamond's vertices straddle only one
    assert part.local_complexity([0.0, 0.0], 0.02) == (4, 3)
    assert su.sampled_local_complexity(model, [0.0, 0.0], 0.02) == 1


def test_plots_name_the_method():
    import matplotlib

    matplotlib.use("Agg")
    model = su.make_mlp([2, 5, 5, 1])
    part, ax = su.plot_slice(model, (-1, 1, -1, 1))
    assert "exact polygons" in ax.get_title()
    for color_by in ("class", "slope", "output"):
        assert "exact polygons" in su.plot_exact(part, color_by=color_by).get_title()
    _, ax = su.plot_slice(model, (-1, 1, -1, 1), method="grid", resolution=50)
    assert "grid sampling, 50x50 points" in ax.get_title()
    with pytest.raises(ValueError, match="method"):
        su.plot_slice(model, (-1, 1, -1, 1), method="mesh")
    with pytest.raises(ValueError, match="color_by"):
        su.plot_exact(part, color_by="depth")


@pytest.mark.parametrize(
    "domain, message",
    [
        ([[0, 0], [1, 0], [0.2, 0.2], [0, 1]], "not convex"),
        ([[0, 0], [1, 1], [2, 2]], "degenerate"),
        ((0, 1, 0), "box domain"),
        ((1, 0, 0, 1), "empty"),
        ([[0, 0], [1, 0]], r"\(M >= 3, 2\)"),
    ],
)
def test_bad_domains(domain, message):
    with pytest.raises(ValueError, match=message):
        su.exact_partition(su.make_mlp([2, 3, 1]), domain)


def test_bad_models_and_slices():
    with pytest.raises(ValueError, match="2-D inputs"):
        su.exact_partition(su.make_mlp([3, 3, 1]), (0, 1, 0, 1))
    with pytest.raises(ValueError, match="slice's input shape"):
        su.exact_partition(
            su.make_mlp([3, 3, 1]), (0, 1, 0, 1), slice=su.PlaneSlice.through(torch.randn(2, 5))
        )
    with pytest.raises(ValueError, match="empty"):
        su.exact_partition(nn.Sequential(), (0, 1, 0, 1))
    with pytest.raises(ValueError, match="not piecewise affine"):
        su.exact_partition(nn.Sequential(nn.Linear(2, 2), nn.Tanh()), (0, 1, 0, 1))
    with pytest.raises(ValueError, match="PlaneSlice"):
        su.exact_partition(su.make_mlp([2, 3, 1]), (0, 1, 0, 1), slice="uv")


def test_region_budget_stops_with_a_clear_message():
    model = su.he_init_(
        su.make_mlp([2, 32, 32, 1]), bias_std=0.5, generator=torch.Generator().manual_seed(0)
    )
    with pytest.raises(RuntimeError, match="max_regions=50"):
        su.exact_partition(model, (-2, 2, -2, 2), max_regions=50)


def test_layer_by_layer_figure_counts_match_the_codes():
    import matplotlib

    matplotlib.use("Agg")
    model = su.he_init_(
        su.make_mlp([2, 6, 6, 1]), bias_std=0.5, generator=torch.Generator().manual_seed(0)
    )
    part = su.exact_partition(model, (-2, 2, -2, 2))
    fig = su.plot_layer_by_layer(part)
    assert len(fig.axes) == 3
    layer1 = len({r.tobytes() for r in part.code_rows(1)})
    assert f"after layer 1: {layer1} regions" in fig.axes[0].get_title()
    assert f"after layer 2: {part.n_regions} regions" in fig.axes[1].get_title()
    assert 1 < layer1 <= 1 + 6 + 15  # at most 1 + k + k(k-1)/2 regions for k = 6 lines


def test_grid_coverage_detects_a_foreign_code():
    model = lines_network([[1, 0], [0, 1]], [0.0, 0.0])
    part = su.exact_partition(model, (-1, 1, -1, 1))
    grid = su.grid_partition(model, (-1, 1, -1, 1), 21)
    assert part.grid_coverage(grid) == 1.0
    other = su.grid_partition(lines_network([[1, 0], [0, 1]], [0.5, 0.5]), (-1, 1, -1, 1), 21)
    other.codes.data[0][:] = 0b01000000  # a code (0, 1) that the exact partition does have...
    assert part.grid_coverage(other) == 0.25
    other.codes.data[0] = np.full_like(
        other.codes.data[0], 0b11100000
    )  # ...and an impossible width
    with pytest.raises(AssertionError, match="missing from the exact partition"):
        part.grid_coverage(other)


class _Wrapped(nn.Module):
    """The same network behind a custom forward: the engine must use its general (autodiff) path."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x)


@pytest.mark.parametrize("case", ["leaky_mlp", "convnet"])
def test_sequential_fast_path_equals_the_general_path(case, convnet):
    from spline_utils.partition.exact.propagation import sequential_plan

    if case == "leaky_mlp":
        model = su.he_init_(
            su.make_mlp([2, 10, 10, 10, 2], activation="leaky_relu", batch_norm=True),
            bias_std=0.5,
            generator=torch.Generator().manual_seed(4),
        )
        random_bn_(model)
        plane, domain = None, (-2, 2, -2, 2)
    else:
        model = convnet
        plane = su.PlaneSlice.through(
            torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(5))
        )
        domain = (-1, 1, -1, 1)
    model.eval()
    wrapped = _Wrapped(model)
    assert sequential_plan(model) is not None and sequential_plan(wrapped) is None
    fast = su.exact_partition(model, domain, slice=plane)
    general = su.exact_partition(wrapped, domain, slice=plane)
    assert fast.n_regions == general.n_regions > 20
    key = lambda part: np.lexsort(part.code_rows().T)  # noqa: E731  order regions by code
    a, b = key(fast), key(general)
    assert (fast.code_rows()[a] == general.code_rows()[b]).all()
    np.testing.assert_allclose(fast.output_map[a], general.output_map[b], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(
        fast.output_offset[a], general.output_offset[b], rtol=1e-9, atol=1e-9
    )
    fast.check(model)


def test_engine_uses_eval_semantics_and_leaves_the_model_alone():
    """A model left in training mode (BN batch statistics, active dropout) is partitioned as in
    eval mode, on both paths, and neither its mode nor any parameter or buffer changes."""
    torch.manual_seed(6)
    model = nn.Sequential(
        nn.Linear(2, 12),
        nn.BatchNorm1d(12),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(12, 12),
        nn.ReLU(),
        nn.Linear(12, 3),
    )
    random_bn_(model)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    reference = su.exact_partition(model.eval(), (-2, 2, -2, 2))
    model.train()
    for candidate in (model, _Wrapped(model)):
        part = su.exact_partition(candidate, (-2, 2, -2, 2))
        assert part.n_regions == reference.n_regions
        a, b = np.lexsort(part.code_rows().T), np.lexsort(reference.code_rows().T)
        np.testing.assert_allclose(
            part.output_map[a], reference.output_map[b], rtol=1e-12, atol=1e-12
        )
    assert model.training and all(m.training for m in model.modules())
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key
    model.eval()
    reference.check(model)


@pytest.mark.parametrize("widths", [[2, 16, 16, 16, 1], [2, 8, 8, 3]])
def test_sweep_and_rounds_give_the_same_partition(widths):
    """The two ReLU-splitting strategies (unit-by-unit sweep, candidate rounds) must agree
    region for region: counts, areas, codes and edge labels."""
    model = su.he_init_(
        su.make_mlp(widths), bias_std=0.5, generator=torch.Generator().manual_seed(3)
    )
    parts, logs = [], []
    for limit in (0, 10**12):  # rounds only, sweep only
        options = _EngineOptions(sweep_units=limit, sweep_limit=limit, log=[])
        parts.append(su.exact_partition(model, (-2, 2, -2, 2), _options=options))
        logs.append([step for _, step in options.log if step in ("sweep", "rounds")])
    n_layers = len(widths) - 2
    assert logs == [["rounds"] * n_layers, ["sweep"] * n_layers]
    a, b = parts
    assert a.n_regions == b.n_regions > 50
    assert np.allclose(np.sort(a.areas), np.sort(b.areas), rtol=0, atol=1e-12)
    codes = [sorted(map(bytes, np.packbits(np.concatenate(p.codes, 1), axis=1))) for p in parts]
    assert codes[0] == codes[1]
    labels = [np.sort(np.concatenate(p.edge_labels)) for p in parts]
    assert np.array_equal(labels[0], labels[1])
    assert b.check(model)["max_map_error"] < 1e-10


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_flat_map_shortcut_equals_forming_every_input(activation):
    """After flat ReLU / LeakyReLU layers the engine may form the next maps from one product per
    layer-start polygon plus a sparse correction; it must give the same maps as forming every
    region's input, and the network's own outputs."""
    model = su.he_init_(
        su.make_mlp([2, 24, 24, 24, 3], activation=activation, batch_norm=True),
        bias_std=0.5,
        generator=torch.Generator().manual_seed(8),
    )
    random_bn_(model)
    model.eval()
    parts, used = [], []
    for threshold in (0, 1 << 62):  # always, never
        options = _EngineOptions(flat_min=threshold, log=[])
        parts.append(su.exact_partition(model, (-2, 2, -2, 2), _options=options))
        used.append([layer for layer, step in options.log if step == "flat maps"])
    assert used == [[1, 2, 3], []]  # three flat layers feed a segment, in the first run only
    a, b = parts
    assert a.n_regions == b.n_regions > 100
    assert np.array_equal(a.code_rows(), b.code_rows())
    np.testing.assert_allclose(a.output_map, b.output_map, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(a.output_offset, b.output_offset, rtol=1e-10, atol=1e-10)
    assert a.check(model)["max_map_error"] < 1e-9


def test_engine_options_are_checked_and_logged():
    """``_options`` must be an _EngineOptions; its log names the maps and cuts of every layer."""
    model = su.make_mlp([2, 4, 4, 1])
    with pytest.raises(TypeError, match="_options must be an _EngineOptions"):
        su.exact_partition(model, (0, 1, 0, 1), _options={"sweep_units": 0})
    options = _EngineOptions(log=[])
    su.exact_partition(model, (0, 1, 0, 1), _options=options)
    assert options.log == [
        (0, "sequential maps"),
        (0, "sweep"),
        (1, "sequential maps"),
        (1, "sweep"),
        (2, "sequential maps"),
    ]


def test_no_module_of_the_engine_uses_assert_statements():
    """Checks raise explicitly (``python -O`` removes ``assert`` statements), in every module."""
    import inspect
    import pkgutil

    from spline_utils.partition import exact

    names = [m.name for m in pkgutil.iter_modules(exact.__path__)]
    assert {"cuts", "engine", "polygons", "propagation", "result"} <= set(names)
    for name in names:
        module = importlib.import_module(f"spline_utils.partition.exact.{name}")
        assert "assert " not in inspect.getsource(module), name
