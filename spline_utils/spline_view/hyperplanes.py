"""Per-unit spline parameters: hyperplanes, their distances, and their distance to the data.

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

from ..checks import check_array, check_finite
from .code_recording import prepare_input
from .folding import fold_batchnorm
from .model_walk import module_tensor, structure_of
from .structure import PrunableLayer

__all__ = [
    "bn_spline_distance",
    "data_spline_distance",
    "layer_hyperplanes",
    "normalised_hyperplanes",
    "spline_distances",
    "unit_hyperplanes",
]


def unit_hyperplanes(model: nn.Module, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Effective hyperplanes of the units of layer ``name`` with a following BatchNorm folded in
    (eval-mode statistics).

    Unit ``k``'s spline is ``{z : <w[k], z> + b[k] = 0}`` in the layer's input space (for a
    ``Conv2d``, ``z`` is one input patch of ``in_channels * kh * kw`` numbers).

    Args:
        model: the network.
        name: a Linear / Conv2d layer's qualified name (as in ``model.named_modules()``).

    Returns:
        The pair ``(w, b)`` of float64 NumPy arrays, w (units, fan_in) and b (units,).

    Raises:
        ValueError: no prunable layer is called ``name`` (the message lists them), or its
            weights (or the folded BatchNorm) are not finite.

    Example:
        >>> net = su.make_mlp([2, 6, 6, 1], batch_norm=True)
        >>> w, b = su.unit_hyperplanes(net, "3")  # Linear "3", BN "4" folded in
        >>> w.shape, b.shape, w.dtype
        ((6, 6), (6,), dtype('float64'))
    """
    return layer_hyperplanes(structure_of(model).layer(name))


def layer_hyperplanes(layer: PrunableLayer) -> tuple[np.ndarray, np.ndarray]:
    """:func:`unit_hyperplanes` of a
    :class:`~spline_utils.spline_view.structure.PrunableLayer`: ``(w, b)``, float64 arrays of
    shapes (units, fan_in) and (units,), its BatchNorm folded in."""
    name, bn, layer = layer.name, layer.batchnorm, layer.module
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
        raise ValueError(
            f"expected w of shape (units, fan_in) and b of shape (units,), got {w.shape} and {b.shape}"
        )
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
    bn = structure_of(model).batchnorms().get(name)
    if bn is None or bn.weight is None:
        raise ValueError(f"layer {name!r} is not followed by an affine BatchNorm")
    gamma = check_array("bn weight (gamma)", bn.weight.detach())
    beta = check_array("bn bias (beta)", bn.bias.detach())
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(gamma != 0, np.abs(beta / np.where(gamma != 0, gamma, 1.0)), np.inf)


@torch.no_grad()
def data_spline_distance(model: nn.Module, name: str, x: torch.Tensor) -> np.ndarray:
    """Measured on data ``x`` (shape ``(N, *input_shape)``): how many standard deviations (unbiased, over the
    data and, for conv layers, every position) the spline of each unit lies from the mean of its
    BN-folded pre-activation, ``|mean(h_k)| / std(h_k)`` (units,). Eval mode."""
    structure = structure_of(model)
    layer = structure.layer(name)
    x = prepare_input(structure, x)
    target = layer.batchnorm if layer.batchnorm is not None else layer.module
    h = module_tensor(structure, target, x).to(torch.float64)
    h = h.transpose(0, 1).reshape(h.shape[1], -1)  # (units, N * positions)
    if h.shape[1] < 2:
        raise ValueError(
            f"x must hold at least 2 inputs (a standard deviation needs 2 values per unit), "
            f"got {x.shape[0]}"
        )
    check_finite(f"the pre-activation of layer {name!r}", h)
    return (h.mean(1).abs() / h.std(1)).cpu().numpy()
