"""Figures of exact partitions (:class:`~spline_utils.partition.exact.ExactPartition`).

Regions are drawn as polygons (one ``PolyCollection``) coloured by region, predicted class,
slope or output; each layer's splines and the decision boundary as exact line segments. Titles
name the method ("exact polygons").
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.colors import ListedColormap

from ..checks import check_choice, check_int
from ..partition.exact import ExactPartition
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


def region_values(part: ExactPartition, color_by: str) -> np.ndarray:
    """One value per region for colouring (``color_by="none"`` in :func:`plot_exact` leaves regions
    unfilled): ``"region"`` (index), ``"class"`` (argmax class at the
    region's vertex mean), ``"slope"`` (Frobenius norm of the region's output map, i.e. of
    ``A_omega`` restricted to the slice) or ``"output"`` (first output at the vertex mean)."""
    check_part(part, ExactPartition)
    if color_by == "region":
        return np.arange(part.n_regions)
    means = np.array([p.mean(0) for p in part.polygons])
    outputs = np.einsum("pkd,pd->pk", part.output_map, means) + part.output_offset
    if color_by == "class":
        return (outputs[:, 0] > 0).astype(int) if outputs.shape[1] == 1 else outputs.argmax(1)
    if color_by == "slope":
        return np.linalg.norm(part.output_map.reshape(part.n_regions, -1), axis=1)
    if color_by == "output":
        return outputs[:, 0]
    raise ValueError(f"color_by must be 'region', 'class', 'slope' or 'output', got {color_by!r}")


def plot_exact(
    part: ExactPartition,
    ax=None,
    upto: int | None = None,
    color_by: str = "region",
    layer_colors=None,
    show_decision: bool = True,
    title: str | None = None,
    show_anchors: bool = True,
    class_names=None,
):
    """Draw an exact partition: regions as one PolyCollection coloured by ``color_by`` (see
    :func:`region_values`; ``"region"`` tints the partition of layers ``[0, upto)``), the splines
    of layers ``[0, upto)`` (newest dark over earlier grey, or ``layer_colors``; ``None`` leaves a
    layer out), the exact decision boundary in vermillion.

    Args:
        part: the partition, from :func:`~spline_utils.partition.exact.exact_partition`.
        ax: the matplotlib axes to draw into; ``None`` makes a new 4.5 x 4.5 inch figure.
        upto: draw the splines of layers ``[0, upto)`` (default: every code layer).
        color_by: ``"region"``, ``"class"``, ``"slope"``, ``"output"`` (with a colour bar) or
            ``"none"`` (regions unfilled).
        layer_colors: one colour per layer (cycled), ``None`` entries leaving a layer out;
            default: newest layer dark, earlier ones grey.
        show_decision: draw the exact decision boundary.
        title: the heading; default ``"<n> regions"``. The method ("exact polygons") is
            always added below it.
        show_anchors: mark a slice's anchor points with stars.
        class_names: names of the classes in the legend that ``color_by="class"`` adds
            (default: their indices).

    Returns:
        The axes.

    Raises:
        TypeError: ``part`` is not an :class:`~spline_utils.partition.exact.ExactPartition`.
        ValueError: ``upto`` outside ``[0, layers]`` or an unknown ``color_by``.

    Example:
        >>> net = su.load_network("toy_mlp")
        >>> part = su.exact_partition(net, (-5, 5, -5, 5))
        >>> ax = su.plot_exact(part)  # regions, 2 layers, decision boundary
        >>> len(ax.collections), ax.get_title().splitlines()[-1]
        (4, '(exact polygons)')
        >>> plt.close(ax.figure)
    """
    check_part(part, ExactPartition)
    n_layers = len(part.codes)
    upto = n_layers if upto is None else check_int("upto", upto)
    if not 0 <= upto <= n_layers:
        raise ValueError(f"upto must be in [0, {n_layers}], got {upto}")
    check_choice("color_by", color_by, ("region", "class", "slope", "output", "none"))
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.5))
    if color_by == "none":
        values = None
    elif color_by == "region" and upto < n_layers:  # tint the coarser partition of layers 1..upto
        values = np.unique(part.code_rows(upto), axis=0, return_inverse=True)[1].reshape(-1)
    else:
        values = region_values(part, color_by)
    if values is None:
        cmap = norm = None
    elif color_by in ("region", "class"):
        cmap = (
            region_colormap(int(values.max()) + 1)
            if color_by == "region"
            else ListedColormap(CLASS_COLORS)
        )
        norm = (
            plt.Normalize(-0.5, int(values.max()) + 0.5)
            if color_by == "region"
            else plt.Normalize(-0.5, len(CLASS_COLORS) - 0.5)
        )
    else:
        cmap, norm = plt.get_cmap("viridis" if color_by == "slope" else "cividis"), None
    if values is None:
        regions = PolyCollection(part.polygons, facecolors="none", edgecolors="none")
    else:  # edges in the face colour hide anti-aliasing seams between polygons of one coarse region
        regions = PolyCollection(
            part.polygons,
            array=values,
            cmap=cmap,
            norm=norm,
            edgecolors="face",
            linewidths=0.3,
            alpha=0.8,
        )
    ax.add_collection(regions)
    if color_by in ("slope", "output"):
        plt.colorbar(
            regions,
            ax=ax,
            fraction=0.046,
            pad=0.04,
            label="||A|| on the slice" if color_by == "slope" else "output",
        )
    for layer in range(upto):
        if layer_colors is not None:
            color, width = layer_colors[layer % len(layer_colors)], 0.9
            if color is None:
                continue
        else:
            color, width = (NEW_COLOR, 1.1) if layer == upto - 1 else (EARLIER_COLOR, 0.7)
        ax.add_collection(
            LineCollection(part.layer_segments(layer), colors=color, linewidths=width)
        )
    if show_decision:
        ax.add_collection(
            LineCollection(part.decision_segments(), colors=DECISION_COLOR, linewidths=2.0)
        )
    if color_by == "class":
        class_legend(ax, values, class_names)
    lo, hi = part.domain.min(0), part.domain.max(0)
    heading = title if title is not None else f"{part.n_regions} regions"
    finish_axes(ax, part, (lo[0], hi[0], lo[1], hi[1]), heading, show_anchors)
    return ax
