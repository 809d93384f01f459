"""The selection step of pruning: from scores to the units to prune, and widths rounded for the
hardware.

:func:`select_units` turns ``{layer name: (units,) scores}`` (higher = kept longer; any
criterion of :mod:`.criteria`) into the units to prune, layerwise (the same ratio in every layer)
or globally (one threshold over scores normalised per layer), always keeping at least one unit
per layer; :func:`round_widths` gives some pruned units back so that every kept width is a
multiple of, e.g., 8.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .._validate import check_int, check_mapping, check_scores, check_unit_indices
from .masks import check_ratio

__all__ = ["round_widths", "select_units"]


def select_units(
    scores: Mapping[str, np.ndarray], ratio: float, scope: str = "layerwise"
) -> dict[str, list[int]]:
    """The units to prune, given scores: the lowest-scored, layer by layer or over all layers.

    ``layerwise``: the lowest-scored ``round(ratio * units)`` units of each layer (the same
    ratio everywhere). ``global``: the ``round(ratio * total units)`` lowest of all layers'
    scores, each divided by its layer's largest, with ties at the threshold pruned too (so the
    ratio varies between layers). Either way every layer keeps at least one unit (its best).
    Among equal scores, ``layerwise`` prunes the lower index first.

    Args:
        scores: ``{layer name: scores}``, each a non-empty 1-D array of shape ``(units,)`` of
            finite real numbers (higher = kept longer), e.g. from
            :func:`~spline_utils.pruning.criteria.unit_scores`; non-negative for ``global``,
            where they are divided by their layer's largest.
        ratio: the fraction of units to prune, in [0, 1).
        scope: ``"layerwise"`` or ``"global"``.

    Returns:
        ``{layer name: unit indices to prune}`` for every layer of ``scores``, each a sorted
        list of Python ints in ``[0, units)`` (empty when a layer loses nothing).

    Raises:
        ValueError: ``ratio`` outside [0, 1), an unknown ``scope``, an empty ``scores``, or
            scores that are empty, not 1-D, not finite, or negative (``global``).
        TypeError: ``scores`` is not a mapping.

    Example:
        >>> scores = {"0": np.array([0.3, 0.1, 0.5, 0.2]), "2": np.array([4.0, 3.9])}
        >>> select_units(scores, 0.5)  # half of each layer (layer "2": one of two)
        {'0': [1, 3], '2': [1]}
        >>> select_units(scores, 0.5, scope="global")  # half of all units, by score / layer max
        {'0': [0, 1, 3], '2': []}
    """
    ratio = check_ratio(ratio)
    if scope not in ("layerwise", "global"):
        raise ValueError(f"scope must be 'layerwise' or 'global', got {scope!r}")
    check_mapping("scores", scores)
    if not scores:
        raise ValueError("no layers to prune: scores is empty")
    scores = {
        name: check_scores(f"scores[{name!r}]", s, non_negative=scope == "global")
        for name, s in scores.items()
    }
    pruned = {}
    if scope == "layerwise":
        for name, s in scores.items():
            n = min(int(round(ratio * len(s))), len(s) - 1)
            pruned[name] = sorted(int(i) for i in np.argsort(s, kind="stable")[:n])
        return pruned
    normalised = {
        n: np.asarray(s, np.float64) / max(float(np.max(s)), 1e-300) for n, s in scores.items()
    }
    flat = np.concatenate(list(normalised.values()))
    n_total = int(round(ratio * len(flat)))
    threshold = np.sort(flat, kind="stable")[n_total - 1] if n_total else -np.inf
    for name, s in normalised.items():
        below = np.nonzero(s <= threshold)[0] if n_total else np.zeros(0, int)
        if len(below) >= len(s):
            below = np.delete(np.arange(len(s)), int(np.argmax(s)))
        pruned[name] = sorted(int(i) for i in below)
    return pruned


def round_widths(
    pruned: Mapping[str, Sequence[int]], scores: Mapping[str, np.ndarray], multiple: int = 8
) -> dict[str, list[int]]:
    """Prune fewer channels so that every layer keeps a multiple of ``multiple`` channels (or
    all of them): the number kept is rounded *up*, and the best-scored of the pruned channels
    come back. GPUs run convolutions on tiles of 8 (float16) channels, so widths such as 45
    waste part of every tile."""
    multiple = check_int("multiple", multiple, 1)
    check_mapping("pruned", pruned)
    check_mapping("scores", scores)
    missing = [name for name in pruned if name not in scores]
    if missing:
        raise ValueError(f"scores must hold every layer of pruned; missing {missing}")
    out = {}
    for name, idx in pruned.items():
        s = check_scores(f"scores[{name!r}]", scores[name])
        idx = sorted(set(check_unit_indices(f"pruned[{name!r}]", idx, len(s))))
        keep = len(s) - len(idx)
        keep = min(len(s), -(-keep // multiple) * multiple)
        back = sorted(idx, key=lambda i: (-s[i], i))[: keep - (len(s) - len(idx))]
        out[name] = sorted(set(int(i) for i in idx) - set(int(i) for i in back))
    return out
