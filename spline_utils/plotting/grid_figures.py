"""Figures of grid partitions (:class:`~spline_utils.partition.grid.GridPartition`).

Each layer's splines are drawn as the zero level sets of its units' pre-activations sampled on
the grid (max-pooling layers: the grid-cell edges where the argmax changes); regions and
predicted classes are tinted, the decision boundary is drawn in vermillion. Titles name the
method that produced the partition.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.colors import ListedColormap

from ..checks import check_int
from ..partition.grid import GridPartition
from .style import (
    CLASS_COLORS,
    DECISION_COLOR,
    EARLIER_COLOR,
    NEW_COLOR,
    check_part,
    class_legend,
    finish_axes,
    region_colormap,
)


def _staircase_segments(part: GridPartition, layer: int) -> np.ndarray:
    """Segments (S, 2, 2) along grid-cell edges where the layer's code changes."""
    code = part.layer_code_grid(layer)
    u, v = part.u, part.v
    du, dv = (u[1] - u[0]) / 2, (v[1] - v[0]) / 2
    segments = []
    ii, jj = np.nonzero((code[:, :-1] != code[:, 1:]).any(-1))
    um = (u[jj] + u[jj + 1]) / 2
    segments.append(np.stack([np.stack([um, v[ii] - dv], 1), np.stack([um, v[ii] + dv], 1)], 1))
    ii, jj = np.nonzero((code[:-1, :] != code[1:, :]).any(-1))
    vm = (v[ii] + v[ii + 1]) / 2
    segments.append(np.stack([np.stack([u[jj] - du, vm], 1), np.stack([u[jj] + du, vm], 1)], 1))
    return np.concatenate(segments)


def draw_layer_splines(
    ax, part: GridPartition, layer: int, color: str, linewidth: float = 1.0
) -> int:
    """Draw the splines of one layer; returns how many units have a spline in the domain.

    ReLU-type layers: the zero level set of each unit's pre-activation (linear interpolation
    between grid points). Max-pooling layers: the grid-cell edges where the argmax changes.
    """
    check_part(part, GridPartition)
    layer = check_int("layer", layer, 0, part.n_layers - 1)
    pre = part.preactivations[layer]
    if pre is None:
        ax.add_collection(
            LineCollection(_staircase_segments(part, layer), colors=color, linewidths=linewidth)
        )
        return int(part.spline_mask(layer).any())
    crossing = part.crossing_units(layer)
    for k in crossing:
        ax.contour(part.u, part.v, pre[..., k], levels=[0.0], colors=[color], linewidths=linewidth)
    return len(crossing)


def draw_decision_boundary(ax, part: GridPartition, linewidth: float = 2.0) -> None:
    """Draw the decision boundary (argmax changes, or the zero set of a single output)."""
    for values in part.decision_fields():
        if values.min() < 0 < values.max():
            ax.contour(
                part.u, part.v, values, levels=[0.0], colors=[DECISION_COLOR], linewidths=linewidth
            )


def plot_partition(
    part: GridPartition,
    ax=None,
    upto: int | None = None,
    layer_colors=None,
    show_regions: bool = True,
    show_decision: bool = True,
    title: str | None = None,
    show_anchors: bool = True,
):
    """Draw the partition built by layers ``[0, upto)`` (all by default).

    Without ``layer_colors`` the newest layer's splines are dark and earlier ones grey (Fig. 1a
    style); with it, layer ``l`` is drawn in ``layer_colors[l]`` (Fig. 3 style; ``None`` leaves a
    layer out). Regions of that
    partition are tinted; the decision boundary is vermillion; slice anchors are marked.
    Returns the axes.
    """
    check_part(part, GridPartition)
    upto = part.n_layers if upto is None else check_int("upto", upto)
    if not 0 <= upto <= part.n_layers:
        raise ValueError(f"upto must be in [0, {part.n_layers}], got {upto}")
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.5))
    if show_regions:
        ids = part.region_ids(upto)
        ax.imshow(
            ids,
            origin="lower",
            extent=part.extent,
            cmap=region_colormap(ids.max() + 1),
            interpolation="nearest",
            aspect="auto",
            vmin=-0.5,
            vmax=ids.max() + 0.5,
        )
    for layer in range(upto):
        if layer_colors is not None:
            color, width = layer_colors[layer % len(layer_colors)], 1.0
            if color is None:  # layer left out of the figure
                continue
        else:
            color, width = (NEW_COLOR, 1.2) if layer == upto - 1 else (EARLIER_COLOR, 0.8)
        draw_layer_splines(ax, part, layer, color, width)
    if show_decision:
        draw_decision_boundary(ax, part)
    heading = (
        title if title is not None else f"layers 1-{upto}: {part.n_regions(upto)} regions found"
    )
    finish_axes(ax, part, part.extent, heading, show_anchors)
    return ax


def plot_decision(
    part: GridPartition,
    ax=None,
    title: str | None = None,
    show_splines: bool = True,
    class_names=None,
    show_anchors: bool = True,
):
    """Predicted classes tinted (with a legend), every spline in grey (``show_splines``), the
    decision boundary in vermillion, slice anchors as stars. Returns the axes."""
    check_part(part, GridPartition)
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.5))
    classes = part.predicted_class()
    n_classes = max(2, part.outputs.shape[-1])
    colors = [CLASS_COLORS[c % len(CLASS_COLORS)] for c in range(n_classes)]
    ax.imshow(
        classes,
        origin="lower",
        extent=part.extent,
        cmap=ListedColormap(colors),
        alpha=0.35,
        interpolation="nearest",
        aspect="auto",
        vmin=-0.5,
        vmax=n_classes - 0.5,
    )
    if show_splines:
        for layer in range(part.n_layers):
            draw_layer_splines(ax, part, layer, EARLIER_COLOR, 0.6)
    draw_decision_boundary(ax, part)
    if class_names is not None or part.outputs.shape[-1] > 2:
        class_legend(ax, np.unique(classes), class_names)
    finish_axes(ax, part, part.extent, title or "decision boundary (vermillion)", show_anchors)
    return ax
