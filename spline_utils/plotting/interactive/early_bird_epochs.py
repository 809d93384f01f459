"""Chapter 4, interactive: an epoch slider over a recorded dense run.

From a dense run's records -- its ``dense.json`` (code distances between epochs and every
BatchNorm scale, per epoch) and its ``code-trajectory.json`` (the on/off masks of a few
first-layer neurons on the probe canvas, per epoch), as
:func:`~spline_utils.experiments.results_files.load_records` and
:func:`~spline_utils.experiments.provenance.read_json` read them -- two panels at the chosen
epoch:

* left (the paper's Fig. 4 on real images): the first-layer splines on the canvas
  ``alpha * x0 + beta * x1`` at the epoch (blue) and the epoch before (grey, dashed), sampled on
  the canvas grid (:func:`~spline_utils.early_bird.trajectory.unit_masks`);
* right (Fig. 5): the epoch-by-epoch code distance matrix (viridis, lighter = farther), the
  chosen epoch's diagonal cell outlined, and both early-bird rules at that epoch: the spline
  rule's window (the ``w`` epochs it compares the newest codes with, below the diagonal, white)
  and the mask rule's (its FIFO of masks, above the diagonal, orange -- it compares channel
  masks of ``|gamma|``, not these codes), each drawn solid at the chosen epoch and dashed where
  the rule fired, replayed from the records by
  :func:`~spline_utils.early_bird.replay.replay_spline_detector` and
  :func:`~spline_utils.early_bird.replay.replay_mask_detector`.

:func:`early_bird_data` computes one epoch, :func:`early_bird_figure` draws (the frozen
figure), :func:`early_bird_widget` redraws it live (epoch, windows and thresholds),
:func:`early_bird_scrubber` precomputes every epoch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.patheffects as effects
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from ...checks import check_int
from ...early_bird.analysis import normalised_matrix
from ...early_bird.replay import (
    earliest_possible_epoch,
    replay_mask_detector,
    replay_spline_detector,
)
from ...early_bird.trajectory import unit_masks
from ..style import EARLIER_COLOR, OKABE_ITO
from .shared import Scrubber, frames_of, live_figure

__all__ = [
    "EarlyBirdEpoch",
    "early_bird_data",
    "early_bird_figure",
    "early_bird_scrubber",
    "early_bird_widget",
]

#: the settings when a record's config does not name them (the book's defaults)
DEFAULTS = {"window": 3, "threshold": 0.16, "fifo": 5, "mask_threshold": 0.1, "ratio": 0.5}


@dataclass
class EarlyBirdEpoch:
    """What :func:`early_bird_figure` draws at one epoch.

    Attributes:
        epoch: the chosen epoch (0 = untrained).
        epochs: the epochs of the code distance matrix.
        matrix: (E, E) code distances between those epochs (mean over the ReLU layers: the
            spline detector's matrix, :func:`~spline_utils.early_bird.analysis.normalised_matrix`).
        splines, splines_before: (units, side, side) bool on/off masks of the recorded
            first-layer neurons on the canvas at the epoch and at the recorded epoch before
            (``None`` at the first), indexed ``[unit, alpha, beta]``.
        regions: first-layer regions seen on the canvas grid at the epoch.
        window, threshold: the spline rule's setting; ``fifo``, ``mask_threshold``, ``ratio``
            the mask rule's (FIFO of ``fifo`` masks, i.e. the window ``fifo - 1``; pruning
            ratio ``ratio``).
        spline_fired, mask_fired: the epochs at which the rules fire in this run (``None``:
            never).
        spline_earliest, mask_earliest: the first epochs their windows allow.
        seed: the run's seed.
    """

    epoch: int
    epochs: list
    matrix: np.ndarray
    splines: np.ndarray
    splines_before: np.ndarray | None
    regions: int
    window: int
    threshold: float
    fifo: int
    mask_threshold: float
    ratio: float
    spline_fired: int | None
    mask_fired: int | None
    spline_earliest: int
    mask_earliest: int
    seed: int

    def status(self) -> str:
        """Where the two rules stand at the epoch, in words."""

        def say(name, fired):
            if fired is None or fired > self.epoch:
                return f"{name} not yet"
            return f"{name} fires now" if fired == self.epoch else f"{name} fired at {fired}"

        return (
            f"epoch {self.epoch}: {say('spline rule', self.spline_fired)}, "
            f"{say(f'mask rule (p = {self.ratio:.0%})', self.mask_fired)}"
        )


def _check_records(dense: dict, trajectory: dict) -> None:
    if not isinstance(dense, dict) or "code_distances" not in dense or "bn_gammas" not in dense:
        raise ValueError(
            "dense must be a dense run's record with code distances and BatchNorm scales "
            "(its dense.json)"
        )
    if not isinstance(trajectory, dict) or "masks" not in trajectory:
        raise ValueError("trajectory must be the run's code-trajectory record")


def early_bird_data(
    dense: dict,
    trajectory: dict,
    epoch: int | None = None,
    window: int | None = None,
    threshold: float | None = None,
    fifo: int | None = None,
    mask_threshold: float | None = None,
    ratio: float = DEFAULTS["ratio"],
) -> EarlyBirdEpoch:
    """The chosen epoch of a recorded dense run, and both early-bird rules replayed.

    Args:
        dense: the run's ``dense.json`` record (``code_distances``, ``bn_gammas``, ``config``).
        trajectory: its ``code-trajectory.json`` record.
        epoch: a recorded epoch of the trajectory (default: the last).
        window, threshold: the spline rule's window and threshold (default: the run's
            ``eb_window`` and ``eb_threshold``, else 3 and 0.16).
        fifo, mask_threshold: the mask rule's FIFO length and threshold (default: the run's
            ``mask_fifo`` and ``mask_threshold``, else 5 and 0.1).
        ratio: the mask rule's pruning ratio (Chapter 4 compares at 0.5).

    Returns:
        An :class:`EarlyBirdEpoch`.

    Example:
        >>> from spline_utils.experiments.provenance import read_json
        >>> from spline_utils.experiments.results_files import committed_results
        >>> from spline_utils.plotting.interactive import early_bird_data
        >>> run = committed_results() / "cpu" / "fashion-mnist-vgg16-w0.125-seed0"
        >>> dense = read_json(run / "dense.json")
        >>> data = early_bird_data(dense, read_json(run / "code-trajectory.json"), epoch=12)
        >>> data.status()
        'epoch 12: spline rule fired at 11, mask rule (p = 50%) not yet'
        >>> data.splines.shape  # 12 first-layer neurons on the 30 x 30 canvas
        (12, 30, 30)
    """

    _check_records(dense, trajectory)
    config = dense.get("config", {})
    window = config.get("eb_window", DEFAULTS["window"]) if window is None else window
    threshold = (
        config.get("eb_threshold", DEFAULTS["threshold"]) if threshold is None else threshold
    )
    fifo = config.get("mask_fifo", DEFAULTS["fifo"]) if fifo is None else fifo
    if mask_threshold is None:
        mask_threshold = config.get("mask_threshold", DEFAULTS["mask_threshold"])
    steps = list(trajectory["epochs"])
    epoch = steps[-1] if epoch is None else check_int("epoch", epoch)
    if epoch not in steps:
        raise ValueError(f"epoch {epoch} is not a recorded epoch of the trajectory {steps}")
    codes, gammas = dense["code_distances"], dense["bn_gammas"]
    matrix = normalised_matrix(dense)
    masks = unit_masks(trajectory)
    at = steps.index(epoch)
    return EarlyBirdEpoch(
        epoch=epoch,
        epochs=list(codes["epochs"]),
        matrix=matrix,
        splines=masks[at],
        splines_before=masks[at - 1] if at else None,
        regions=int(trajectory["regions_first_layer"][at]),
        window=int(window),
        threshold=float(threshold),
        fifo=int(fifo),
        mask_threshold=float(mask_threshold),
        ratio=float(ratio),
        spline_fired=replay_spline_detector(matrix, codes["epochs"], window, threshold),
        mask_fired=replay_mask_detector(
            [np.asarray(v) for v in gammas["values"]],
            gammas["epochs"],
            ratio,
            fifo=fifo,
            threshold=mask_threshold,
        ),
        spline_earliest=earliest_possible_epoch(window),
        mask_earliest=earliest_possible_epoch(fifo - 1),
        seed=int(dense.get("seed", 0)),
    )


def _window_cells(epochs: list, epoch: int, width: int) -> tuple[float, float] | None:
    """The span ``(first, last)`` of the ``width`` recorded epochs before ``epoch``."""
    if epoch not in epochs or epochs.index(epoch) < width:
        return None
    at = epochs.index(epoch)
    return epochs[at - width], epochs[at - 1]


def early_bird_figure(
    dense: dict | None = None,
    trajectory: dict | None = None,
    epoch: int | None = None,
    data: EarlyBirdEpoch | None = None,
    **settings,
):
    """The first-layer splines on the canvas (left) and the code distance matrix with both
    rules' windows and firing epochs (right), at ``epoch`` of the run (or ``data`` of
    :func:`early_bird_data`; ``settings``: its window and threshold arguments). Returns the
    figure."""

    data = early_bird_data(dense, trajectory, epoch, **settings) if data is None else data
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(9.0, 4.9), constrained_layout=True, width_ratios=(1, 1.2)
    )
    side = data.splines.shape[-1]
    axis = np.linspace(0, 1, side)
    for masks, color, width, style in (
        (data.splines_before, EARLIER_COLOR, 1.0, "--"),
        (data.splines, OKABE_ITO["blue"], 1.6, "-"),
    ):
        if masks is None:
            continue
        for mask in masks:
            if mask.any() and not mask.all():  # the spline crosses the canvas
                left.contour(
                    axis,
                    axis,
                    mask.astype(float),
                    levels=[0.5],
                    colors=[color],
                    linewidths=width,
                    linestyles=style,
                )
    left.set(xlim=(0, 1), ylim=(0, 1), aspect="equal", xlabel=r"$\beta$", ylabel=r"$\alpha$")
    left.set_title(
        f"first-layer splines of {len(data.splines)} neurons on the canvas\n"
        f"epoch {data.epoch} (blue), the epoch before (grey dashed);\n"
        f"{data.regions} regions seen on the {side} x {side} grid",
        fontsize=9,
    )
    epochs = data.epochs
    extent = (epochs[0] - 0.5, epochs[-1] + 0.5, epochs[0] - 0.5, epochs[-1] + 0.5)
    image = right.imshow(
        data.matrix, cmap="viridis", origin="lower", extent=extent, interpolation="nearest"
    )
    fig.colorbar(
        image,
        ax=right,
        fraction=0.046,
        pad=0.03,
        label="code distance (share of code bits that differ)",
    )
    outline = [effects.withStroke(linewidth=3.2, foreground="black")]
    spline_color, mask_color = "white", OKABE_ITO["orange"]

    def box(x0, x1, y0, y1, color, style, width):
        right.add_patch(
            Rectangle(
                (x0 - 0.5, y0 - 0.5),
                x1 - x0 + 1,
                y1 - y0 + 1,
                fill=False,
                ec=color,
                ls=style,
                lw=width,
                path_effects=outline,
                zorder=4,
            )
        )

    for fired, earliest, color, width in (
        (data.spline_fired, data.spline_earliest, spline_color, data.window),
        (data.mask_fired, data.mask_earliest, mask_color, data.fifo - 1),
    ):
        now = data.epoch if data.epoch >= earliest else None  # the rule can decide by now
        for at, style, lw in ((fired, "--", 1.2), (now, "-", 2.0)):
            span = None if at is None else _window_cells(epochs, at, width)
            if span is None:
                continue
            if color == spline_color:  # below the diagonal: row = the newest epoch
                box(span[0], span[1], at, at, color, style, lw)
            else:  # above it: column = the newest epoch
                box(at, at, span[0], span[1], color, style, lw)
    if data.epoch in epochs:
        box(data.epoch, data.epoch, data.epoch, data.epoch, "white", "-", 1.4)
    for fired, color, marker in (
        (data.spline_fired, spline_color, "*"),
        (data.mask_fired, mask_color, "D"),
    ):
        if fired is not None:
            right.plot(
                fired,
                fired,
                marker,
                color=color,
                ms=11 if marker == "*" else 7,
                mec="black",
                mew=0.8,
                zorder=5,
            )
    right.set(xlabel="epoch", ylabel="epoch")
    right.xaxis.get_major_locator().set_params(integer=True)
    right.yaxis.get_major_locator().set_params(integer=True)
    right.set_title(
        "code distances between epochs (mean over ReLU layers);\n"
        "each rule's window at this epoch (solid) and where it fired (dashed)",
        fontsize=9,
    )

    def fired_text(fired):
        return "never fires" if fired is None else f"fires at epoch {fired}"

    handles = [
        plt.Line2D(
            [],
            [],
            color=spline_color,
            marker="*",
            ms=11,
            mec="black",
            lw=2,
            path_effects=outline,
            label=f"spline rule: window {data.window}, threshold {data.threshold:g}, "
            f"{fired_text(data.spline_fired)} (codes; below the diagonal)",
        ),
        plt.Line2D(
            [],
            [],
            color=mask_color,
            marker="D",
            ms=7,
            mec="black",
            lw=2,
            path_effects=outline,
            label=f"mask rule: FIFO {data.fifo}, threshold {data.mask_threshold:g}, "
            f"p = {data.ratio:.0%}, {fired_text(data.mask_fired)} "
            f"(|gamma| masks; above it)",
        ),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=1, fontsize=8, frameon=False)
    fig.suptitle(f"Seed {data.seed}, {data.status()}", fontsize=10)
    return fig


def early_bird_widget(dense: dict, trajectory: dict, ratio: float = DEFAULTS["ratio"]):
    """An epoch slider (with a play button) and the two rules' settings, redrawing
    :func:`early_bird_figure`. Returns an ``ipywidgets.VBox`` (see :func:`~.shared.live_figure`;
    ``box.data`` is the :class:`EarlyBirdEpoch` shown)."""
    import ipywidgets as widgets  # optional: only a live kernel draws widgets

    first = early_bird_data(dense, trajectory, ratio=ratio)
    steps = list(trajectory["epochs"])
    epoch = widgets.SelectionSlider(
        options=steps, value=steps[0], description="epoch", continuous_update=False
    )
    play = widgets.Play(min=0, max=len(steps) - 1, interval=900, description="play")
    play.observe(lambda change: setattr(epoch, "value", steps[change["new"]]), names="value")
    style = {"description_width": "initial"}
    window = widgets.IntSlider(
        value=first.window,
        min=1,
        max=6,
        description="spline window",
        style=style,
        continuous_update=False,
    )
    threshold = widgets.FloatSlider(
        value=first.threshold,
        min=0.01,
        max=0.4,
        step=0.01,
        description="spline threshold",
        style=style,
        continuous_update=False,
    )
    fifo = widgets.IntSlider(
        value=first.fifo,
        min=2,
        max=7,
        description="mask FIFO",
        style=style,
        continuous_update=False,
    )
    mask_threshold = widgets.FloatSlider(
        value=first.mask_threshold,
        min=0.01,
        max=0.4,
        step=0.01,
        description="mask threshold",
        style=style,
        continuous_update=False,
    )
    controls = {
        "epoch": epoch,
        "window": window,
        "threshold": threshold,
        "fifo": fifo,
        "mask_threshold": mask_threshold,
    }

    def compute(**values) -> EarlyBirdEpoch:
        return early_bird_data(dense, trajectory, ratio=ratio, **values)

    def draw(data: EarlyBirdEpoch):
        return early_bird_figure(data=data), data.status()

    rows = [
        widgets.HBox([play, epoch]),
        widgets.HBox([window, threshold], layout=widgets.Layout(flex_flow="row wrap")),
        widgets.HBox([fifo, mask_threshold], layout=widgets.Layout(flex_flow="row wrap")),
    ]
    return live_figure(controls, rows, compute, draw)


def early_bird_scrubber(
    dense: dict,
    trajectory: dict,
    epochs: Sequence[int] | None = None,
    dpi: int = 90,
    **settings,
) -> Scrubber:
    """The static page's version: one frame per recorded epoch (or ``epochs``), with the
    rules' settings of the run (or ``settings``: see :func:`early_bird_data`), starting where
    the spline rule fires (else at the last epoch)."""
    _check_records(dense, trajectory)
    epochs = list(trajectory["epochs"]) if epochs is None else list(epochs)
    frames = frames_of(
        lambda e: early_bird_figure(data=early_bird_data(dense, trajectory, e, **settings)),
        epochs,
        dpi=check_int("dpi", dpi, 10),
    )
    fired = early_bird_data(dense, trajectory, epochs[-1], **settings).spline_fired
    return Scrubber(
        frames,
        [f"epoch {e}" for e in epochs],
        title=f"Seed {dense.get('seed', 0)}: splines and code distances, epoch by epoch",
        start=epochs.index(fired) if fired in epochs else len(epochs) - 1,
        alt="first-layer splines and code distance matrix",
    )
