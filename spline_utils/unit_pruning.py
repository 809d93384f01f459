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

from ._validate import check_choice, check_int, check_real
from .model_walk import module_tensor
from .masks import _check_ratio, _layer, apply_mask, prunable_layers, unit_mask
from .physical import remove_units
from .spline_params import _mlp_block, merge_units, normalised_hyperplanes, unit_hyperplanes

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
    from .codes import _prepare_input

    layer = _layer(model, name)
    z = module_tensor(model, layer, _prepare_input(model, x), output=False).to(torch.float64)
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
            raise ValueError(f"alive must be a bool array of shape ({len(norms)},) (one entry per unit), "
                             f"got {alive.dtype} {alive.shape}")
    alive = norms > 0 if alive is None else alive & (norms > 0)
    w_hat, b_hat = normalised_hyperplanes(w, b)
    v = dict(prunable_layers(model))[next_name].weight.detach().to(torch.float64).cpu().numpy()
    weight = np.linalg.norm(v, axis=0) * norms  # ||v_k|| ||w_k||
    with np.errstate(invalid="ignore"):
        delete = weight * np.maximum(0.0, radius + b_hat)
        gap = radius * np.linalg.norm(w_hat[:, None] - w_hat[None], axis=2) + np.abs(b_hat[:, None] - b_hat[None])
        merge = weight[:, None] * gap
    delete = np.where(alive, delete, np.inf)
    merge[~alive] = np.inf
    merge[:, ~alive] = np.inf
    np.fill_diagonal(merge, np.inf)
    return delete, merge


def prune_units(model: nn.Module, name: str, ratio: float, criterion: str = "spline",
                x: torch.Tensor | None = None, seed: int = 0) -> UnitPruning:
    """Prune ``round(ratio * units)`` units of the Linear layer ``name`` (followed by
    ``[BN ->] ReLU -> Linear``) of a copy of ``model``.

    criterion: ``"spline"`` (needs the data ``x`` to set the ball radius), ``"magnitude"`` or
    ``"random"`` (seeded by ``seed``); see the module docstring. ``ratio`` in [0, 1).
    """
    ratio = _check_ratio(ratio)
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
        raise ValueError("the spline criterion needs the data x (it sets the radius of the input ball)")
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
        raise ValueError(f"remove_pruned_units needs an MLP (its first layer a Linear), got a first layer "
                         f"{type(first).__name__}: use physical.remove_units with an example input")
    w, b = unit_hyperplanes(model, name)  # BN folded: a pruned unit has w = 0 and b = 0
    pruned = np.nonzero(~((w != 0).any(1) | (b != 0)))[0].tolist()
    if len(pruned) == len(w):
        raise ValueError(f"every unit of layer {name!r} is pruned: nothing would be left")
    example = torch.zeros(2, first.in_features, dtype=layer.weight.dtype, device=layer.weight.device)
    return remove_units(model, {name: pruned}, example)
