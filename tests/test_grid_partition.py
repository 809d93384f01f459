import numpy as np
import pytest
import torch
from torch import nn

import spline_utils as su


def lines_network(normals, offsets, out_weights=None):
    """2 -> k -> 1 ReLU network whose k first-layer splines are the given lines n.x + c = 0."""
    k = len(normals)
    first = nn.Linear(2, k).double()
    last = nn.Linear(k, 1).double()
    with torch.no_grad():
        first.weight.copy_(torch.tensor(normals, dtype=torch.float64))
        first.bias.copy_(torch.tensor(offsets, dtype=torch.float64))
        last.weight.copy_(torch.tensor([out_weights or [1.0] * k], dtype=torch.float64))
        last.bias.fill_(-0.3)
    return nn.Sequential(first, nn.ReLU(), last)


def test_region_count_of_a_known_line_arrangement():
    # x = 0 and y = 0: 4 regions; adding x + y = 0.5 (general position) gives 1 + 3 + 3 = 7
    model = lines_network([[1, 0], [0, 1]], [0.0, 0.0])
    assert su.grid_partition(model, (-1, 1, -1, 1), 101).n_regions() == 4
    model = lines_network([[1, 0], [0, 1], [1, 1]], [0.0, 0.0, -0.5])
    part = su.grid_partition(model, (-1, 1, -1, 1), 301)
    assert part.n_regions() == 7
    assert part.region_counts() == [7]


def test_grid_finds_a_lower_bound_only():
    # three lines meeting almost at one point leave a tiny triangle that a coarse grid misses
    model = lines_network([[1, 0], [0, 1], [1, 1]], [0.0, 0.0, -1e-2])
    assert su.grid_partition(model, (-1, 1, -1, 1), 40).n_regions() == 6
    assert su.grid_partition(model, (-1, 1, -1, 1), 2001, batch_size=1 << 16).n_regions() == 7


def test_region_ids_refine_layer_by_layer():
    model = su.make_mlp([2, 8, 8, 8, 1])
    part = su.grid_partition(model, (-2, 2, -2, 2), 120)
    counts = part.region_counts()
    assert counts == sorted(counts) and counts[0] > 1
    coarse, fine = part.region_ids(1), part.region_ids(3)
    # every fine region lies inside exactly one coarse region
    pairs = np.unique(np.stack([fine.ravel(), coarse.ravel()]), axis=1)
    assert len(np.unique(pairs[0])) == pairs.shape[1]


def test_spline_mask_marks_sign_changes_of_the_preactivation():
    model = lines_network([[1, 0]], [-0.25])  # spline x = 0.25
    part = su.grid_partition(model, (-1, 1, -1, 1), 81)
    cols = np.nonzero(part.spline_mask(0).any(0))[0]
    assert np.allclose(part.u[cols], 0.25, atol=part.u[1] - part.u[0])


def test_decision_fields_match_argmax_changes_for_three_classes():
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 3))
    part = su.grid_partition(model, (-3, 3, -3, 3), 150)
    cls = part.predicted_class()
    changes = np.zeros_like(cls, dtype=bool)
    changes[:, :-1] |= cls[:, :-1] != cls[:, 1:]
    fields = np.stack(part.decision_fields())  # (3, H, W)
    sign_flip = np.zeros_like(changes)
    sign_flip[:, :-1] |= ((fields[:, :, :-1] > 0) != (fields[:, :, 1:] > 0)).any(0)
    assert np.array_equal(changes, sign_flip)
    assert np.array_equal((fields > 0).argmax(0), cls)


def test_slice_partition_of_a_convnet(convnet):
    plane = su.PlaneSlice.through(torch.randn(2, 1, 8, 8))
    part = su.grid_partition(convnet, (-1, 1, -1, 1), 40, slice=plane)
    assert part.outputs.shape == (40, 40, 4)
    assert part.preactivations[0].shape == (40, 40, 5 * 4 * 4)
    assert part.preactivations[2] is None  # max-pooling layer
    assert part.method == "grid sampling, 40x40 points"
    crossing = part.crossing_units(0)
    pre = part.preactivations[0][..., crossing]
    assert ((pre > 0).any((0, 1)) & (pre < 0).any((0, 1))).all()
    with pytest.raises(ValueError, match="max-pooling layer"):
        part.crossing_units(2)


@pytest.mark.parametrize(
    "domain, message",
    [
        ((0, 1, 0), "2-D box"),
        ((1, 0, 0, 1), "empty"),
        ((0, 1, 0, np.inf), "not finite"),
        (3, "must be"),
    ],
)
def test_bad_domains(domain, message):
    with pytest.raises(ValueError, match=message):
        su.grid_partition(su.make_mlp([2, 3, 1]), domain, 10)


def test_model_without_2d_inputs_needs_a_slice():
    with pytest.raises(ValueError, match=r"2-D inputs of shape \(N, 2\)"):
        su.grid_partition(su.make_mlp([3, 3, 1]), (0, 1, 0, 1), 10)
    plane = su.PlaneSlice.through(torch.randn(2, 5))
    with pytest.raises(ValueError, match="slice's input shape"):
        su.grid_partition(su.make_mlp([3, 3, 1]), (0, 1, 0, 1), 10, slice=plane)


def test_plot_names_the_method():
    import matplotlib

    matplotlib.use("Agg")
    part = su.grid_partition(su.make_mlp([2, 6, 6, 1]), (-2, 2, -2, 2), 60)
    ax = su.plot_partition(part)
    assert "grid sampling, 60x60 points" in ax.get_title()
    fig = su.plot_layer_by_layer(part)
    assert len(fig.axes) == 3
    assert "decision boundary" in su.plotting.plot_decision(part).get_title()


def test_explorer_figure_and_widget():
    import matplotlib

    matplotlib.use("Agg")
    from spline_utils.plotting.explorer import explorer_figure, partition_explorer

    ax = explorer_figure(width=4, depth=2, layer=2, resolution=40)
    assert "layers 1-2" in ax.get_title() and "exact polygons" in ax.get_title()
    ax = explorer_figure(width=4, depth=2, layer=1, method="grid", resolution=40)
    assert "grid sampling" in ax.get_title()
    with pytest.raises(ValueError, match="layer must be in"):
        explorer_figure(width=4, depth=2, layer=3)
    widget = partition_explorer()
    depth = widget.children[1]
    depth.value = 2
    assert widget.children[2].max == 2
