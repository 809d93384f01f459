"""The selection step of pruning: from scores to the units to prune, and widths rounded for the
hardware.

:func:`select_units` turns ``{layer name: (units,) scores}`` (higher = kept longer; any
criterion of :mod:`.criteria`) into the units to prune, layerwise (the same ratio in every layer)
or globally (one threshold over scores normalised per layer), always keeping at least one unit
per layer; :func:`round_widths` gives some pruned units back so that every kept width is a
multiple of, e.g., 8.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np

from ..checks import check_int, check_mapping, check_scores, check_unit_indices
from .masks import check_ratio

__all__ = ["TiedThresholdWarning", "eb_threshold", "round_widths", "select_units"]


class TiedThresholdWarning(UserWarning):
    """The early-bird paper's threshold rule (:func:`eb_threshold`) prunes a share that ties
    make differ from the ratio by more than one unit per layer."""


def eb_threshold(values, ratio: float, n_layers: int = 1, what: str = "|gamma|") -> float:
    """The early-bird paper's threshold (You et al., 2020, and network slimming as its released
    code applies it): the value at index ``int(total * ratio)`` of the ascending sort of
    ``values`` (1-D, finite); the channels *strictly above* it are kept, so
    ``int(total * ratio) + 1`` are pruned when the values are distinct.

    The rule is kept as the paper has it, ties included: every value equal to the threshold is
    pruned, so tied values (an untrained network's BatchNorm scales are all 1) can prune far
    more than the ratio asks, up to every channel. A :class:`TiedThresholdWarning` says so when
    the ties make the pruned count exceed ``int(total * ratio) + 1`` by more than ``n_layers``
    (one unit per layer).

    Returns:
        The threshold, a Python float.
    """
    flat = np.sort(np.asarray(values, np.float64).reshape(-1), kind="stable")
    index = min(int(len(flat) * ratio), len(flat) - 1)
    threshold = float(flat[index])
    pruned = int(np.searchsorted(flat, threshold, side="right"))
    if pruned - (index + 1) > n_layers:
        tied = pruned - int(np.searchsorted(flat, threshold, side="left"))
        warnings.warn(
            f"{tied} of the {len(flat)} {what} values are tied at the threshold {threshold:g}: "
            f"the early-bird rule (keep the values strictly above the one at index "
            f"int(total * ratio) = {index}) drops {pruned} of {len(flat)} "
            f"({pruned / len(flat):.0%}), not about {ratio:.0%}",
            TiedThresholdWarning,
            stacklevel=3,
        )
    return threshold


def select_units(
    scores: Mapping[str, np.ndarray], ratio: float, scope: str = "layerwise"
) -> dict[str, list[int]]:
    """The units to prune, given scores: the lowest-scored, layer by layer or over all layers.

    ``layerwise``: the lowest-scored ``round(ratio * units)`` units of each layer (the same
    ratio everywhere). ``global``: the ``round(ratio * total units)`` lowest of all layers'
    scores, each divided by its layer's largest (so the ratio varies between layers). Either
    way every layer keeps at least one unit (its best, the first of its largest scores), and
    the count is exact: ties are broken, never pruned together. Among equal scores,
    ``layerwise`` prunes the lower index first; ``global`` takes tied units from every layer in
    turn, by each unit's rank within its layer relative to the layer's size (then the earlier
    layer, then the lower index), so a ratio of 0.5 over two layers of all-equal scores prunes
    half of each. Only ``ratio`` close to 1 can prune fewer (when only each layer's best
    unit would be left).

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
    n_total = int(round(ratio * sum(len(s) for s in normalised.values())))
    # candidates: every unit but each layer's best, sorted by score, then by the unit's rank
    # within its layer relative to the layer's size, then by layer and index (ties broken)
    score, share, layer, index = [], [], [], []
    for i, s in enumerate(normalised.values()):
        rank = np.empty(len(s))
        rank[np.argsort(s, kind="stable")] = np.arange(len(s)) / len(s)
        units = np.delete(np.arange(len(s)), int(np.argmax(s)))
        score.append(s[units])
        share.append(rank[units])
        layer.append(np.full(len(units), i))
        index.append(units)
    score, share, layer, index = (np.concatenate(a) for a in (score, share, layer, index))
    chosen = np.lexsort((index, layer, share, score))[:n_total]
    for i, name in enumerate(normalised):
        pruned[name] = sorted(int(k) for k in index[chosen[layer[chosen] == i]])
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
