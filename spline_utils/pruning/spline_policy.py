"""The score of this book's spline pruning policy (Chapter 5): the ``spline`` criterion of
:mod:`.criteria`.

The ``spline`` policy: with BN, unit ``k``'s spline lies ``t_k = beta_k / |gamma_k|`` standard
deviations from the data mean, on the side where the unit is active when ``t_k > 0``. For roughly
Gaussian pre-activations the unit's mean output over the data is
``|gamma_k| (t_k Phi(t_k) + phi(t_k))``: the mean distance of the data beyond its spline, on the
active side, in output units. Deleting the unit changes the next layer by that much times
``||v_k||`` (how strongly the next layer reads it; Chapter 3's deletion bound, taken in
expectation over the data instead of over a ball). A unit whose hyperplane nearly duplicates that
of a more important unit is discounted further (Chapter 3's merging: a duplicate can go at no
cost): the score is ``||v_k|| |gamma_k| (t_k Phi(t_k) + phi(t_k)) r_k`` with ``r_k`` in [0, 1].
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import ndtr  # the standard normal CDF (scipy.stats takes a second to import)
from torch import nn

from ..checks import check_finite, check_real
from ..spline_view.hyperplanes import layer_hyperplanes, normalised_hyperplanes
from ..spline_view.model_walk import structure_of
from ..spline_view.structure import PrunableLayer

__all__ = ["layer_spline_scores", "outgoing_norms", "spline_scores"]


def outgoing_norms(model: nn.Module, name: str) -> np.ndarray:
    """``||v_k||`` (units,): the norm of the weights with which the next layer reads unit
    (channel) ``k`` of layer ``name`` (all its kernel positions; after a Flatten, all of the
    channel's columns)."""
    return _outgoing_norms(structure_of(model).layer(name))


def _outgoing_norms(layer: PrunableLayer) -> np.ndarray:
    name, units = layer.name, layer.units
    weight = layer.consumer().module.weight.detach().to(torch.float64)
    check_finite(f"weight of the layer that reads layer {name!r}", weight)
    if weight.dim() == 2:  # Linear: a channel owns a block of columns after Flatten
        weight = weight.reshape(weight.shape[0], units, -1)
    return weight.transpose(0, 1).reshape(units, -1).norm(dim=1).cpu().numpy()


def spline_scores(model: nn.Module, name: str, near: float = 0.1) -> np.ndarray:
    """The spline policy's scores (units,) for one layer followed by BatchNorm (module doc):
    ``||v_k|| * |gamma_k| * (t_k Phi(t_k) + phi(t_k)) * redundancy_k`` with ``t_k = beta_k / |gamma_k|``.
    ``near``: the redundancy discount's reach, as a fraction of the layer's median
    nearest-neighbour distance between normalised hyperplanes (0 switches the discount off)."""
    near = check_real("near", near, 0.0)
    return layer_spline_scores(structure_of(model).layer(name), near)


def layer_spline_scores(layer: PrunableLayer, near: float = 0.1) -> np.ndarray:
    """:func:`spline_scores` of a
    :class:`~spline_utils.spline_view.structure.PrunableLayer` (``near`` already checked)."""
    name, bn = layer.name, layer.batchnorm
    if bn is None:
        raise ValueError(f"the spline policy needs an affine BatchNorm after layer {name!r}")
    if bn.weight is None:
        raise ValueError(
            f"the spline policy reads gamma and beta of the BatchNorm after layer {name!r}, but "
            "that BatchNorm has none (affine=False): it needs an affine BatchNorm"
        )
    check_finite(f"gamma of the BatchNorm after layer {name!r}", bn.weight.detach())
    check_finite(f"beta of the BatchNorm after layer {name!r}", bn.bias.detach())
    gamma = bn.weight.detach().to(torch.float64).abs().cpu().numpy()
    beta = bn.bias.detach().to(torch.float64).cpu().numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(gamma > 0, beta / np.where(gamma > 0, gamma, 1.0), np.sign(beta) * np.inf)
        depth = np.where(
            gamma > 0,
            gamma * (t * ndtr(t) + np.exp(-0.5 * t * t) / np.sqrt(2 * np.pi)),
            np.maximum(beta, 0.0),
        )
    depth = np.nan_to_num(depth, nan=0.0)
    redundancy = _redundancy(layer, depth, near) if near > 0 else np.ones(len(depth))
    return _outgoing_norms(layer) * depth * redundancy


def _redundancy(layer: PrunableLayer, importance: np.ndarray, near: float = 0.1) -> np.ndarray:
    """1, or less for a unit whose normalised hyperplane lies within ``near`` x (the layer's
    median nearest-neighbour distance) of the hyperplane of a *more* important unit: then
    ``distance / (near x median)``, so an exact duplicate scores 0 and its twin keeps its score."""
    w, b = layer_hyperplanes(layer)
    w_hat, b_hat = normalised_hyperplanes(w, b)
    factor = np.ones(len(w))
    idx = np.nonzero(np.isfinite(b_hat))[0]
    if len(idx) < 2:
        return factor
    points = np.concatenate([w_hat, b_hat[:, None]], 1)[idx]
    sq = np.einsum("ij,ij->i", points, points)  # pairwise distances without an (n, n, d) array
    gap = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2.0 * points @ points.T, 0.0))
    np.fill_diagonal(gap, np.inf)
    _exact_row_minima(points, gap)
    scale = near * max(float(np.median(gap.min(1))), 1e-12)
    rank = np.lexsort((idx, -importance[idx]))
    position = np.empty(len(idx), int)
    position[rank] = np.arange(len(idx))
    gap[position[None, :] >= position[:, None]] = np.inf  # compare with more important units only
    _exact_row_minima(points, gap)
    factor[idx] = np.minimum(1.0, gap.min(1) / scale)
    return factor


def _exact_row_minima(points: np.ndarray, gap: np.ndarray) -> None:
    """Recompute each row's smallest entry of ``gap`` as a direct difference (the Gram-matrix
    form loses the digits that tell an exact duplicate, distance 0, from a near one)."""
    rows = np.nonzero(np.isfinite(gap).any(1))[0]
    cols = gap[rows].argmin(1)
    gap[rows, cols] = np.linalg.norm(points[rows] - points[cols], axis=1)
