"""Early-bird detection as a controlled experiment, from the records of dense training runs.

A dense run of :mod:`spline_utils.experiments.protocols` records, for every epoch from the
untrained network on, the code distances between epochs on the spline detector's probe canvas
(per layer) and every BatchNorm scale. From those, this module replays both detectors
(:mod:`.replay`) for any window and threshold, and tabulates:

* :func:`detection_epochs` -- the firing epoch of each detector, setting and seed, with the
  earliest epoch its window allows, so that detectors can be compared at *equal windows*;
* :func:`consecutive_distances` -- per layer, how far the codes move from one epoch to the next;
* :func:`normalised_matrix` -- the epoch-by-epoch distance matrix in the authors' form (their
  first BN layer(s) only, min-max normalised) or the book's (the mean over every ReLU layer).

Inputs are the ``dense.json`` records (dicts) of :func:`~spline_utils.experiments.results_files.load_records`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..checks import check_int, check_sequence
from .replay import earliest_possible_epoch, replay_mask_detector, replay_spline_detector
from .spline_detector import distance_matrix

__all__ = ["consecutive_distances", "detection_epochs", "normalised_matrix", "training_record"]


def _check_record(record) -> dict:
    if not isinstance(record, dict) or "code_distances" not in record or "bn_gammas" not in record:
        raise ValueError(
            "record must be a dense run's results file with recorded codes and BatchNorm scales "
            "(code_distances, bn_gammas); run the experiment with record_codes > 0"
        )
    return record


def detection_epochs(
    records: Sequence[dict],
    windows: Sequence[int] = (1, 2, 3, 4, 5),
    spline_thresholds: Sequence[float] = (0.04, 0.08, 0.12, 0.16, 0.2),
    mask_thresholds: Sequence[float] = (0.02, 0.05, 0.1, 0.2),
    ratios: Sequence[float] = (0.3, 0.5, 0.7),
    include_initial: bool = False,
) -> pd.DataFrame:
    """The epoch at which each detector fires, for every seed, window and threshold.

    The spline detector with window ``w`` compares the newest codes with the ``w`` epochs
    before; the mask detector with the same window has a FIFO of ``w + 1`` masks. Both are
    checked after every epoch (``include_initial=True``: the untrained state counts too, as in
    the released early-bird code).

    Returns:
        pandas.DataFrame: one row per seed, detector, ratio, window and threshold, with
        ``epoch`` (NaN if it never fires within the run) and ``earliest``, the first epoch the
        window allows. The spline detector does not depend on the ratio (``ratio`` NaN).
    """
    windows = check_sequence("windows", windows, lambda n, v: check_int(n, v, 1))
    rows = []
    for record in records:
        record = _check_record(record)
        seed = record["seed"]
        codes, gammas = record["code_distances"], record["bn_gammas"]
        for window in windows:
            earliest = earliest_possible_epoch(window, include_initial)
            for threshold in spline_thresholds:
                epoch = replay_spline_detector(
                    codes["matrix"], codes["epochs"], window, threshold, include_initial
                )
                rows.append(_row(seed, "spline", np.nan, window, threshold, epoch, earliest))
            for ratio in ratios:
                for threshold in mask_thresholds:
                    epoch = replay_mask_detector(
                        [np.asarray(v) for v in gammas["values"]],
                        gammas["epochs"],
                        ratio,
                        fifo=window + 1,
                        threshold=threshold,
                        include_initial=include_initial,
                    )
                    rows.append(_row(seed, "mask", ratio, window, threshold, epoch, earliest))
    return pd.DataFrame(rows)


def _row(seed, detector, ratio, window, threshold, epoch, earliest) -> dict:
    return {
        "seed": seed,
        "detector": detector,
        "ratio": ratio,
        "window": window,
        "threshold": threshold,
        "epoch": np.nan if epoch is None else epoch,
        "earliest": earliest,
    }


def consecutive_distances(record: dict) -> pd.DataFrame:
    """Per code layer, the code distance between each recorded epoch and the one before:
    rows = epochs (from the second recorded one), columns = layer names (ReLU layers only)."""
    codes = _check_record(record)["code_distances"]
    per_layer = np.asarray(codes["per_layer"])
    relu = [i for i, kind in enumerate(codes["kinds"]) if kind == "relu"]
    steps = np.stack([per_layer[i, 1:, :-1].diagonal() for i in relu], 1)
    return pd.DataFrame(
        steps,
        index=pd.Index(codes["epochs"][1:], name="epoch"),
        columns=[codes["layers"][i] for i in relu],
    )


def normalised_matrix(record: dict, first_layers: int | None = None) -> np.ndarray:
    """The epoch-by-epoch code distance matrix. ``first_layers=None``: the book's form, the
    mean over every ReLU layer, as the spline detector uses it. ``first_layers=n``: the authors'
    form for their Fig. 5 -- the mean over the first ``n`` ReLU (BN-output) layers, min-max
    normalised to [0, 1]."""
    codes = _check_record(record)["code_distances"]
    if first_layers is None:
        return np.asarray(codes["matrix"])
    first_layers = check_int("first_layers", first_layers, 1)
    per_layer = np.asarray(codes["per_layer"])
    relu = [i for i, kind in enumerate(codes["kinds"]) if kind == "relu"][:first_layers]
    matrix = per_layer[relu].mean(0)
    low, high = matrix.min(), matrix.max()
    return (matrix - low) / (high - low) if high > low else np.zeros_like(matrix)


def training_record(seed: int, code_sets, code_epochs, gammas) -> dict:
    """A record in the form :func:`detection_epochs` reads, from a training run watched in this
    process: the code sets of a probe (e.g. a
    :class:`~spline_utils.early_bird.spline_detector.SplineEBDetector` with ``keep_all=True``)
    at ``code_epochs``, and a :class:`~spline_utils.early_bird.replay.GammaRecorder`."""
    code_epochs = list(code_epochs)
    if len(code_sets) != len(code_epochs) or not code_sets:
        raise ValueError(
            f"code_sets and code_epochs must be non-empty and of equal length, got "
            f"{len(code_sets)} code sets and {len(code_epochs)} epochs"
        )
    epochs = [check_int("code_epochs entry", e, 0) for e in code_epochs]
    if epochs != sorted(set(epochs)):
        raise ValueError(f"code_epochs must be increasing (each epoch once), got {epochs}")
    if len(gammas.values) != len(gammas.epochs):
        raise ValueError(
            f"gammas must hold one record per epoch, got {len(gammas.values)} records for "
            f"{len(gammas.epochs)} epochs"
        )
    return {
        "seed": int(seed),
        "code_distances": {"epochs": code_epochs, "matrix": distance_matrix(code_sets).tolist()},
        "bn_gammas": {
            "layers": [list(layer) for layer in gammas.layers],
            "epochs": list(gammas.epochs),
            "values": [v.tolist() for v in gammas.values],
        },
    }
