"""Node pruning of one MLP layer: by *merging* or *deleting* units, and their physical removal.

Two ways to take a unit ``k`` out of a layer (``Linear [-> BN] -> ReLU -> Linear``):

* *deleting* it -- its row, bias (and BN entries) are masked to zero (:mod:`.masks`), or it is
  removed (:mod:`.physical`). Nothing else changes: the next layer loses ``k``'s contribution.
* *merging* it into a kept unit ``j`` (:func:`merge_units`) -- ``k`` is deleted **and the next
  layer's weights are rewritten to compensate**: ``k``'s outgoing column, scaled by
  ``||w_k|| / ||w_j||``, is added to ``j``'s. Exact when the two splines coincide.

Node-pruning rules (:func:`prune_units` dispatches on these names; the registry of pruning
methods, :mod:`.methods`, names them all):

======================  =================================================  ======================  =======
name                    what it does                                       in the literature       chapter
======================  =================================================  ======================  =======
``spline-merge``        greedily deletes *or merges*, whichever bound of   spline merging: this    3, 5
                        :func:`redundancy_bounds` is smaller, recomputing  book's Chapter 3 rule,
                        the bounds after each step                         after You et al., 2022
``spline-delete``       the same greedy rule with the deletion bound only  spline deletion         3
                        (``merge=False``): nothing is merged
``spline-merge-picks``  the units ``spline-merge`` picks, all deleted:     the ablation of         3
                        the same units, without merging's compensation     merging
any registry            deletes the lowest-scored units of the layer       see the table of        3
criterion               (:func:`delete_units`): ``magnitude-l2`` and       :mod:`.criteria`
                        ``random`` are the FCNet study's baselines
======================  =================================================  ======================  =======

The bounds of ``spline-merge``: over the ball ``||z|| <= R`` that holds the layer's input data,
deleting unit ``k`` changes the next layer's pre-activation by at most
``||v_k|| ||w_k|| max(0, R + b^_k)`` (zero when the spline misses the ball with the unit off),
and merging it into unit ``j`` by at most ``||v_k|| ||w_k|| (R ||w^_j - w^_k|| + |b^_j - b^_k|)``.
Units that are off on the whole ball, or whose splines duplicate another unit's spline with the
same orientation, go first.

In *channel selection* (:mod:`.criteria`, Chapters 5-6) ``spline`` names the spline pruning
policy, a score read off the BatchNorm; in node pruning the greedy rule of Chapter 3 is always
``spline-merge`` (or ``spline-delete``, ``spline-merge-picks``), never plain ``spline``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..checks import check_bool, check_choice, check_int, check_real, is_int
from ..spline_view.code_recording import prepare_input
from ..spline_view.hyperplanes import layer_hyperplanes, normalised_hyperplanes
from ..spline_view.model_walk import module_tensor, structure_of
from ..spline_view.structure import NetworkStructure
from .criterion import Criterion, Random
from .masks import apply_mask, check_ratio, enforce_mask_, unit_mask
from .methods import MERGE_RULES, get_criterion, node_criteria
from .physical import remove_units
from .selection import select_units

__all__ = [
    "SPLINE_RULES",
    "UnitPruning",
    "delete_units",
    "input_radius",
    "merge_bound",
    "merge_units",
    "node_criteria",
    "prune_units",
    "redundancy_bounds",
    "remove_pruned_units",
    "spline_merge_pruning",
]


@dataclass
class UnitPruning:
    """Result of node pruning: the pruned copy, the pruned units (in pruning order) and which
    kept unit each pruned unit was merged into (``-1``: deleted; only ``spline-merge``
    merges)."""

    model: nn.Module
    layer: str
    pruned: list[int]
    merged_into: list[int] = field(default_factory=list)


@torch.no_grad()
def input_radius(model: nn.Module, name: str, x: torch.Tensor) -> float:
    """Largest Euclidean norm of layer ``name``'s input over the data ``x`` (eval mode)."""
    structure = structure_of(model)
    layer = structure.layer(name).module
    x = prepare_input(structure, x)
    z = module_tensor(structure, layer, x, output=False).to(torch.float64)
    return float(z.reshape(z.shape[0], -1).norm(dim=1).max())


def redundancy_bounds(model: nn.Module, name: str, radius: float, alive: np.ndarray | None = None):
    """Bounds (over ``||z|| <= radius``) on the next-layer change for every way to remove a unit.

    Returns ``(delete, merge)``: delete (units,) for deleting each unit, merge (units, units) with
    ``merge[k, j]`` for merging ``k`` into ``j`` (``inf`` on the diagonal and for units that are
    already pruned). ``alive``: bool (units,) of units still present (default: nonzero rows).
    """
    structure = structure_of(model)
    _, next_name = _mlp_block(structure, name)
    radius = check_real("radius", radius, 0.0)
    w, b = layer_hyperplanes(structure.prunable[name])
    norms = np.linalg.norm(w, axis=1)
    if alive is not None:
        alive = np.asarray(alive)
        if alive.dtype != bool or alive.shape != norms.shape:
            raise ValueError(
                f"alive must be a bool array of shape ({len(norms)},) (one entry per unit), "
                f"got {alive.dtype} {alive.shape}"
            )
    alive = norms > 0 if alive is None else alive & (norms > 0)
    w_hat, b_hat = normalised_hyperplanes(w, b)
    v = structure.prunable[next_name].module.weight.detach().to(torch.float64).cpu().numpy()
    weight = np.linalg.norm(v, axis=0) * norms  # ||v_k|| ||w_k||
    with np.errstate(invalid="ignore"):
        delete = weight * np.maximum(0.0, radius + b_hat)
        gap = radius * np.linalg.norm(w_hat[:, None] - w_hat[None], axis=2) + np.abs(
            b_hat[:, None] - b_hat[None]
        )
        merge = weight[:, None] * gap
    delete = np.where(alive, delete, np.inf)
    merge[~alive] = np.inf
    merge[:, ~alive] = np.inf
    np.fill_diagonal(merge, np.inf)
    return delete, merge


#: the node-pruning rules by the spline redundancy bounds (the module doc's table), which are
#: the merge rules of the registry (:data:`~.methods.MERGE_RULES`)
SPLINE_RULES = MERGE_RULES


def spline_merge_pruning(
    model: nn.Module, name: str, ratio: float, x: torch.Tensor, merge: bool = True
) -> UnitPruning:
    """Prune ``round(ratio * units)`` units of the Linear layer ``name`` (followed by
    ``[BN ->] ReLU -> Linear``) of a copy of ``model`` by the spline redundancy bounds.

    Greedily, the unit with the smallest bound of :func:`redundancy_bounds` goes: merged into
    its best partner when ``merge`` and the merging bound is the smaller (``spline-merge``),
    deleted otherwise; ``merge=False`` only deletes (``spline-delete``). The bounds are
    recomputed after every step. ``x``: the data, whose largest norm in the layer's input
    space sets the ball radius ``R``. ``ratio`` in [0, 1); at least one unit stays.
    """
    ratio = check_ratio(ratio)
    merge = check_bool("merge", merge)
    structure = structure_of(model)
    layer, _ = _mlp_block(structure, name)
    units = layer.weight.shape[0]
    n_prune = min(int(round(ratio * units)), units - 1)
    if x is None:
        raise ValueError("the spline rules need the data x (it sets the radius of the input ball)")
    radius = input_radius(structure, name, x)
    current = structure.copy()
    alive = np.ones(units, bool)
    pruned, merged_into = [], []
    for _ in range(n_prune):
        delete, merging = redundancy_bounds(current, name, radius, alive)
        k, j = int(np.argmin(delete)), -1
        if merge:
            k_merge, j_merge = np.unravel_index(int(np.argmin(merging)), merging.shape)
            if merging[k_merge, j_merge] < delete[k]:
                k, j = int(k_merge), int(j_merge)
        if j >= 0:
            _merge_into(current, name, j, k)
        else:
            _enforce_units(current, name, [k])
        pruned.append(k)
        merged_into.append(j)
        alive[k] = False
    return UnitPruning(current.model, name, pruned, merged_into)


def delete_units(
    model: nn.Module, name: str, ratio: float, criterion: str | Criterion, seed: int = 0
) -> UnitPruning:
    """Delete (mask) the ``round(ratio * units)`` lowest-scored units of the Linear layer
    ``name`` (followed by ``[BN ->] ReLU -> Linear``) of a copy of ``model``.

    criterion: a registry name of :mod:`.criteria` or a :class:`~.criteria.Criterion`; its
    scores of this one layer go through :func:`~.criteria.select_units` (layerwise). The pruned
    units are listed from the lowest score up. ``random`` draws its order with
    ``torch.randperm`` seeded by ``seed`` (:class:`~.criteria.Random` with
    ``generator="torch"``), as node pruning always has, so the FCNet study's random units stay
    those of its earlier runs; channel selection's ``random`` draws NumPy's ``default_rng``.
    """
    ratio = check_ratio(ratio)
    seed = check_int("seed", seed, 0)
    structure = structure_of(model)
    _mlp_block(structure, name, "node pruning")
    # node pruning has always drawn "random" with torch.randperm (see criterion.Random)
    scorer = Random(generator="torch") if criterion == "random" else get_criterion(criterion)
    if scorer.needs_batchnorm and structure.prunable[name].batchnorm is None:
        hint = " (Chapter 3's rule is 'spline-merge' or 'spline-delete')" * (
            scorer.name == "spline"
        )
        raise ValueError(
            f"criterion {scorer.name!r}, {scorer.paper_name}, needs a BatchNorm after layer "
            f"{name!r}{hint}"
        )
    scores = scorer.scores(structure, [name], seed=seed)[name]
    order = sorted(select_units({name: scores}, ratio)[name], key=lambda k: (scores[k], k))
    masked = apply_mask(structure, unit_mask(structure, {name: order}))
    return UnitPruning(masked, name, order, [-1] * len(order))


def prune_units(
    model: nn.Module,
    name: str,
    ratio: float,
    criterion: str = "spline-merge",
    x: torch.Tensor | None = None,
    seed: int = 0,
) -> UnitPruning:
    """Node pruning of the Linear layer ``name`` of a copy of ``model`` by one of
    :func:`node_criteria` (the FCNet study's entry point): ``"spline-merge"`` and
    ``"spline-delete"`` go to :func:`spline_merge_pruning` (they need the data ``x``; ``seed``
    is unused); ``"spline-merge-picks"`` deletes, without merging, exactly the units
    ``"spline-merge"`` prunes (so that merging is the only difference); any other name goes to
    :func:`delete_units` (``x`` is unused). ``ratio`` in [0, 1).

    Before issue 14 this function's ``"spline"`` was ``"spline-merge"`` and its ``"magnitude"``
    (L2 norms of incoming rows) is ``"magnitude-l2"``; ``"magnitude"`` is now the L1 norm of
    the registry, and ``"spline"`` the spline policy (it needs a BatchNorm after the layer).

    Args:
        model: an MLP in which layer ``name`` is followed by ``[BatchNorm1d ->] ReLU (or
            LeakyReLU) -> Linear``; it is not modified.
        name: the qualified name of that Linear layer (e.g. ``"0"``).
        ratio: the fraction of the layer's units to prune, in [0, 1): ``round(ratio * units)``
            units go, and at least one unit stays.
        criterion: a name of :func:`node_criteria` (the module doc's table).
        x: the data, shape ``(N, *input_shape)`` (N >= 1, finite), for the spline rules: the
            largest norm of the layer's input over ``x`` sets the radius ``R`` of the ball the
            bounds hold on.
        seed: seeds ``"random"`` (``torch.randperm``), an integer >= 0.

    Returns:
        A :class:`UnitPruning` holding the pruned copy (same shapes, pruned units masked to
        zero), ``name``, the pruned unit indices in pruning order, and for each the kept unit it
        was merged into (``-1`` for deleted; only ``"spline-merge"`` merges).

    Raises:
        ValueError: ``ratio`` outside [0, 1), a name that is not one of
            :func:`node_criteria`, a layer that is not a Linear followed by an activation and
            another Linear, ``x`` missing for a spline rule, or a criterion that reads a
            BatchNorm on a layer without one.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> net = su.make_mlp([2, 8, 8, 1])
        >>> result = prune_units(net, "0", 0.5, "spline-merge", x=torch.randn(200, 2))
        >>> result.layer, len(result.pruned), len(result.merged_into), result.model is net
        ('0', 4, 4, False)
        >>> prune_units(net, "0", 0.25, "magnitude-l2").merged_into  # deleted, not merged
        [-1, -1]
    """
    ratio = check_ratio(ratio)
    check_choice("criterion", criterion, node_criteria())
    seed = check_int("seed", seed, 0)
    structure = structure_of(model)
    if criterion == "spline-merge-picks":  # merging's units, deleted: merging ablated
        picks = spline_merge_pruning(structure, name, ratio, x, merge=True).pruned
        deleted = apply_mask(structure, unit_mask(structure, {name: picks}))  # a copy
        return UnitPruning(deleted, name, picks, [-1] * len(picks))
    if criterion in SPLINE_RULES:
        return spline_merge_pruning(structure, name, ratio, x, merge=criterion == "spline-merge")
    return delete_units(structure, name, ratio, criterion, seed)


def remove_pruned_units(model: nn.Module, name: str) -> nn.Module:
    """Physically remove the pruned units (zero rows) of MLP layer ``name``: a thin wrapper of
    :func:`~spline_utils.pruning.physical.remove_units`, the one removal path, for an MLP (its first
    layer a Linear, so that it can build the example input). The copy's Linear (and
    BatchNorm1d) has fewer outputs and its next Linear fewer inputs; the outputs are unchanged,
    because a pruned unit contributes exactly zero."""
    structure = structure_of(model)
    layer, _ = _mlp_block(structure, name)
    first = next(iter(structure.prunable.values())).module
    if not isinstance(first, nn.Linear):
        raise ValueError(
            f"remove_pruned_units needs an MLP (its first layer a Linear), got a first layer "
            f"{type(first).__name__}: use physical.remove_units with an example input"
        )
    w, b = layer_hyperplanes(structure.prunable[name])  # BN folded: pruned: w = 0 and b = 0
    pruned = np.nonzero(~((w != 0).any(1) | (b != 0)))[0].tolist()
    if len(pruned) == len(w):
        raise ValueError(f"every unit of layer {name!r} is pruned: nothing would be left")
    example = torch.zeros(
        2, first.in_features, dtype=layer.weight.dtype, device=layer.weight.device
    )
    return remove_units(structure, {name: pruned}, example)


# --------------------------------------------------------------------------- merging
def _mlp_block(
    structure: NetworkStructure, name: str, what: str = "merging"
) -> tuple[nn.Linear, str]:
    """Check that ``name`` is a Linear followed by ([BN,] ReLU or LeakyReLU, [Dropout/Identity,])
    and another Linear; return the layer and the next Linear's name. ``what`` names the caller's
    operation in error messages."""
    leaves = structure.leaves
    names = [n for n, _ in leaves]
    if name not in names or not isinstance(dict(leaves)[name], nn.Linear):
        raise ValueError(
            f"{what} needs a Linear layer; {name!r} is not one of "
            f"{[n for n, m in leaves if isinstance(m, nn.Linear)]}"
        )
    after = [m for _, m in leaves[names.index(name) + 1 :]]
    pattern = iter(after)
    module = next(pattern, None)
    if isinstance(module, (nn.BatchNorm1d,)):
        module = next(pattern, None)
    if not isinstance(module, (nn.ReLU, nn.LeakyReLU)):
        raise ValueError(
            f"{what} needs Linear [-> BatchNorm1d] -> ReLU -> Linear after layer {name!r}"
        )
    module = next(pattern, None)
    while isinstance(module, (nn.Dropout, nn.Identity)):
        module = next(pattern, None)
    if not isinstance(module, nn.Linear):
        raise ValueError(f"{what} needs a Linear after the activation of layer {name!r}")
    next_name = names[names.index(name) + 1 + after.index(module)]
    return dict(leaves)[name], next_name


def merge_bound(model: nn.Module, name: str, keep: int, drop: int, radius: float) -> float:
    """Upper bound on the change of the next layer's pre-activation (Euclidean norm), for every
    input with ``||z|| <= radius`` in layer ``name``'s input space, when unit ``drop`` is merged
    into unit ``keep`` (see :func:`merge_units`):
    ``||v_drop|| ||w_drop|| (radius ||w^_keep - w^_drop|| + |b^_keep - b^_drop|)``."""
    structure = structure_of(model)
    layer, next_name = _mlp_block(structure, name)
    keep, drop = _check_pair(layer.weight.shape[0], keep, drop)
    radius = check_real("radius", radius, 0.0)
    w, b = layer_hyperplanes(structure.prunable[name])
    for what, unit in (("keep", keep), ("drop", drop)):
        if not np.any(w[unit]):
            raise ValueError(
                f"{what}={unit} is a pruned unit of layer {name!r} (zero weights): it has no spline"
            )
    w_hat, b_hat = normalised_hyperplanes(w, b)
    v = structure.prunable[next_name].module.weight.detach().to(torch.float64).cpu().numpy()
    return float(
        np.linalg.norm(v[:, drop])
        * np.linalg.norm(w[drop])
        * (radius * np.linalg.norm(w_hat[keep] - w_hat[drop]) + abs(b_hat[keep] - b_hat[drop]))
    )


def merge_units(model: nn.Module, name: str, keep: int, drop: int) -> nn.Module:
    """A copy of ``model`` in which unit ``drop`` of Linear layer ``name`` is merged into ``keep``.

    ``drop`` is pruned (its row, bias and BN parameters zeroed) and its outgoing column is added,
    scaled by ``c = ||w_drop|| / ||w_keep||`` (BN-folded norms), to ``keep``'s column of the next
    Linear. Exact when the two splines coincide with the same orientation, because
    ``c * relu(<w_keep, z> + b_keep) = relu(<w_drop, z> + b_drop)`` then (ReLU is positively
    homogeneous); otherwise the change is bounded by :func:`merge_bound`.

    Args:
        model: an MLP in which layer ``name`` is followed by ``[BatchNorm1d ->] ReLU (or
            LeakyReLU) -> Linear``; it is not modified.
        name: the qualified name of that Linear layer (e.g. ``"0"``).
        keep: the unit that takes over, an integer index in ``[0, units)`` of a unit that is not
            pruned (nonzero BN-folded weights).
        drop: the unit merged into ``keep`` and pruned, an index in ``[0, units)`` other than
            ``keep``.

    Returns:
        The merged copy, with the same shapes, in which ``drop``'s row and bias of layer
        ``name`` (and its BatchNorm ``gamma`` and ``beta``) are zero, and so is its column of
        the next Linear.

    Raises:
        ValueError: a layer that is not a Linear followed by an activation and another Linear,
            an index outside ``[0, units)``, ``keep == drop``, or a ``keep`` that is pruned.
        TypeError: ``keep`` or ``drop`` is not an integer.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> net = su.make_mlp([2, 6, 6, 1])
        >>> with torch.no_grad():  # unit 3's spline: unit 0's, with twice the slope
        ...     net[0].weight[3], net[0].bias[3] = 2 * net[0].weight[0], 2 * net[0].bias[0]
        >>> merged = merge_units(net, "0", keep=0, drop=3)
        >>> merged[0].weight[3].abs().sum().item(), merged[2].weight[:, 3].abs().sum().item()
        (0.0, 0.0)
        >>> x = torch.randn(100, 2)
        >>> torch.allclose(merged(x), net(x), atol=1e-6)  # exact: the two splines coincide
        True
    """
    structure = structure_of(model)
    layer, _ = _mlp_block(structure, name)
    keep, drop = _check_pair(layer.weight.shape[0], keep, drop)
    merged = structure.copy()
    _merge_into(merged, name, keep, drop)
    return merged.model


def _merge_into(structure: NetworkStructure, name: str, keep: int, drop: int) -> None:
    """:func:`merge_units` in place on the model of ``structure`` (checked arguments)."""
    _, next_name = _mlp_block(structure, name)
    w, _ = layer_hyperplanes(structure.prunable[name])
    norm_keep = np.linalg.norm(w[keep])
    if norm_keep == 0:
        raise ValueError(
            f"unit {keep} of layer {name!r} is pruned (zero weights): cannot merge into it"
        )
    c = float(np.linalg.norm(w[drop]) / norm_keep)
    _enforce_units(structure, name, [drop])
    nxt = structure.prunable[next_name].module
    with torch.no_grad():
        nxt.weight[:, keep] += c * nxt.weight[:, drop]
        nxt.weight[:, drop] = 0.0


def _enforce_units(structure: NetworkStructure, name: str, units: list[int]) -> None:
    """Mask ``units`` of layer ``name`` in place on the model of ``structure``."""
    enforce_mask_(structure, unit_mask(structure, {name: units}))


def _check_pair(units: int, keep: int, drop: int) -> tuple[int, int]:
    for what, k in (("keep", keep), ("drop", drop)):
        if not is_int(k):
            raise TypeError(f"{what} must be an integer unit index, got {k!r}")
        if not 0 <= int(k) < units:
            raise ValueError(
                f"{what}={k} is not a unit of a layer with {units} units: {what} must be in [0, {units})"
            )
    if int(keep) == int(drop):
        raise ValueError("keep and drop must be different units")
    return int(keep), int(drop)
