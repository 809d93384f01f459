"""How the partition of a trained ConvNet moves during training, on the probe canvas.

The spline detector's canvas is a 2-D slice of input space: the images
``alpha * x0 + beta * x1`` for ``alpha, beta`` on a ``side x side`` grid over [0, 1]
(:func:`~spline_utils.early_bird.spline_detector.canvas`). The codes recorded on it every epoch
(:class:`~spline_utils.early_bird.spline_detector.CodeRecorder`) name the region of every grid
point, so the regions -- of the first ReLU layer, and of the whole network -- can be drawn epoch by
epoch: the paper's Fig. 4 for a ConvNet on real images, sampled on the grid (a region smaller than
a grid cell is not seen).

:func:`write_code_trajectory` turns a dense run's recorded code sets (large, kept with its
checkpoints) into a small results file ``code-trajectory.json`` beside the run's other results.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .spline_detector import load_code_sets

__all__ = ["code_trajectory", "write_code_trajectory", "TRAJECTORY_SCHEMA"]

TRAJECTORY_SCHEMA = "spline-pruning-book/code-trajectory/v1"


def _region_ids(rows: np.ndarray) -> np.ndarray:
    """Region index of every grid point, numbered in order of first appearance."""
    _, first, inverse = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))  # number regions by where they first occur
    return order[inverse.reshape(-1)]


def code_trajectory(codes_folder: str | Path) -> dict:
    """Region indices of the canvas points at every recorded epoch.

    Returns:
        ``{"side", "epochs", "first_layer", "all_layers"}``: the canvas side, the recorded epochs,
        and for each epoch a list of ``side * side`` region indices (row ``i``, column ``j`` is
        ``alpha = i / (side - 1)``, ``beta = j / (side - 1)``) by the codes of the first ReLU layer
        alone and of every code layer.
    """
    epochs, sets = load_code_sets(codes_folder)
    side = int(round(np.sqrt(sets[0].n_inputs)))
    if side * side != sets[0].n_inputs:
        raise ValueError(f"the recorded probe has {sets[0].n_inputs} inputs, not a square canvas")
    first = next(i for i, kind in enumerate(sets[0].kinds) if kind == "relu")
    out = {"side": side, "epochs": epochs, "first_layer": [], "all_layers": []}
    for codes in sets:
        out["first_layer"].append(_region_ids(codes.data[first]).tolist())
        out["all_layers"].append(_region_ids(np.concatenate(codes.data, axis=1)).tolist())
    return out


def write_code_trajectory(experiment: str | Path) -> Path:
    """Write ``code-trajectory.json`` for a dense run's folder (one that recorded its codes),
    with provenance; returns its path."""
    import torch

    from ..experiments.provenance import provenance, read_json, write_json

    experiment = Path(experiment)
    dense = read_json(experiment / "dense.json")
    record = {
        "schema": TRAJECTORY_SCHEMA,
        "dataset": dense["dataset"],
        "arch": dense["arch"],
        "seed": dense["seed"],
        **code_trajectory(experiment / "checkpoints" / "codes"),
        "provenance": provenance(torch.device("cpu")),
    }
    path = experiment / "code-trajectory.json"
    write_json(path, record)
    return path
