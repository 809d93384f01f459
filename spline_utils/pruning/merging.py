"""Node pruning of MLP layers by three criteria, and physical removal of pruned MLP units.

* ``"spline"`` -- spline redundancy. Over the ball ``||z|| <= R`` that holds the layer's input
  data, deleting unit ``k`` changes the next layer's pre-activation by at most
  ``||v_k|| ||w_k|| max(0, R + b^_k)`` (zero when the spline misses the ball with the unit off),
  and merging it into unit ``j`` (:func:`~spline_utils.spline_params.merge_units`) by at most
  ``||v_k|| ||w_k|| (R ||w^_j - w^_k|| + |b^_j - b^_k|)``. Greedily, the unit with the smallest
  such bound is deleted or merged, the bounds are recomputed, and so on: units whose splines miss
  the data or duplicate another unit's spline go first.
* ``"magnitude"`` -- the units whose incoming weight rows have the smallest L2 norm (the
  authors' FCNet lottery-ticket variant).
* ``"random"`` -- a seeded random choice.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .._validate import check_choice, check_int, check_module, check_real, is_int
from ..spline_view.hyperplanes import normalised_hyperplanes, unit_hyperplanes
from ..spline_view.model_walk import layer_by_name, module_tensor, prunable_layers
from .masks import apply_mask, check_ratio, unit_mask
from .physical import remove_units

CRITERIA = ("spline", "magnitude", "random")


@dataclass
class UnitPruning:
    """Result of :func:`prune_units`: the pruned copy, the pruned units (in pruning order) and,
    for the spline criterion, which kept unit each merged unit went into (``-1``: deleted)."""

    model: nn.Module
    layer: str
    pruned: list[int]
    merged_into: list[int] = field(default_factory=list)


@torch.no_grad()
def input_radius(model: nn.Module, name: str, x: torch.Tensor) -> float:
    """Largest Euclidean norm of layer ``name``'s input over the data ``x`` (eval mode)."""
    from ..spline_view.codes import prepare_input

    layer = layer_by_name(model, name)
    z = module_tensor(model, layer, prepare_input(model, x), output=False).to(torch.float64)
    return float(z.reshape(z.shape[0], -1).norm(dim=1).max())


def redundancy_bounds(model: nn.Module, name: str, radius: float, alive: np.ndarray | None = None):
    """Bounds (over ``||z|| <= radius``) on the next-layer change for every way to remove a unit.

    Returns ``(delete, merge)``: delete (units,) for deleting each unit, merge (units, units) with
    ``merge[k, j]`` for merging ``k`` into ``j`` (``inf`` on the diagonal and for units that are
    already pruned). ``alive``: bool (units,) of units still present (default: nonzero rows).
    """
    _, next_name = _mlp_block(model, name)
    radius = check_real("radius", radius, 0.0)
    w, b = unit_hyperplanes(model, name)
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
    v = dict(prunable_layers(model))[next_name].weight.detach().to(torch.float64).cpu().numpy()
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


def prune_units(
    model: nn.Module,
    name: str,
    ratio: float,
    criterion: str = "spline",
    x: torch.Tensor | None = None,
    seed: int = 0,
) -> UnitPruning:
    """Prune ``round(ratio * units)`` units of the Linear layer ``name`` (followed by
    ``[BN ->] ReLU -> Linear``) of a copy of ``model``.

    criterion: ``"spline"`` (needs the data ``x`` to set the ball radius), ``"magnitude"`` or
    ``"random"`` (seeded by ``seed``); see the module docstring. ``ratio`` in [0, 1).
    """
    ratio = check_ratio(ratio)
    check_choice("criterion", criterion, CRITERIA)
    seed = check_int("seed", seed, 0)
    layer, _ = _mlp_block(model, name)
    units = layer.weight.shape[0]
    n_prune = int(round(ratio * units))
    if n_prune >= units:
        n_prune = units - 1  # keep at least one unit
    if criterion == "magnitude":
        order = np.argsort(layer.weight.detach().norm(dim=1).cpu().numpy(), kind="stable")
        pruned = [int(k) for k in order[:n_prune]]
        return UnitPruning(apply_mask(model, unit_mask(model, {name: pruned})), name, pruned)
    if criterion == "random":
        generator = torch.Generator().manual_seed(seed)
        pruned = torch.randperm(units, generator=generator)[:n_prune].tolist()
        return UnitPruning(apply_mask(model, unit_mask(model, {name: pruned})), name, pruned)
    if x is None:
        raise ValueError(
            "the spline criterion needs the data x (it sets the radius of the input ball)"
        )
    radius = input_radius(model, name, x)
    current = copy.deepcopy(model)
    alive = np.ones(units, bool)
    pruned, merged_into = [], []
    for _ in range(n_prune):
        delete, merge = redundancy_bounds(current, name, radius, alive)
        k_del = int(np.argmin(delete))
        k_merge, j_merge = np.unravel_index(int(np.argmin(merge)), merge.shape)
        if merge[k_merge, j_merge] < delete[k_del]:
            current = merge_units(current, name, int(j_merge), int(k_merge))
            pruned.append(int(k_merge))
            merged_into.append(int(j_merge))
        else:
            current = apply_mask(current, unit_mask(current, {name: [k_del]}))
            pruned.append(k_del)
            merged_into.append(-1)
        alive[pruned[-1]] = False
    return UnitPruning(current, name, pruned, merged_into)


def remove_pruned_units(model: nn.Module, name: str) -> nn.Module:
    """Physically remove the pruned units (zero rows) of MLP layer ``name``: a copy whose Linear
    (and BatchNorm1d) has fewer outputs and whose next Linear has fewer inputs. The outputs are
    unchanged, because a pruned unit contributes exactly zero
    (:func:`~spline_utils.physical.remove_units` does the slicing)."""
    layer, _ = _mlp_block(model, name)
    first = next(m for _, m in prunable_layers(model))
    if not isinstance(first, nn.Linear):
        raise ValueError(
            f"remove_pruned_units needs an MLP (its first layer a Linear), got a first layer "
            f"{type(first).__name__}: use physical.remove_units with an example input"
        )
    w, b = unit_hyperplanes(model, name)  # BN folded: a pruned unit has w = 0 and b = 0
    pruned = np.nonzero(~((w != 0).any(1) | (b != 0)))[0].tolist()
    if len(pruned) == len(w):
        raise ValueError(f"every unit of layer {name!r} is pruned: nothing would be left")
    example = torch.zeros(
        2, first.in_features, dtype=layer.weight.dtype, device=layer.weight.device
    )
    return remove_units(model, {name: pruned}, example)


# --------------------------------------------------------------------------- merging
def _mlp_block(model: nn.Module, name: str) -> tuple[nn.Linear, str]:
    """Check that ``name`` is a Linear followed by ([BN,] ReLU or LeakyReLU, [Dropout/Identity,])
    and another Linear; return the layer and the next Linear's name."""
    check_module("model", model)
    leaves = [(n, m) for n, m in model.named_modules() if next(m.children(), None) is None]
    names = [n for n, _ in leaves]
    if name not in names or not isinstance(dict(leaves)[name], nn.Linear):
        raise ValueError(
            f"merging needs a Linear layer; {name!r} is not one of "
            f"{[n for n, m in leaves if isinstance(m, nn.Linear)]}"
        )
    after = [m for _, m in leaves[names.index(name) + 1 :]]
    pattern = iter(after)
    module = next(pattern, None)
    if isinstance(module, (nn.BatchNorm1d,)):
        module = next(pattern, None)
    if not isinstance(module, (nn.ReLU, nn.LeakyReLU)):
        raise ValueError(
            f"merging needs Linear [-> BatchNorm1d] -> ReLU -> Linear after layer {name!r}"
        )
    module = next(pattern, None)
    while isinstance(module, (nn.Dropout, nn.Identity)):
        module = next(pattern, None)
    if not isinstance(module, nn.Linear):
        raise ValueError(f"merging needs a Linear after the activation of layer {name!r}")
    next_name = names[names.index(name) + 1 + after.index(module)]
    return dict(leaves)[name], next_name


def merge_bound(model: nn.Module, name: str, keep: int, drop: int, radius: float) -> float:
    """Upper bound on the change of the next layer's pre-activation (Euclidean norm), for every
    input with ``||z|| <= radius`` in layer ``name``'s input space, when unit ``drop`` is merged
    into unit ``keep`` (see :func:`merge_units`):
    ``||v_drop|| ||w_drop|| (radius ||w^_keep - w^_drop|| + |b^_keep - b^_drop|)``."""
    layer, next_name = _mlp_block(model, name)
    keep, drop = _check_pair(layer.weight.shape[0], keep, drop)
    radius = check_real("radius", radius, 0.0)
    w, b = unit_hyperplanes(model, name)
    for what, unit in (("keep", keep), ("drop", drop)):
        if not np.any(w[unit]):
            raise ValueError(
                f"{what}={unit} is a pruned unit of layer {name!r} (zero weights): it has no spline"
            )
    w_hat, b_hat = normalised_hyperplanes(w, b)
    v = layer_by_name(model, next_name).weight.detach().to(torch.float64).cpu().numpy()
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
    """
    layer, next_name = _mlp_block(model, name)
    keep, drop = _check_pair(layer.weight.shape[0], keep, drop)
    w, _ = unit_hyperplanes(model, name)
    norm_keep = np.linalg.norm(w[keep])
    if norm_keep == 0:
        raise ValueError(
            f"unit {keep} of layer {name!r} is pruned (zero weights): cannot merge into it"
        )
    c = float(np.linalg.norm(w[drop]) / norm_keep)
    merged = apply_mask(model, unit_mask(model, {name: [drop]}))
    nxt = layer_by_name(merged, next_name)
    with torch.no_grad():
        nxt.weight[:, keep] += c * nxt.weight[:, drop]
        nxt.weight[:, drop] = 0.0
    return merged


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
