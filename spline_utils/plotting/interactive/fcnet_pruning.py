"""Chapter 3, interactive: prune the FCNet at any ratio by any node-pruning rule.

The FCNet of Chapter 3 (``su.load_network("fcnet")``, ``2 -> 20 -> 2``, trained on the
X-shaped data split of seed 0) pruned by :func:`~spline_utils.pruning.merging.prune_units` at
a ratio, *without fine-tuning* (so every setting takes a fraction of a second):

* left: the exact partition, classes tinted, the first-layer splines thin grey, the splines that
  supply the decision boundary's turning points thick blue, the boundary vermillion and its
  turning points black (:func:`~spline_utils.partition.turning_points.decision_turning_points`,
  :func:`~spline_utils.partition.turning_points.supplying_splines`);
* right: test accuracy right after pruning against the ratio, for each rule the chapter
  compares, the chosen rule bold and the chosen ratio marked.

:func:`fcnet_pruning_data` computes one setting, :func:`fcnet_accuracy_curves` the right panel,
:func:`fcnet_pruning_figure` draws (the frozen figure), :func:`fcnet_pruning_widget` redraws it
live, :func:`fcnet_pruning_scrubber` precomputes the ratios of one rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection

from ...checks import check_choice, check_domain, check_int, check_sequence
from ...experiments.training import accuracy
from ...partition.exact import exact_partition, label_unit
from ...partition.turning_points import decision_turning_points, supplying_splines
from ...pruning.merging import node_criteria, prune_units
from ...studies.fcnet_study import x_data_split
from ...studies.shipped_networks import load_network
from ..exact_figures import plot_exact
from ..style import CLASS_COLORS, DECISION_COLOR, EARLIER_COLOR, FIG3_LAYER_COLORS, OKABE_ITO
from .shared import Scrubber, frames_of, live_figure

__all__ = [
    "FCNET_CRITERIA",
    "FCNET_RATIOS",
    "FCNetPruning",
    "fcnet_accuracy_curves",
    "fcnet_pruning_data",
    "fcnet_pruning_figure",
    "fcnet_pruning_scrubber",
    "fcnet_pruning_widget",
]

#: the node-pruning rules Chapter 3 compares (names of ``merging.node_criteria``)
FCNET_CRITERIA = ("spline-merge", "spline-merge-picks", "spline-delete", "magnitude-l2", "random")
#: the ratios of the slider: 0 to 90 % of the hidden units
FCNET_RATIOS = tuple(round(0.1 * k, 1) for k in range(10))
DOMAIN = (-5.0, 5.0, -5.0, 5.0)
LAYER = "0"


def _criterion_colors() -> dict:

    return {
        "spline-merge": OKABE_ITO["blue"],
        "spline-merge-picks": OKABE_ITO["reddish_purple"],
        "spline-delete": OKABE_ITO["sky_blue"],
        "magnitude-l2": OKABE_ITO["orange"],
        "random": EARLIER_COLOR,
    }


@dataclass
class FCNetPruning:
    """What :func:`fcnet_pruning_figure` draws for one ratio and rule.

    Attributes:
        ratio, criterion: the setting.
        units, units_kept: the hidden width before and after pruning.
        pruned, merged_into: the pruned units in pruning order and the unit each was merged
            into (``-1``: deleted), as :class:`~spline_utils.pruning.merging.UnitPruning`.
        accuracy, dense_accuracy: test accuracy of the pruned (not fine-tuned) and the
            unpruned network.
        partition: the pruned network's exact partition.
        turning_points: (T, 2) where its decision boundary bends.
        supplying_units: the first-layer units whose splines supply them, sorted.
    """

    ratio: float
    criterion: str
    units: int
    units_kept: int
    pruned: list
    merged_into: list
    accuracy: float
    dense_accuracy: float
    partition: object
    turning_points: np.ndarray
    supplying_units: tuple[int, ...]

    def summary(self) -> str:
        merged = sum(j >= 0 for j in self.merged_into)
        return (
            f"{self.criterion} at {self.ratio:.0%}: {self.units_kept} of {self.units} units kept "
            f"({merged} merged); test accuracy {self.accuracy:.3f} without fine-tuning "
            f"(unpruned {self.dense_accuracy:.3f}); {len(self.turning_points)} turning points"
        )


def _setup(model, data):

    model = load_network("fcnet") if model is None else model
    data = x_data_split(seed=0) if data is None else data
    if not isinstance(data, (tuple, list)) or len(data) != 4:
        raise ValueError("data must be (x_train, y_train, x_test, y_test), as from x_data_split")
    return model.eval(), tuple(data)


def fcnet_pruning_data(
    ratio: float = 0.5,
    criterion: str = "spline-merge",
    model=None,
    data=None,
    seed: int = 0,
    domain=DOMAIN,
) -> FCNetPruning:
    """Prune the hidden layer by ``criterion`` at ``ratio`` (no fine-tuning) and analyse it.

    Args:
        ratio: fraction of the hidden units to prune, in [0, 1).
        criterion: a name of :func:`~spline_utils.pruning.merging.node_criteria` without
            BatchNorm (:data:`FCNET_CRITERIA` are the chapter's).
        model: a ``2 -> H -> 2`` ReLU MLP (default: the shipped FCNet).
        data: ``(x_train, y_train, x_test, y_test)`` (default:
            ``fcnet_study.x_data_split(seed=0)``, the FCNet's own split); the spline rules read
            the training inputs, the accuracy is on the test set.
        seed: seeds ``random``.
        domain: the square of the exact partition.

    Returns:
        A :class:`FCNetPruning`.

    Example:
        >>> from spline_utils.plotting.interactive import fcnet_pruning_data
        >>> data = fcnet_pruning_data(0.5, "spline-merge")
        >>> data.units_kept, len(data.turning_points), len(data.supplying_units)
        (10, 14, 7)
    """

    model, (x_tr, _, x_te, y_te) = _setup(model, data)
    check_choice("criterion", criterion, node_criteria(batch_norm=False))
    domain = check_domain("domain", domain)
    result = prune_units(model, LAYER, ratio, criterion=criterion, x=x_tr, seed=seed)
    part = exact_partition(result.model, domain)
    turns = decision_turning_points(part)
    labels, _ = supplying_splines(part, turns) if len(turns) else (np.zeros(0, np.int64), None)
    units = model[0].out_features
    return FCNetPruning(
        ratio=float(ratio),
        criterion=criterion,
        units=units,
        units_kept=units - len(result.pruned),
        pruned=list(result.pruned),
        merged_into=list(result.merged_into),
        accuracy=accuracy(result.model, x_te, y_te),
        dense_accuracy=accuracy(model, x_te, y_te),
        partition=part,
        turning_points=turns,
        supplying_units=tuple(sorted({int(u) for u in label_unit(labels)})),
    )


def fcnet_accuracy_curves(
    criteria: Sequence[str] = FCNET_CRITERIA,
    ratios: Sequence[float] = FCNET_RATIOS,
    model=None,
    data=None,
    seed: int = 0,
) -> dict:
    """Test accuracy right after pruning (no fine-tuning), ``{criterion: [one per ratio]}``,
    plus ``"ratios"`` and ``"dense"`` (the unpruned network's)."""

    model, (x_tr, _, x_te, y_te) = _setup(model, data)
    ratios = check_sequence("ratios", ratios, lambda n, v: float(v))
    curves = {"ratios": ratios, "dense": accuracy(model, x_te, y_te)}
    for criterion in criteria:
        curves[criterion] = [
            accuracy(prune_units(model, LAYER, r, criterion, x=x_tr, seed=seed).model, x_te, y_te)
            for r in ratios
        ]
    return curves


def fcnet_pruning_figure(
    ratio: float = 0.5,
    criterion: str = "spline-merge",
    data: FCNetPruning | None = None,
    curves: dict | None = None,
):
    """The pruned FCNet's partition and turning points (left) next to test accuracy against
    the ratio (right), for ``ratio`` and ``criterion`` (or ``data`` of
    :func:`fcnet_pruning_data`; ``curves`` of :func:`fcnet_accuracy_curves`, computed when
    ``None``). Returns the figure."""

    data = fcnet_pruning_data(ratio, criterion) if data is None else data
    curves = fcnet_accuracy_curves() if curves is None else curves
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(8.6, 4.6), constrained_layout=True, width_ratios=(1, 1.05)
    )
    part, supply = data.partition, FIG3_LAYER_COLORS[0]
    n_turns = len(data.turning_points)
    plot_exact(
        part,
        left,
        color_by="class",
        layer_colors=[EARLIER_COLOR],
        show_anchors=False,
        title=f"{data.units_kept} of {data.units} units kept; {n_turns} turning "
        f"point{'s' * (n_turns != 1)}\nsupplied by {len(data.supplying_units)} spline"
        f"{'s' * (len(data.supplying_units) != 1)}",
    )
    segments, labels = part.labelled_segments([0])
    own = np.isin(label_unit(labels), data.supplying_units)
    left.add_collection(LineCollection(segments[own], colors=supply, linewidths=2.4))
    if n_turns:
        left.plot(*data.turning_points.T, "o", color="black", ms=4.5, zorder=6)
    if left.get_legend() is not None:
        left.get_legend().remove()  # the classes go into the figure's legend below
    handles = [
        plt.Rectangle((0, 0), 1, 1, color=CLASS_COLORS[c], alpha=0.8, label=f"class {c}")
        for c in (0, 1)
    ] + [
        plt.Line2D([], [], color=DECISION_COLOR, lw=2, label="decision boundary"),
        plt.Line2D([], [], color=supply, lw=2.4, label="supplying spline"),
        plt.Line2D([], [], color=EARLIER_COLOR, lw=0.9, label="other spline"),
        plt.Line2D([], [], color="black", marker="o", ms=4.5, ls="none", label="turning point"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=6, fontsize=7.5, frameon=False)
    percent = 100 * np.asarray(curves["ratios"])
    for name, color in _criterion_colors().items():
        if name not in curves:
            continue
        bold = name == data.criterion
        right.plot(
            percent,
            curves[name],
            "-o",
            color=color,
            lw=2.4 if bold else 1.0,
            ms=4 if bold else 2.5,
            alpha=1.0 if bold else 0.75,
            label=name,
            zorder=3 if bold else 2,
        )
    right.axhline(curves["dense"], color="black", ls=":", lw=1, label="unpruned")
    right.plot(100 * data.ratio, data.accuracy, "o", ms=11, mfc="none", mec="black", mew=1.8)
    right.set(
        xlabel="hidden units pruned (%)",
        ylabel="test accuracy, no fine-tuning",
        ylim=(0.4, 1.02),
        title=f"{data.criterion} at {data.ratio:.0%}: accuracy {data.accuracy:.3f}\n"
        f"(unpruned {data.dense_accuracy:.3f})",
    )
    right.title.set_fontsize(9)
    right.legend(loc="lower left", fontsize=7, framealpha=0.85)
    fig.suptitle(
        f"FCNet H = {data.units} pruned by {data.criterion} at {data.ratio:.0%}, without "
        "fine-tuning (exact polygons)",
        fontsize=10,
    )
    return fig


def fcnet_pruning_widget(
    criteria: Sequence[str] = FCNET_CRITERIA,
    ratios: Sequence[float] = FCNET_RATIOS,
    model=None,
    data=None,
    seed: int = 0,
):
    """A ratio slider and a rule selector that redraw :func:`fcnet_pruning_figure` (each
    setting cached). Returns an ``ipywidgets.VBox`` (see :func:`~.shared.live_figure`;
    ``box.data`` is the :class:`FCNetPruning` shown)."""
    import ipywidgets as widgets  # optional: only a live kernel draws widgets

    model, data = _setup(model, data)
    criteria = list(criteria)
    ratios = [float(r) for r in ratios]
    ratio = widgets.SelectionSlider(
        options=[(f"{r:.0%}", r) for r in ratios],
        value=min(ratios, key=lambda r: abs(r - 0.5)),
        description="pruned",
        continuous_update=False,
    )
    criterion = widgets.Dropdown(options=criteria, value=criteria[0], description="rule")
    curves = fcnet_accuracy_curves(criteria, ratios, model, data, seed)
    cache: dict = {}

    def compute(ratio: float, criterion: str) -> FCNetPruning:
        if (ratio, criterion) not in cache:
            cache[ratio, criterion] = fcnet_pruning_data(ratio, criterion, model, data, seed)
        return cache[ratio, criterion]

    def draw(setting: FCNetPruning):
        return fcnet_pruning_figure(data=setting, curves=curves), setting.summary()

    controls = {"ratio": ratio, "criterion": criterion}
    return live_figure(controls, [widgets.HBox([ratio, criterion])], compute, draw)


def fcnet_pruning_scrubber(
    criterion: str = "spline-merge",
    ratios: Sequence[float] = FCNET_RATIOS,
    dpi: int = 90,
    model=None,
    data=None,
    seed: int = 0,
    curves: dict | None = None,
) -> Scrubber:
    """The static page's version: one frame per ratio of one rule (default the chapter's,
    ``spline-merge``), starting at 50 % when present. ``curves``: reuse
    :func:`fcnet_accuracy_curves` between several scrubbers."""
    model, data = _setup(model, data)
    ratios = [float(r) for r in check_sequence("ratios", ratios, lambda n, v: v)]
    curves = fcnet_accuracy_curves(model=model, data=data, seed=seed) if curves is None else curves
    frames = frames_of(
        lambda r: fcnet_pruning_figure(
            data=fcnet_pruning_data(r, criterion, model, data, seed), curves=curves
        ),
        ratios,
        dpi=check_int("dpi", dpi, 10),
    )
    return Scrubber(
        frames,
        [f"{r:.0%} of the hidden units pruned" for r in ratios],
        title=f"FCNet pruned by {criterion}, without fine-tuning",
        start=min(range(len(ratios)), key=lambda i: abs(ratios[i] - 0.5)),
        alt=f"FCNet partition and accuracy, pruned by {criterion}",
    )
