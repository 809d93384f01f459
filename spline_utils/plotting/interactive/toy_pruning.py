"""Chapter 2, interactive: prune first-layer units of the toy network and watch the partition.

The toy network of Chapters 1-2 (``su.load_network("toy_mlp")``, ``2 -> 6 -> 6 -> 1``) with any
set of its first-layer units pruned (:func:`~spline_utils.pruning.masks.unit_mask`), against the
unpruned network, on the exact partition of ``[-5, 5]^2`` (layers 1..2):

* the regions of the pruned network whose affine map differs from the unpruned network's there
  are tinted (the map is compared at interior points of each region);
* the layer-2 splines that lost or gained bends
  (:func:`~spline_utils.partition.turning_points.spline_turning_points`) are drawn thick blue,
  lost bends as crosses on the unpruned side, gained bends as rings;
* the pruned units' splines are dashed on the unpruned side and dotted where they were.

:func:`toy_pruning_data` computes it, :func:`toy_pruning_figure` draws one setting (the frozen
figure), :func:`toy_pruning_widget` redraws it live, :func:`toy_pruning_scrubber` precomputes
"no unit" and each single unit for the static page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.collections import LineCollection, PolyCollection

from ...checks import check_domain, check_unit_indices
from ...partition.exact import exact_partition, label_unit
from ...partition.turning_points import spline_segments, spline_turning_points
from ...pruning.masks import apply_mask, unit_mask
from ...spline_view.affine_maps import region_affine_map
from ...studies.shipped_networks import load_network
from ..exact_figures import plot_exact
from ..style import OKABE_ITO
from .shared import Scrubber, frames_of, live_figure

__all__ = [
    "ToyPruning",
    "toy_pruning_data",
    "toy_pruning_figure",
    "toy_pruning_scrubber",
    "toy_pruning_widget",
]

DOMAIN = (-5.0, 5.0, -5.0, 5.0)
FIRST_LAYER = "0"


@dataclass
class ToyPruning:
    """What :func:`toy_pruning_figure` draws for one set of pruned first-layer units.

    Attributes:
        pruned_units: the pruned units of the first layer, sorted.
        dense, pruned: the exact partitions of the unpruned and the pruned network.
        region_counts: ``{"dense": [after layer 1, after layer 2], "pruned": [...]}``.
        changed_splines: the layer-2 units whose spline lost or gained a bend, sorted.
        bends_lost, bends_gained: per layer-2 unit (all of them), how many bends it lost and
            gained; ``lost_points`` (L, 2) and ``gained_points`` (G, 2) are where.
        map_changed: (P,) bool, one per region of the pruned partition: its affine map differs
            from the unpruned network's at some interior point.
        area_changed: the share of the domain's area where the map changed.
        pruned_segments: (S, 2, 2) the pruned units' splines in the unpruned partition.
    """

    pruned_units: tuple[int, ...]
    dense: object
    pruned: object
    region_counts: dict
    changed_splines: tuple[int, ...]
    bends_lost: dict
    bends_gained: dict
    lost_points: np.ndarray
    gained_points: np.ndarray
    map_changed: np.ndarray
    area_changed: float
    pruned_segments: np.ndarray

    @property
    def maps_changed(self) -> int:
        """How many regions of the pruned network have a changed affine map."""
        return int(self.map_changed.sum())

    def summary(self) -> str:
        """One line (under 90 characters) for a text output."""
        units = ", ".join(map(str, self.pruned_units)) or "none"
        d, p = self.region_counts["dense"][-1], self.region_counts["pruned"][-1]
        changed = ", ".join(map(str, self.changed_splines)) or "none"
        return (
            f"pruned: {units}; regions {d} -> {p}; maps changed on {self.maps_changed} of {p} "
            f"regions; layer-2 splines with new bends: {changed}"
        )


def _interior_points(part) -> tuple[np.ndarray, np.ndarray]:
    """Points inside every region (its vertex mean, and halfway from it to each vertex), with
    the region index of each."""
    points, owner = [], []
    for r, polygon in enumerate(part.polygons):
        centre = polygon.mean(0)
        points.append(np.vstack([centre, 0.5 * (polygon + centre)]))
        owner.append(np.full(len(polygon) + 1, r))
    return np.vstack(points), np.concatenate(owner)


def _unmatched(a: np.ndarray, b: np.ndarray, tol: float) -> np.ndarray:
    """Rows of ``a`` with no row of ``b`` within ``tol``."""
    if not len(a):
        return np.zeros(0, bool)
    if not len(b):
        return np.ones(len(a), bool)
    return np.linalg.norm(a[:, None] - b[None], axis=2).min(1) > tol


def toy_pruning_data(
    units: Sequence[int] = (), model: torch.nn.Module | None = None, domain=DOMAIN
) -> ToyPruning:
    """The partitions, changed maps and changed layer-2 splines after pruning ``units``.

    Args:
        units: first-layer units to prune (indices into layer ``"0"``; empty: none).
        model: a ``2 -> H -> H' -> 1`` ReLU MLP (default: the toy network of Chapter 2,
            ``su.load_network("toy_mlp")``); computed in float64.
        domain: ``(x_min, x_max, y_min, y_max)`` of the exact partitions.

    Returns:
        A :class:`ToyPruning`.

    Example:
        >>> from spline_utils.plotting.interactive import toy_pruning_data
        >>> data = toy_pruning_data([2])  # the chapter's unit
        >>> data.region_counts  # after layer 1, after layer 2
        {'dense': [16, 63], 'pruned': [11, 47]}
        >>> data.changed_splines, data.maps_changed, data.pruned.n_regions
        ((0, 1, 2, 3, 5), 14, 47)
    """

    model = (load_network("toy_mlp") if model is None else model).double().eval()
    domain = check_domain("domain", domain)
    width = model[0].out_features
    units = tuple(sorted(set(check_unit_indices("units", list(units), width))))
    pruned_model = apply_mask(model, unit_mask(model, {FIRST_LAYER: list(units)}))
    dense = exact_partition(model, domain)
    pruned = exact_partition(pruned_model, domain) if units else dense
    tol = 1e-7 * max(1.0, float(np.abs(domain).max()))
    dense_bends, dense_owner = spline_turning_points(dense, 1)
    pruned_bends, pruned_owner = spline_turning_points(pruned, 1)
    lost, gained, lost_points, gained_points = {}, {}, [], []
    for unit in range(model[2].out_features):
        before, after = dense_bends[dense_owner == unit], pruned_bends[pruned_owner == unit]
        gone, new = _unmatched(before, after, tol), _unmatched(after, before, tol)
        lost[unit], gained[unit] = int(gone.sum()), int(new.sum())
        lost_points.append(before[gone])
        gained_points.append(after[new])
    points, owner = _interior_points(pruned)
    with torch.no_grad():
        x = torch.as_tensor(points, dtype=torch.float64)
        a_dense, b_dense = region_affine_map(model, x)
        a_pruned, b_pruned = region_affine_map(pruned_model, x)
    gap = (a_dense - a_pruned).flatten(1).abs().amax(1) + (b_dense - b_pruned).abs().amax(1)
    map_changed = np.zeros(pruned.n_regions, bool)
    np.logical_or.at(map_changed, owner, gap.numpy() > 1e-9)
    segments, labels = spline_segments(dense, [0])
    return ToyPruning(
        pruned_units=units,
        dense=dense,
        pruned=pruned,
        region_counts={"dense": dense.region_counts(), "pruned": pruned.region_counts()},
        changed_splines=tuple(u for u in lost if lost[u] or gained[u]),
        bends_lost=lost,
        bends_gained=gained,
        lost_points=np.vstack(lost_points),
        gained_points=np.vstack(gained_points),
        map_changed=map_changed,
        area_changed=float(pruned.areas[map_changed].sum() / pruned.areas.sum()),
        pruned_segments=segments[np.isin(label_unit(labels), units)],
    )


def toy_pruning_figure(units: Sequence[int] = (2,), data: ToyPruning | None = None):
    """Two panels, the unpruned network and the network with ``units`` pruned (or ``data`` of
    :func:`toy_pruning_data`): exact partitions of layers 1..2, changed maps tinted, layer-2
    splines that lost or gained bends thick blue. Returns the figure."""

    data = toy_pruning_data(units) if data is None else data
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 4.9), constrained_layout=True)
    pruned_color, changed_color = OKABE_ITO["reddish_purple"], OKABE_ITO["blue"]
    names = ", ".join(map(str, data.pruned_units))
    n_dense, n_pruned = data.region_counts["dense"][-1], data.region_counts["pruned"][-1]
    headings = (
        f"unpruned: {n_dense} regions",
        f"unit{'s' * (len(data.pruned_units) > 1)} {names} pruned: {n_pruned} regions,\n"
        f"maps changed on {data.maps_changed}"
        if data.pruned_units
        else "nothing pruned",
    )
    for ax, part, heading in zip(axes, (data.dense, data.pruned), headings):
        if part is data.pruned and data.map_changed.any():
            ax.add_collection(
                PolyCollection(
                    [p for p, c in zip(part.polygons, data.map_changed) if c],
                    facecolors=OKABE_ITO["orange"],
                    alpha=0.25,
                    edgecolors="none",
                )
            )
        plot_exact(part, ax, color_by="none", show_decision=False, title=heading)
        segments, labels = part.labelled_segments([1])
        changed = np.isin(label_unit(labels), data.changed_splines)
        ax.add_collection(LineCollection(segments[changed], colors=changed_color, linewidths=2.4))
    if len(data.pruned_segments):
        axes[0].add_collection(
            LineCollection(
                data.pruned_segments, colors=pruned_color, linewidths=2.6, linestyles="--"
            )
        )
        axes[1].add_collection(
            LineCollection(
                data.pruned_segments, colors=pruned_color, linewidths=1.4, linestyles=":"
            )
        )
    if len(data.lost_points):
        axes[0].plot(*data.lost_points.T, "x", color="black", ms=7, mew=1.8)
    if len(data.gained_points):
        axes[1].plot(*data.gained_points.T, "o", mfc="none", color="black", ms=7, mew=1.5)
    handles = [
        plt.Line2D([], [], color=changed_color, lw=2.4, label="layer-2 spline, bends changed"),
        plt.Line2D([], [], color=pruned_color, lw=2.2, ls="--", label="pruned unit's spline"),
        plt.Line2D([], [], color="black", marker="x", ls="none", mew=1.8, label="bend lost"),
        plt.Line2D([], [], color="black", marker="o", mfc="none", ls="none", label="bend gained"),
        plt.Rectangle(
            (0, 0), 1, 1, color=OKABE_ITO["orange"], alpha=0.25, label="affine map changed"
        ),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=8, frameon=False)
    fig.suptitle(
        "Pruning first-layer units of the toy network (exact polygons, layers 1-2;\n"
        "layer-1 splines grey, layer-2 splines dark)",
        fontsize=10,
    )
    return fig


def toy_pruning_widget(model: torch.nn.Module | None = None):
    """Toggle buttons, one per first-layer unit, that prune it; redraws
    :func:`toy_pruning_figure` with a one-line summary. Partitions are cached per set of units.
    Returns an ``ipywidgets.VBox`` (see :func:`~.shared.live_figure`; ``box.data`` is the
    :class:`ToyPruning` shown)."""
    import ipywidgets as widgets  # optional: only a live kernel draws widgets

    model = (load_network("toy_mlp") if model is None else model).double().eval()
    toggles = {
        f"unit_{k}": widgets.ToggleButton(
            value=False, description=f"unit {k}", layout=widgets.Layout(width="auto")
        )
        for k in range(model[0].out_features)
    }
    cache: dict[tuple[int, ...], ToyPruning] = {}

    def compute(**pressed) -> ToyPruning:
        units = tuple(k for k, name in enumerate(toggles) if pressed[name])
        if units not in cache:
            cache[units] = toy_pruning_data(units, model)
        return cache[units]

    def draw(data: ToyPruning):
        return toy_pruning_figure(data=data), data.summary()

    row = widgets.HBox(
        [widgets.Label("prune first-layer units:"), *toggles.values()],
        layout=widgets.Layout(flex_flow="row wrap"),
    )
    return live_figure(toggles, [row], compute, draw)


def toy_pruning_scrubber(
    units: Sequence[int] | None = None, dpi: int = 90, model: torch.nn.Module | None = None
) -> Scrubber:
    """The static page's version: one frame with nothing pruned, then one per single unit of
    ``units`` (default: every first-layer unit), starting at unit 2 (the chapter's) when
    present."""

    model = (load_network("toy_mlp") if model is None else model).double().eval()
    units = list(range(model[0].out_features)) if units is None else list(units)
    settings = [()] + [(k,) for k in units]
    frames = frames_of(
        lambda s: toy_pruning_figure(data=toy_pruning_data(s, model)), settings, dpi=dpi
    )
    labels = ["nothing pruned"] + [f"unit {k} pruned" for k in units]
    return Scrubber(
        frames,
        labels,
        title="Prune one first-layer unit of the toy network",
        start=1 + units.index(2) if 2 in units else 0,
        alt="exact partitions of the toy network, unpruned and pruned",
    )
