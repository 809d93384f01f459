"""What early-bird tickets buy, from results tables: firing-epoch summaries at equal windows,
training-FLOPs savings with the detector counted, and ticket accuracy against pruning after
training as paired differences (Chapter 4).

Inputs are the tables of :func:`~spline_utils.early_bird.analysis.detection_epochs` (firing
epochs replayed from dense runs) and of :func:`~spline_utils.experiments.results_files.load_results`
(one row per run, with ``protocol``, ``method``, ``ratio``, ``seed``, ``detector``, ``test_acc``,
``training_flops``, ``detector_flops``, ``searched_epochs``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..checks import check_int
from ..statistics import compare_family, holm, paired_difference, verdict

__all__ = [
    "firing_comparisons",
    "firing_summary",
    "payoff_table",
    "rule_comparisons",
    "ticket_comparisons",
]


def firing_summary(table: pd.DataFrame, first_drop: int | None = None) -> pd.DataFrame:
    """Firing epochs per detector setting, over seeds.

    Args:
        table: rows of :func:`~spline_utils.early_bird.analysis.detection_epochs`.
        first_drop: the last epoch (1-based) trained at the first learning rate -- the schedule's
            first milestone; with it, ``before_drop`` counts the firings at or before it.

    Returns:
        One row per (detector, ratio, window, threshold), with ``seeds``, ``fired`` (how many seeds
        fired within the run), ``earliest`` (the first epoch the window allows), ``at_earliest``
        (firings there), ``median``, ``low``, ``high`` (over the seeds that fired), the
        firing ``epochs`` per seed as text (``-`` = never) and, with ``first_drop``,
        ``before_drop``. The spline detector's ``ratio`` is shown as ``-``.

    Example:
        >>> t = pd.DataFrame({"seed": [0, 1], "detector": "spline", "ratio": np.nan,
        ...                   "window": 3, "threshold": 0.16, "epoch": [9.0, np.nan],
        ...                   "earliest": 4})
        >>> firing_summary(t, first_drop=15)[["fired", "before_drop", "epochs"]].to_dict("records")
        [{'fired': 1, 'before_drop': 1, 'epochs': '9, -'}]
    """
    needed = {"seed", "detector", "ratio", "window", "threshold", "epoch", "earliest"}
    if not isinstance(table, pd.DataFrame) or not needed <= set(table.columns):
        raise ValueError(f"table must be a detection_epochs table with columns {sorted(needed)}")
    if first_drop is not None:
        first_drop = check_int("first_drop", first_drop, 1)
    frame = table.assign(ratio=table.ratio.map(lambda r: "-" if pd.isna(r) else f"{r:g}"))
    rows = []
    keys = ["detector", "ratio", "window", "threshold"]
    for key, group in frame.sort_values("seed").groupby(keys, sort=True):
        epochs = group.epoch.dropna()
        row = dict(zip(keys, key))
        row.update(
            seeds=len(group),
            fired=len(epochs),
            earliest=int(group.earliest.iloc[0]),
            at_earliest=int((epochs == group.earliest.loc[epochs.index]).sum()),
            median=float(epochs.median()) if len(epochs) else np.nan,
            low=float(epochs.min()) if len(epochs) else np.nan,
            high=float(epochs.max()) if len(epochs) else np.nan,
            epochs=", ".join("-" if pd.isna(e) else str(int(e)) for e in group.epoch),
        )
        if first_drop is not None:
            row["before_drop"] = int((epochs <= first_drop).sum())
        rows.append(row)
    return pd.DataFrame(rows).set_index(keys)


def payoff_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Every early-bird run next to the prune-after-training run with the same rule, ratio and
    seed (the same dense training, the same fine-tuning; only *when* the channels are chosen
    differs).

    Returns:
        The early-bird rows with ``after_acc`` and ``after_training_flops`` (the after-training
        run's), ``accuracy_gap`` (ticket minus after training, in accuracy), ``saving`` (after
        training's training FLOPs over the ticket's, the detector's forward passes counted in
        the ticket's) and ``saving_without_detector``.

    Raises:
        ValueError: a needed column is missing, or an early-bird run has no after-training
            partner.
    """
    needed = {"protocol", "method", "ratio", "seed", "test_acc", "training_flops", "detector_flops"}
    if not isinstance(runs, pd.DataFrame) or not needed <= set(runs.columns):
        raise ValueError(f"runs must be a load_results table with columns {sorted(needed)}")
    keys = ["method", "ratio", "seed"]
    after = runs[runs.protocol == "prune-finetune"].set_index(keys)
    if after.index.duplicated().any():
        raise ValueError("runs holds two prune-after-training runs for one (method, ratio, seed)")
    eb = runs[runs.protocol == "early-bird"].copy()
    index = pd.MultiIndex.from_frame(eb[keys])
    missing = ~index.isin(after.index)
    if missing.any():
        first = eb[missing].iloc[0]
        raise ValueError(
            f"early-bird run {first.get('run', '?')} (seed {first.seed}) has no prune-after-training "
            f"run with rule {first.method!r} at ratio {first.ratio}"
        )
    partner = after.loc[index]
    eb["after_acc"] = partner.test_acc.to_numpy()
    eb["after_training_flops"] = partner.training_flops.to_numpy()
    eb["accuracy_gap"] = eb.test_acc - eb.after_acc
    eb["saving"] = eb.after_training_flops / eb.training_flops
    eb["saving_without_detector"] = eb.after_training_flops / (
        eb.training_flops - eb.detector_flops
    )
    return eb


def ticket_comparisons(
    runs: pd.DataFrame, confidence: float = 0.95, min_seeds: int = 2
) -> pd.DataFrame:
    """Test accuracy of early-bird tickets against pruning after training, paired by seed, as one
    family of tests (Holm): for every rule and ratio, each detector's ticket vs after training,
    and the two detectors' tickets against each other where both exist. A comparison is made
    where at least ``min_seeds`` seeds have both sides (the others are left out of the family).

    Returns:
        :func:`~spline_utils.statistics.compare_family`'s table (differences in accuracy, a - b),
        indexed by contrast, rule (``method``) and ratio.
    """
    eb = payoff_table(runs)
    after = runs[runs.protocol == "prune-finetune"]
    frame = pd.concat(
        [
            eb.assign(route="EB " + eb.detector.astype(str)),
            after[after.method.isin(set(eb.method))].assign(route="after training"),
        ],
        ignore_index=True,
    )
    routes = sorted(set(frame.route) - {"after training"})
    contrasts = [(route, "after training") for route in routes]
    if {"EB spline", "EB mask"} <= set(routes):
        contrasts.append(("EB spline", "EB mask"))
    return compare_family(
        frame,
        "test_acc",
        "route",
        contrasts,
        by=["method", "ratio"],
        confidence=confidence,
        skip_incomplete=True,
        min_pairs=min_seeds,
    )


def rule_comparisons(
    runs: pd.DataFrame,
    detector: str = "spline",
    contrasts=(("spline-global", "slimming"), ("slimming", "random")),
    confidence: float = 0.95,
    min_seeds: int = 2,
) -> pd.DataFrame:
    """Test accuracy of one detector's tickets pruned by two rules, paired by seed (the same
    dense run and ticket epoch, so only the rule differs), as one family of tests (Holm): every
    contrast at every ratio where at least ``min_seeds`` seeds have both rules.

    Args:
        runs: results rows (see the module docstring); the early-bird rows of ``detector`` are
            used.
        detector: ``"spline"`` or ``"mask"``.
        contrasts: pairs of rule names ``(a, b)``; each difference is a - b.

    Returns:
        :func:`~spline_utils.statistics.compare_family`'s table (differences in accuracy, a - b),
        indexed by contrast (``"a vs b"``) and ratio.

    Raises:
        ValueError: ``detector`` is not ``"spline"`` or ``"mask"``, or a rule of ``contrasts``
            has no ticket of that detector.
    """
    if detector not in ("spline", "mask"):
        raise ValueError(f"detector must be 'spline' or 'mask', got {detector!r}")
    tickets = runs[(runs.protocol == "early-bird") & (runs.detector == detector)]
    missing = sorted({rule for pair in contrasts for rule in pair} - set(tickets.method))
    if missing:
        raise ValueError(
            f"contrasts name rules with no {detector} ticket in runs: {missing}; "
            f"rules present: {sorted(set(tickets.method))}"
        )
    return compare_family(
        tickets,
        "test_acc",
        "method",
        list(contrasts),
        by="ratio",
        confidence=confidence,
        skip_incomplete=True,
        min_pairs=min_seeds,
    )


def firing_comparisons(
    tables: dict, min_seeds: int = 3, one_family: bool = False, confidence: float = 0.95
) -> pd.DataFrame:
    """The spline rule's firing epoch minus the mask rule's at the same window, paired by seed,
    for every architecture, mask ratio and window of ``tables``.

    Args:
        tables: ``{architecture: detection_epochs table}`` (one spline threshold, one mask
            threshold; every rule must have fired in every seed, so that no seed is dropped).
        min_seeds: settings with fewer seeds are left out.
        one_family: Holm's correction over every test of every architecture together; by
            default one family per architecture.

    Returns:
        A DataFrame indexed by ``(arch, mask ratio, window)`` with ``n``, ``mean``, ``low``,
        ``high``, ``p`` (paired t-test), ``same shift`` (every seed differs by the same number of
        epochs: no spread, so no t-test -- such a setting is reported, not tested, and left out of
        the family), ``p_holm`` (NaN where not tested) and ``verdict`` ("earlier" / "later" /
        "no difference found" for the spline rule, or the shift itself where not tested).

    Raises:
        ValueError: a rule did not fire in some seed.
    """
    min_seeds = check_int("min_seeds", min_seeds, 2)
    rows = []
    for arch, table in tables.items():
        spline = table[table.detector == "spline"].set_index(["window", "seed"]).epoch
        masks = table[table.detector == "mask"]
        for ratio in sorted(masks.ratio.unique()):
            mask = masks[masks.ratio == ratio].set_index(["window", "seed"]).epoch
            for window in sorted(set(spline.index.get_level_values("window"))):
                a, b = spline.loc[window], mask.loc[window].reindex(spline.loc[window].index)
                if a.isna().any() or b.isna().any():
                    raise ValueError(
                        f"{arch}, mask ratio {ratio}, window {window}: a rule did not fire in some "
                        "seed; dropping that seed would bias the difference"
                    )
                if len(a) < min_seeds:
                    continue
                result = paired_difference(a.to_numpy(), b.to_numpy(), confidence)
                rows.append({"arch": arch, "mask ratio": ratio, "window": window, **result})
    columns = ["arch", "mask ratio", "window", "n", "mean", "low", "high", "p"]
    out = pd.DataFrame(rows, columns=columns).set_index(["arch", "mask ratio", "window"])
    out["same shift"] = out.low == out.high
    tested = out[~out["same shift"]]
    groups = [tested] if one_family else [g for _, g in tested.groupby(level="arch", sort=False)]
    out["p_holm"] = np.nan
    for group in groups:
        out.loc[group.index, "p_holm"] = holm(group.p.to_numpy())
    words = {"lower": "earlier", "higher": "later"}
    out["verdict"] = [
        (f"{m:+.0f} in every seed (no test)" if m else "same epoch in every seed (no test)")
        if same
        else words.get(verdict(lo, hi, p, 1.0 - confidence), "no difference found")
        for m, lo, hi, p, same in zip(out["mean"], out.low, out.high, out.p_holm, out["same shift"])
    ]
    return out
