"""Figures of experiment results: accuracy against pruning ratio and training cost, and the
epoch-by-epoch code distance matrix of an early-bird run (the paper's Fig. 5).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..experiments.results_files import summary
from .style import OKABE_ITO

#: what the right panel of :func:`plot_pruning_results` puts on its x axis
COST_AXES = {
    "training_flops": ("total training FLOPs (forward + backward)", "accuracy vs training cost"),
    "flops_fraction": (
        "inference FLOPs per image (fraction of the dense network)",
        "accuracy vs inference cost",
    ),
}


def plot_pruning_results(frame, suptitle: str | None = None, cost: str = "training_flops"):
    """Two panels from :func:`~spline_utils.experiments.results_files.load_results` rows of one
    data set and architecture: test accuracy against pruning ratio (one line per method, the
    dense network as a dotted line) and against a cost (one marker per method and ratio).

    With several seeds, markers are the means over seeds and the bars their standard
    deviations (the dense network's as a grey band). Early-bird runs are dashed, with hollow
    markers (their colours repeat those of the other methods).

    Args:
        frame: the rows (runs); their ``protocol``, ``method``, ``ratio``, ``seed``,
            ``test_acc`` and ``cost`` columns are used.
        suptitle: the figure's title.
        cost: the right panel's x axis, ``"training_flops"`` (total training FLOPs of the run,
            linear scale) or ``"flops_fraction"`` (inference FLOPs per image over the dense
            network's).

    Returns:
        The figure.
    """

    if cost not in COST_AXES:
        raise ValueError(f"cost must be one of {', '.join(COST_AXES)}; got {cost!r}")
    if cost not in frame.columns:
        raise ValueError(f"frame has no {cost!r} column: pass rows of load_results")
    acc, spent = summary(frame), summary(frame, cost)
    # one seed: no spread (pandas leaves those rows out of the std table)
    acc_std = summary(frame, spread=True).reindex_like(acc).fillna(0.0)
    spent_std = summary(frame, cost, spread=True).reindex_like(spent).fillna(0.0)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.4), constrained_layout=True)
    palette = list(OKABE_ITO.values())
    markers = "osD^v<>P*X"
    dense = frame[frame["protocol"] == "dense"]
    for i, method in enumerate(acc.index):
        style = dict(
            color=palette[i % len(palette)], marker=markers[i % len(markers)], label=method, ms=5
        )
        if method.startswith("eb-"):  # hollow: told apart from the method of the same colour
            style.update(mfc="white", mew=1.5)
        bars = dict(capsize=2, elinewidth=0.8)
        ratios = np.asarray(acc.columns, dtype=float) * 100
        y, dy = acc.loc[method].values, acc_std.loc[method].fillna(0).values
        left.errorbar(
            ratios, y, yerr=dy, ls="--" if method.startswith("eb-") else "-", **style, **bars
        )
        right.errorbar(
            spent.loc[method].values,
            y,
            xerr=spent_std.loc[method].fillna(0).values,
            yerr=dy,
            ls="none",
            **style,
            **bars,
        )
    if not dense.empty:
        mean, std = dense["test_acc"].mean(), dense["test_acc"].std()
        left.axhline(mean, color="black", linestyle=":", label="dense")
        if len(dense) > 1:
            left.axhspan(mean - std, mean + std, color="grey", alpha=0.2, lw=0)
        dense_cost = dense[cost].mean() if cost in dense.columns else np.nan
        if cost == "flops_fraction":
            dense_cost = 1.0
        right.errorbar(
            dense_cost,
            mean,
            yerr=std if len(dense) > 1 else 0,
            fmt="k*",
            ms=11,
            capsize=2,
            label="dense",
        )
    xlabel, title = COST_AXES[cost]
    left.set(
        xlabel="pruning ratio (% of channels)",
        ylabel="test accuracy",
        title="accuracy vs pruning ratio",
    )
    # inference FLOPs span decades (log); training FLOPs of one experiment less than one (linear,
    # a few plain ticks, legible at page width)
    right.set(
        xscale="log" if cost == "flops_fraction" else "linear",
        xlabel=xlabel,
        ylabel="test accuracy",
        title=title,
    )
    if cost == "training_flops":
        right.xaxis.set_major_locator(plt.MaxNLocator(5))
    handles, labels = left.get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncol=min(len(labels), 5),
        fontsize=8,
        frameon=False,
    )
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
    masks = {}  # one line per epoch, labelled with every mask detector that fired there
    for name, epoch in fired.items():
        if name != "spline" and epoch:
            masks.setdefault(epoch, []).append(name.removeprefix("mask-"))
    for epoch, names in sorted(masks.items()):
        ax.axhline(
            epoch,
            color=OKABE_ITO["orange"],
            ls=":",
            lw=1.5,
            label=f"mask EB {', '.join(names)} (epoch {epoch})",
        )
    ax.set(xlabel="epoch", ylabel="epoch")
    ax.set_title(
        title or f"code distance between epochs ({codes['canvas']}x{codes['canvas']} canvas)",
        fontsize=10,
    )
    if fired.get("spline") or masks:  # below the matrix, off the pixels
        ax.legend(  # grey behind the legend, so the spline detector's white line shows
            loc="upper center", bbox_to_anchor=(0.5, -0.14), fontsize=8, ncol=2, facecolor="0.6"
        )
    return ax
