"""Figures of partitions: regions, each layer's splines, and the decision boundary.

Style of the paper's Fig. 1a: the splines a layer adds are drawn dark over the splines of
earlier layers in grey, the decision boundary in vermillion; regions are tinted. Colours come
from the Okabe-Ito palette, which stays distinguishable under the common colour-vision
deficiencies. Every title names the method that produced the partition.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.colors import ListedColormap

from .._validate import check_choice, check_int
from ..partition.exact import ExactPartition, exact_partition
from ..partition.grid import GridPartition, grid_partition


def _check_part(part, kinds, name: str = "part"):
    if not isinstance(part, kinds):
        names = " or ".join(k.__name__ for k in (kinds if isinstance(kinds, tuple) else (kinds,)))
        raise TypeError(f"{name} must be a {names}, got {type(part).__name__}")
    return part


OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
DECISION_COLOR = OKABE_ITO["vermillion"]
EARLIER_COLOR = "#9a9a9a"
NEW_COLOR = "#1a1a1a"
#: Class colours, Paul Tol's colour-blind-safe "muted" palette (10 distinct colours)
CLASS_COLORS = (
    "#88CCEE",
    "#DDCC77",
    "#117733",
    "#CC6677",
    "#332288",
    "#AA4499",
    "#44AA99",
    "#999933",
    "#882255",
    "#DDDDDD",
)
#: layer colours of the paper's Fig. 3 (blue, green; decision boundary red), colour-blind safe
FIG3_LAYER_COLORS = (
    OKABE_ITO["blue"],
    OKABE_ITO["bluish_green"],
    OKABE_ITO["reddish_purple"],
    OKABE_ITO["orange"],
)


def region_colormap(n_regions: int, seed: int = 0) -> ListedColormap:
    """A light qualitative colormap with ``n_regions`` entries, shuffled so that neighbouring
    region indices rarely share a colour."""
    n_regions = check_int("n_regions", n_regions, 0)
    seed = check_int("seed", seed, 0)
    base = plt.get_cmap("tab20")(np.arange(20))
    base[:, :3] = 0.55 * base[:, :3] + 0.45  # lighten so lines stay readable
    order = np.random.default_rng(seed).permutation(max(n_regions, 1))
    return ListedColormap(base[order % 20])


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
    _check_part(part, GridPartition)
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


def _finish_axes(ax, part, extent, heading: str, show_anchors: bool) -> None:
    """Anchor stars (slices), limits, coordinate labels and a title that names the method."""
    if show_anchors and part.slice is not None:
        anchors = part.slice.anchors.numpy()
        ax.scatter(
            anchors[:, 0],
            anchors[:, 1],
            marker="*",
            s=120,
            c=OKABE_ITO["yellow"],
            edgecolors="k",
            zorder=5,
        )
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_aspect("equal", adjustable="box")  # angles between splines are drawn true
    coord = ("$u$", "$v$") if part.slice is not None else ("$x_1$", "$x_2$")
    ax.set_xlabel(coord[0])
    ax.set_ylabel(coord[1])
    ax.set_title(f"{heading}\n({part.method})", fontsize=9)


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
    _check_part(part, GridPartition)
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
    _finish_axes(ax, part, part.extent, heading, show_anchors)
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
    _check_part(part, GridPartition)
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
    _finish_axes(ax, part, part.extent, title or "decision boundary (vermillion)", show_anchors)
    return ax


def class_legend(ax, classes, class_names=None, loc: str = "upper left") -> None:
    """A legend of the predicted classes present (``classes``: class indices), in the colours
    that :func:`plot_decision` and ``plot_exact(color_by="class")`` tint them with."""
    classes = [int(c) for c in np.unique(np.asarray(classes))]
    handles = [
        plt.Rectangle((0, 0), 1, 1, color=CLASS_COLORS[c % len(CLASS_COLORS)], alpha=0.6)
        for c in classes
    ]
    names = [str(c) if class_names is None else str(class_names[c]) for c in classes]
    ax.legend(handles, [f"class {n}" for n in names], fontsize=7, loc=loc, framealpha=0.8)


def plot_layer_by_layer(part, panel_size: float = 3.2, suptitle: str | None = None):
    """One panel per code layer: the partition after layers 1..l, newest splines dark over
    earlier ones in grey; a last panel shows the predicted classes and the decision boundary, the
    output layer's spline (the paper's Fig. 1a). Takes an
    :class:`~spline_utils.partition.exact.ExactPartition` or a
    :class:`~spline_utils.partition.grid.GridPartition`. Returns the figure."""
    _check_part(part, (ExactPartition, GridPartition))
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


def region_values(part: ExactPartition, color_by: str) -> np.ndarray:
    """One value per region for colouring (``color_by="none"`` in :func:`plot_exact` leaves regions
    unfilled): ``"region"`` (index), ``"class"`` (argmax class at the
    region's vertex mean), ``"slope"`` (Frobenius norm of the region's output map, i.e. of
    ``A_omega`` restricted to the slice) or ``"output"`` (first output at the vertex mean)."""
    _check_part(part, ExactPartition)
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
    _check_part(part, ExactPartition)
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
    _finish_axes(ax, part, (lo[0], hi[0], lo[1], hi[1]), heading, show_anchors)
    return ax


def plot_slice(
    model, domain, slice=None, method: str = "exact", resolution: int = 300, ax=None, **kwargs
):
    """Partition of ``model`` over ``domain`` drawn with one call: ``method="exact"`` (polygons,
    :func:`plot_exact`) or ``method="grid"`` (a preview for large slices, :func:`plot_partition`).
    Extra keyword arguments go to the plotting function. Returns (partition, axes)."""
    check_choice("method", method, ("exact", "grid"))
    if method == "exact":
        part = exact_partition(model, domain, slice=slice)
        return part, plot_exact(part, ax, **kwargs)
    if method == "grid":
        part = grid_partition(model, domain, resolution, slice=slice)
        return part, plot_partition(part, ax, **kwargs)
    raise ValueError(f"method must be 'exact' or 'grid', got {method!r}")


def plot_pruning_results(frame, suptitle: str | None = None):
    """Two panels from :func:`~spline_utils.experiments.results_files.load_results` rows of one
    data set and architecture: test accuracy against pruning ratio (one line per method, the
    dense network as a dashed line) and against total training FLOPs (one marker per run).
    Returns the figure."""

    from ..experiments.results_files import summary

    acc = summary(frame)
    flops = summary(frame, "training_flops")
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    palette = list(OKABE_ITO.values())
    markers = "osD^v<>P"
    dense = frame[frame["protocol"] == "dense"]
    for i, method in enumerate(acc.index):
        style = dict(
            color=palette[i % len(palette)], marker=markers[i % len(markers)], label=method
        )
        style["linestyle"] = "--" if method.startswith("eb-") else "-"
        left.plot(acc.columns * 100, acc.loc[method].values, **style)
        right.plot(
            flops.loc[method].values,
            acc.loc[method].values,
            linestyle="none",
            **{k: v for k, v in style.items() if k != "linestyle"},
        )
    if not dense.empty:
        left.axhline(dense["test_acc"].mean(), color="black", linestyle=":", label="dense")
        right.plot(dense["training_flops"], dense["test_acc"], "k*", markersize=12, label="dense")
    left.set(
        xlabel="pruning ratio (% of channels)",
        ylabel="test accuracy",
        title="accuracy vs pruning ratio",
    )
    right.set(
        xscale="log",
        xlabel="total training FLOPs (forward + backward)",
        ylabel="test accuracy",
        title="accuracy vs training cost",
    )
    left.legend(fontsize=8, ncol=2)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def plot_code_distances(record: dict, ax=None, title: str | None = None):
    """The epoch-by-epoch code distance matrix (the paper's Fig. 5) stored in a ``dense`` results
    record of :mod:`spline_utils.experiments` (``record["code_distances"]``), with the epochs at
    which the spline detector (white dashed) and the mask detectors (orange dotted) fired.
    Returns the axes."""
    if "code_distances" not in record:
        raise ValueError(
            "this record holds no code distances: was the run made with record_codes=0?"
        )
    codes = record["code_distances"]
    epochs = codes["epochs"]
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4.3))
    extent = (epochs[0] - 0.5, epochs[-1] + 0.5, epochs[0] - 0.5, epochs[-1] + 0.5)
    image = ax.imshow(np.array(codes["matrix"]), cmap="viridis", origin="lower", extent=extent)
    plt.colorbar(image, ax=ax, label="fraction of code bits that differ")
    fired = record["metrics"].get("eb_epochs", {})
    if fired.get("spline"):
        ax.axvline(
            fired["spline"],
            color="white",
            ls="--",
            lw=1,
            label=f"spline EB (epoch {fired['spline']})",
        )
    for name, epoch in fired.items():
        if name != "spline" and epoch:
            ax.axhline(epoch, color=OKABE_ITO["orange"], ls=":", lw=1)
    ax.set(xlabel="epoch", ylabel="epoch")
    ax.set_title(
        title or f"code distance between epochs ({codes['canvas']}x{codes['canvas']} canvas)",
        fontsize=10,
    )
    if fired.get("spline"):
        ax.legend(loc="upper left", fontsize=8)
    return ax
