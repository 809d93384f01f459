"""How the splines of a trained ConvNet move during training, on the probe canvas.

The spline detector's canvas is a 2-D slice of input space: the images
``alpha * x0 + beta * x1`` for ``alpha, beta`` on a ``side x side`` grid over [0, 1]
(:func:`~spline_utils.early_bird.spline_detector.canvas`). The codes recorded on it every epoch
(:class:`~spline_utils.early_bird.spline_detector.CodeRecorder`) say, for every neuron and grid
point, on which side of the neuron's spline the point lies. So the splines of a few first-layer
neurons can be drawn epoch by epoch -- the paper's Fig. 4 for a ConvNet on real images -- and the
regions counted (sampled on the grid: a region smaller than a grid cell is not seen, so the counts
are lower bounds, at most ``side**2``).

:func:`write_code_trajectory` turns a dense run's recorded code sets (large, kept with its
checkpoints) into a small results file ``code-trajectory.json`` beside the run's other results;
:func:`unit_masks` reads the neurons' on/off masks back from it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..checks import check_int
from ..records import provenance, read_json, write_json
from .spline_detector import load_code_sets

__all__ = ["code_trajectory", "unit_masks", "write_code_trajectory", "TRAJECTORY_SCHEMA"]

TRAJECTORY_SCHEMA = "spline-pruning-book/code-trajectory/v2"


def _count_regions(rows: np.ndarray) -> int:
    return int(np.unique(rows, axis=0).shape[0])


def _encode(bits: np.ndarray) -> str:
    return np.packbits(bits.astype(np.uint8)).tobytes().hex()


def code_trajectory(codes_folder: str | Path, n_units: int = 12) -> dict:
    """The first-layer splines and the region counts on the canvas at every recorded epoch.

    Args:
        codes_folder: a folder of code sets written by a
            :class:`~spline_utils.early_bird.spline_detector.CodeRecorder`.
        n_units: how many neurons of the first ReLU layer to keep: those whose spline crosses
            the canvas at the last recorded epoch (on/off both occur on the grid), evenly spaced
            through the layer; fewer if fewer cross.

    Returns:
        ``{"side", "epochs", "layer", "units", "masks", "regions_first_layer",
        "regions_all_layers"}``: the canvas side; the recorded epochs; the first ReLU layer's
        name; the chosen neurons' indices in that layer's code; per epoch and neuron, its on/off
        mask over the ``side * side`` grid points, bit-packed as a hex string (row ``i``, column
        ``j`` is ``alpha = i / (side - 1)``, ``beta = j / (side - 1)``; read them with
        :func:`unit_masks`); and per epoch the number of distinct codes on the grid, of the
        first ReLU layer and of every code layer.
    """
    n_units = check_int("n_units", n_units, 1)
    epochs, sets = load_code_sets(codes_folder)
    side = int(round(np.sqrt(sets[0].n_inputs)))
    if side * side != sets[0].n_inputs:
        raise ValueError(f"the recorded probe has {sets[0].n_inputs} inputs, not a square canvas")
    first = next(i for i, kind in enumerate(sets[0].kinds) if kind == "relu")
    last = sets[-1].unpack(first)
    crossing = np.flatnonzero(last.any(0) & ~last.all(0))
    if len(crossing) > n_units:
        crossing = crossing[np.linspace(0, len(crossing) - 1, n_units).round().astype(int)]
    out = {
        "side": side,
        "epochs": epochs,
        "layer": sets[0].names[first],
        "units": crossing.tolist(),
        "masks": [],
        "regions_first_layer": [],
        "regions_all_layers": [],
    }
    for codes in sets:
        bits = codes.unpack(first)
        out["masks"].append([_encode(bits[:, k]) for k in crossing])
        out["regions_first_layer"].append(_count_regions(codes.data[first]))
        out["regions_all_layers"].append(_count_regions(np.concatenate(codes.data, axis=1)))
    return out


def unit_masks(trajectory: dict) -> np.ndarray:
    """The neurons' on/off masks of a :func:`code_trajectory` record as a bool array of shape
    (epochs, units, side, side), indexed ``[epoch, unit, alpha, beta]``."""
    if not isinstance(trajectory, dict) or "masks" not in trajectory or "side" not in trajectory:
        raise ValueError("trajectory must be a code-trajectory record (side, masks)")
    side = trajectory["side"]
    out = np.zeros((len(trajectory["masks"]), len(trajectory["units"]), side, side), dtype=bool)
    for e, masks in enumerate(trajectory["masks"]):
        for u, text in enumerate(masks):
            bits = np.unpackbits(np.frombuffer(bytes.fromhex(text), np.uint8), count=side * side)
            out[e, u] = bits.reshape(side, side).astype(bool)
    return out


def write_code_trajectory(experiment: str | Path) -> Path:
    """Write ``code-trajectory.json`` for a dense run's folder (one that recorded its codes),
    with provenance; returns its path."""
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
