"""Figures of experiment results: accuracy against pruning ratio and training cost, and the
epoch-by-epoch code distance matrix of an early-bird run (the paper's Fig. 5).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .style import OKABE_ITO


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
