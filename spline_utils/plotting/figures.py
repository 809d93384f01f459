"""Figures of partitions: regions, each layer's splines, and the decision boundary.

Style of the paper's Fig. 1a: the splines a layer adds are drawn dark over the splines of
earlier layers in grey, the decision boundary in vermillion; regions are tinted. Colours come
from the Okabe-Ito palette, which stays distinguishable under the common colour-vision
deficiencies. Every title names the method that produced the partition.

This module holds the figures that take either kind of partition (:func:`plot_layer_by_layer`)
or compute one (:func:`plot_slice`). The rest are in their own modules, and importable from here
too: :mod:`~spline_utils.plotting.grid_figures` (grid partitions),
:mod:`~spline_utils.plotting.exact_figures` (exact polygons),
:mod:`~spline_utils.plotting.results_figures` (pruning results, code distances) and
:mod:`~spline_utils.plotting.style` (palettes, region colours, the class legend).
"""

from __future__ import annotations

import matplotlib.pyplot as plt

from ..checks import check_choice
from ..partition.exact import ExactPartition, exact_partition
from ..partition.grid import GridPartition, grid_partition
from .exact_figures import plot_exact, region_values  # noqa: F401  (region_values re-exported)
from .grid_figures import (
    draw_decision_boundary,  # noqa: F401  (re-exported)
    draw_layer_splines,  # noqa: F401  (re-exported)
    plot_decision,
    plot_partition,
)
from .results_figures import plot_code_distances, plot_pruning_results  # noqa: F401  (re-exported)
from .style import (
    CLASS_COLORS,  # noqa: F401  (re-exported)
    DECISION_COLOR,  # noqa: F401  (re-exported)
    EARLIER_COLOR,
    FIG3_LAYER_COLORS,  # noqa: F401  (re-exported)
    NEW_COLOR,  # noqa: F401  (re-exported)
    OKABE_ITO,  # noqa: F401  (re-exported)
    check_part,
    class_legend,  # noqa: F401  (re-exported)
    region_colormap,  # noqa: F401  (re-exported)
)


def plot_layer_by_layer(part, panel_size: float = 3.2, suptitle: str | None = None):
    """One panel per code layer: the partition after layers 1..l, newest splines dark over
    earlier ones in grey; a last panel shows the predicted classes and the decision boundary, the
    output layer's spline (the paper's Fig. 1a). Takes an
    :class:`~spline_utils.partition.exact.ExactPartition` or a
    :class:`~spline_utils.partition.grid.GridPartition`. Returns the figure."""
    check_part(part, (ExactPartition, GridPartition))
    exact = isinstance(part, ExactPartition)
    n = len(part.codes) if exact else part.n_layers
    fig, axes = plt.subplots(
        1, n + 1, figsize=(panel_size * (n + 1), panel_size + 0.4), squeeze=False
    )
    for layer in range(n):
        count = part.region_counts()[layer] if exact else part.n_regions(layer + 1)
        title = f"after layer {layer + 1}: {count} regions"
        if exact:
            plot_exact(part, axes[0, layer], upto=layer + 1, show_decision=False, title=title)
        else:
            plot_partition(part, axes[0, layer], upto=layer + 1, show_decision=False, title=title)
    if exact:
        plot_exact(
            part,
            axes[0, n],
            color_by="class",
            layer_colors=[EARLIER_COLOR],
            title="output layer: decision boundary",
        )
    else:
        plot_decision(part, axes[0, n], title="output layer: decision boundary")
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def plot_slice(
    model, domain, slice=None, method: str = "exact", resolution: int = 300, ax=None, **kwargs
):
    """Partition of ``model`` over ``domain`` drawn with one call: ``method="exact"`` (polygons,
    :func:`~spline_utils.plotting.exact_figures.plot_exact`) or ``method="grid"`` (a preview for
    large slices, :func:`~spline_utils.plotting.grid_figures.plot_partition`).
    Extra keyword arguments go to the plotting function. Returns (partition, axes)."""
    check_choice("method", method, ("exact", "grid"))
    if method == "exact":
        part = exact_partition(model, domain, slice=slice)
        return part, plot_exact(part, ax, **kwargs)
    if method == "grid":
        part = grid_partition(model, domain, resolution, slice=slice)
        return part, plot_partition(part, ax, **kwargs)
    raise ValueError(f"method must be 'exact' or 'grid', got {method!r}")
