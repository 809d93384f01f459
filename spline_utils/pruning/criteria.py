"""Pruning criteria as the chapters call them: scores of units, and the selection step.

A *criterion* scores every unit (neuron, channel) of the layers it is given,
``{layer name: (units,) float64}``, higher = more important = kept longer (:func:`unit_scores`);
:func:`select_units` turns scores into the units to prune, layerwise (the same ratio in every
layer) or globally (one threshold over scores normalised per layer), always keeping at least one
unit per layer. Every criterion is an object of a :class:`~.criterion.Criterion` subclass
(:mod:`.criterion`: the protocol and the book's criteria; :mod:`.library_criteria`:
Torch-Pruning's), named in the one registry of pruning methods, :mod:`.methods`, whose table lists
every name: look one up with :func:`get_criterion`, add one with :func:`register_criterion`.

All of these *delete* units: the selected units get zero masks (:mod:`.masks`) or are removed
(:mod:`.physical`), and nothing else in the network changes. *Merging*, which rewrites the next
layer's weights so that a kept unit takes over a deleted one's output, is not a score: it is the
node-pruning rule ``spline-merge`` of :mod:`.merging` (Chapter 3), beside ``spline-delete``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ..spline_view.model_walk import structure_of
from .criterion import (
    Criterion,
    FromMask,
    Magnitude,
    Random,
    Slimming,
    SplinePolicy,
    default_layers,
)
from .masks import PruningMask, check_ratio
from .methods import CRITERIA, MERGE_RULES, get_criterion, register_criterion
from .selection import eb_threshold, round_widths, select_units
from .spline_policy import outgoing_norms, spline_scores

__all__ = [
    "CRITERIA",
    "Criterion",
    "FromMask",
    "Magnitude",
    "Random",
    "RESERVED_NAMES",
    "Slimming",
    "SplinePolicy",
    "default_layers",
    "get_criterion",
    "outgoing_norms",  # the spline policy's pieces, defined in spline_policy.py
    "register_criterion",
    "round_widths",  # the selection step, defined in selection.py
    "select_units",
    "slimming_units",
    "spline_scores",
    "unit_scores",
]

#: the names of :mod:`.merging`'s node-pruning rules, which no criterion may take (the
#: registry refuses every name of another kind: :data:`~.methods.MERGE_RULES`)
RESERVED_NAMES = MERGE_RULES


def unit_scores(
    model: nn.Module,
    criterion: str | Criterion,
    layers: Sequence[str] | None = None,
    seed: int = 0,
    mask: PruningMask | None = None,
    data: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> dict[str, np.ndarray]:
    """Importance scores of the units of ``layers`` by one criterion (higher = kept longer).

    A unit is an output feature of a Linear or an output channel of a Conv2d. The model is not
    changed (the criteria that read data work on a copy).

    Args:
        model: the network (or its
            :class:`~spline_utils.spline_view.structure.NetworkStructure`); its parameters and
            BatchNorm statistics must be finite.
        criterion: a name of :data:`~.methods.CRITERIA` (the table of :mod:`.methods`) or a
            :class:`~.criterion.Criterion`.
        layers: qualified names of prunable layers (Linear / Conv2d) to score; default:
            :func:`default_layers` (each layer with a BatchNorm after it in its block, or, in a
            model without BatchNorm, every Linear / Conv2d but the last).
        seed: seeds the random criteria (``"random"``), an integer >= 0; the others ignore it.
        mask: the :class:`~spline_utils.pruning.masks.PruningMask` the ``"mask"`` criterion
            scores; given exactly when the criterion needs one.
        data: a batch ``(x, y)`` of training inputs, shape ``(N, *input_shape)``, and class
            labels, shape ``(N,)``, for the criteria that read data (the Torch-Pruning
            criteria of :mod:`.library_criteria`); the others ignore it.

    Returns:
        ``{layer name: scores}`` in the order of ``layers``, each a float64 array of shape
        ``(units,)``. Scores are unitless and on each criterion's own scale (an L1 norm of
        weights, a ``|gamma|``, a 0 / 1 flag, ...): compare them within one criterion only.

    Raises:
        ValueError: an unknown criterion or layer, no layers, ``mask`` given to a criterion
            that takes none (or missing for ``"mask"``), ``data`` missing for a criterion that
            needs it, no BatchNorm after a layer for a criterion that reads one, or parameters
            that are not finite.
        TypeError: ``layers`` is a single string, or ``mask`` is not a ``PruningMask``.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> net = su.make_mlp([2, 6, 6, 1])
        >>> scores = unit_scores(net, "magnitude")  # layers "0" and "2": all Linears but the last
        >>> {name: (s.shape, s.dtype) for name, s in scores.items()}
        {'0': ((6,), dtype('float64')), '2': ((6,), dtype('float64'))}
        >>> np.allclose(scores["0"], net[0].weight.detach().abs().sum(1).numpy())  # L1 of rows
        True
    """
    scorer = get_criterion(criterion)
    if scorer.needs_mask != (mask is not None):
        names = " or ".join(repr(n) for n, c in CRITERIA.items() if c.needs_mask)
        raise ValueError(
            f"pass mask=... exactly when the criterion is {names}; "
            f"criterion {scorer.name!r} {'needs a mask' if scorer.needs_mask else 'takes none'}"
        )
    return scorer.scores(structure_of(model), layers, seed=seed, mask=mask, data=data)


def slimming_units(
    model: nn.Module, ratio: float, layers: Sequence[str] | None = None
) -> dict[str, list[int]]:
    """Network slimming's selection (also the EB paper's mask): one global threshold on the raw
    ``|gamma|`` of the BatchNorms after ``layers`` (default: :func:`default_layers`), the value at
    index ``int(total * ratio)`` of the ascending sort; channels with ``|gamma|`` strictly above
    it are kept. Every layer keeps at least one channel (its largest ``|gamma|``); ``ratio=0``
    prunes nothing. Returns ``{layer name: pruned channel indices}``.

    The early-bird paper's rule is kept deliberately, ties included
    (:func:`~spline_utils.pruning.selection.eb_threshold`): with distinct ``|gamma|`` it prunes
    ``int(total * ratio) + 1`` channels, but every channel tied at the threshold is pruned too,
    so tied scales (an untrained network's are all 1) can prune far more than ``ratio``; a
    :class:`~spline_utils.pruning.selection.TiedThresholdWarning` says so when the ties add
    more than one channel per layer. For an exact count use
    :func:`~spline_utils.pruning.selection.select_units`."""
    ratio = check_ratio(ratio)
    scores = unit_scores(model, "slimming", layers)
    if ratio == 0.0:
        return {name: [] for name in scores}
    flat = np.concatenate(list(scores.values()))
    threshold = eb_threshold(flat, ratio, len(scores), "|gamma|")
    pruned = {}
    for name, s in scores.items():
        below = np.nonzero(s <= threshold)[0]
        if len(below) >= len(s):
            below = np.delete(np.arange(len(s)), int(np.argmax(s)))
        pruned[name] = sorted(int(i) for i in below)
    return pruned
