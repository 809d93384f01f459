"""Per-unit spline parameters: hyperplanes, their distances, distance to the data, merging.

Unit ``k`` of a layer ``Linear/Conv2d [-> BN] -> ReLU`` switches where its (BN-folded)
pre-activation ``<w_k, z> + b_k`` changes sign: in the layer's input space ``z`` its spline is the
hyperplane ``{z : <w_k, z> + b_k = 0}`` (for a ``Conv2d``, ``z`` is one input patch of
``in_channels * kh * kw`` numbers and the same hyperplane acts at every position). Scaling
``(w_k, b_k)`` by a positive number moves nothing, so splines are compared in normalised form
``w^ = w / ||w||``, ``b^ = b / ||w||`` (unit normal, signed offset).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ._validate import check_array, check_finite, check_module, check_real, is_int
from .folding import fold_batchnorm
from .masks import _layer, apply_mask, following_batchnorm, unit_mask
from .model_walk import module_tensor


def unit_hyperplanes(model: nn.Module, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Effective hyperplanes of the units of layer ``name`` with a following BatchNorm folded in
    (eval-mode statistics). Returns ``(w, b)`` float64: w (units, fan_in), b (units,)."""
    layer = _layer(model, name)
    bn = following_batchnorm(model).get(name)
    if bn is not None:
        weight, bias = fold_batchnorm(layer, bn)
    else:
        weight = layer.weight.detach()
        bias = layer.bias.detach() if layer.bias is not None else torch.zeros(weight.shape[0])
        check_finite(f"weight of layer {name!r}", weight)
        check_finite(f"bias of layer {name!r}", bias)
    w = weight.detach().to(torch.float64).reshape(weight.shape[0], -1).cpu().numpy()
    return w, bias.detach().to(torch.float64).cpu().numpy()


def normalised_hyperplanes(w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(w / ||w||, b / ||w||)`` row by row; a unit with ``w = 0`` (pruned) has no spline and
    gets NaN."""
    w, b = check_array("w", w), check_array("b", b)
    if w.ndim != 2 or b.shape != (w.shape[0],):
        raise ValueError(f"expected w of shape (units, fan_in) and b of shape (units,), got {w.shape} and {b.shape}")
    norm = np.linalg.norm(w, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(norm > 0, 1.0 / norm, np.nan)
    return w * scale[:, None], b * scale


def spline_distances(w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairwise distances between the splines of one layer's units.

    Returns ``(angle, offset)``, each (units, units): the angle in radians between the unit
    normals (0 = parallel, same orientation; pi = same line, opposite sides active) and the
    difference ``|b^_k - b^_k'|`` of normalised offsets (meaningful when the angle is small).
    """
    w_hat, b_hat = normalised_hyperplanes(w, b)
    cos = np.clip(w_hat @ w_hat.T, -1.0, 1.0)
    return np.arccos(cos), np.abs(b_hat[:, None] - b_hat[None, :])


def bn_spline_distance(model: nn.Module, name: str) -> np.ndarray:
    """The BatchNorm reading (units,): unit ``k``'s spline lies ``|beta_k / gamma_k|`` standard
    deviations (of its pre-activation, by the BN running statistics) from the mean. ``inf`` for
    ``gamma = 0``."""
    bn = following_batchnorm(model).get(name)
    if bn is None or bn.weight is None:
        raise ValueError(f"layer {name!r} is not followed by an affine BatchNorm")
    gamma = check_array("bn weight (gamma)", bn.weight.detach())
    beta = check_array("bn bias (beta)", bn.bias.detach())
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(gamma != 0, np.abs(beta / np.where(gamma != 0, gamma, 1.0)), np.inf)


@torch.no_grad()
def data_spline_distance(model: nn.Module, name: str, x: torch.Tensor) -> np.ndarray:
    """Measured on data ``x`` (N, *input_shape): how many standard deviations (unbiased, over the
    data and, for conv layers, every position) the spline of each unit lies from the mean of its
    BN-folded pre-activation, ``|mean(h_k)| / std(h_k)`` (units,). Eval mode."""
    from .codes import _prepare_input

    layer = _layer(model, name)
    bn = following_batchnorm(model).get(name)
    x = _prepare_input(model, x)
    h = module_tensor(model, bn if bn is not None else layer, x).to(torch.float64)
    h = h.transpose(0, 1).reshape(h.shape[1], -1)  # (units, N * positions)
    if h.shape[1] < 2:
        raise ValueError(f"x must hold at least 2 inputs (a standard deviation needs 2 values per unit), "
                         f"got {x.shape[0]}")
    check_finite(f"the pre-activation of layer {name!r}", h)
    return (h.mean(1).abs() / h.std(1)).cpu().numpy()


# --------------------------------------------------------------------------- merging
def _mlp_block(model: nn.Module, name: str) -> tuple[nn.Linear, str]:
    """Check that ``name`` is a Linear followed by ([BN,] ReLU or LeakyReLU, [Dropout/Identity,])
    and another Linear; return the layer and the next Linear's name."""
    check_module("model", model)
    leaves = [(n, m) for n, m in model.named_modules() if next(m.children(), None) is None]
    names = [n for n, _ in leaves]
    if name not in names or not isinstance(dict(leaves)[name], nn.Linear):
        raise ValueError(f"merging needs a Linear layer; {name!r} is not one of "
                         f"{[n for n, m in leaves if isinstance(m, nn.Linear)]}")
    after = [m for _, m in leaves[names.index(name) + 1 :]]
    pattern = iter(after)
    module = next(pattern, None)
    if isinstance(module, (nn.BatchNorm1d,)):
        module = next(pattern, None)
    if not isinstance(module, (nn.ReLU, nn.LeakyReLU)):
        raise ValueError(f"merging needs Linear [-> BatchNorm1d] -> ReLU -> Linear after layer {name!r}")
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
            raise ValueError(f"{what}={unit} is a pruned unit of layer {name!r} (zero weights): it has no spline")
    w_hat, b_hat = normalised_hyperplanes(w, b)
    v = _layer(model, next_name).weight.detach().to(torch.float64).cpu().numpy()
    return float(np.linalg.norm(v[:, drop]) * np.linalg.norm(w[drop])
                 * (radius * np.linalg.norm(w_hat[keep] - w_hat[drop]) + abs(b_hat[keep] - b_hat[drop])))


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
        raise ValueError(f"unit {keep} of layer {name!r} is pruned (zero weights): cannot merge into it")
    c = float(np.linalg.norm(w[drop]) / norm_keep)
    merged = apply_mask(model, unit_mask(model, {name: [drop]}))
    nxt = _layer(merged, next_name)
    with torch.no_grad():
        nxt.weight[:, keep] += c * nxt.weight[:, drop]
        nxt.weight[:, drop] = 0.0
    return merged


def _check_pair(units: int, keep: int, drop: int) -> tuple[int, int]:
    for what, k in (("keep", keep), ("drop", drop)):
        if not is_int(k):
            raise TypeError(f"{what} must be an integer unit index, got {k!r}")
        if not 0 <= int(k) < units:
            raise ValueError(f"{what}={k} is not a unit of a layer with {units} units: {what} must be in [0, {units})")
    if int(keep) == int(drop):
        raise ValueError("keep and drop must be different units")
    return int(keep), int(drop)

