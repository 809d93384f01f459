"""Channel / unit pruning criteria as per-unit *importance* scores, and the selection step.

A criterion maps a model to ``{layer name: scores (units,)}`` over its prunable layers (higher =
more important = kept longer). :func:`select_units` turns scores into the units to prune,
layerwise (the same ratio in every layer) or globally (one threshold over scores normalised per
layer), always keeping at least one unit per layer.

Criteria:

* ``random`` -- seeded uniform scores;
* ``magnitude`` -- L1 norm of each unit's filter / weight row;
* ``slimming`` -- ``|gamma|`` of the BatchNorm after the layer (network slimming);
* ``mask`` -- a mask drawn earlier (e.g. an early-bird ticket, Chapter 4) applied to this model:
  score 1 for the units it keeps, 0 for those it prunes;
* ``spline`` -- this book's spline policy (Chapter 5). With BN, unit ``k``'s spline lies
  ``t_k = beta_k / |gamma_k|`` standard deviations from the data mean, on the side where the unit
  is active when ``t_k > 0``. For roughly Gaussian pre-activations the unit's mean output over the
  data is ``|gamma_k| (t_k Phi(t_k) + phi(t_k))``: the mean distance of the data beyond its spline,
  on the active side, in output units. Deleting the unit changes the next layer by that much times
  ``||v_k||`` (how strongly the next layer reads it; Chapter 3's deletion bound, taken in
  expectation over the data instead of over a ball). A unit whose hyperplane nearly duplicates that
  of a more important unit is discounted further (Chapter 3's merging: a duplicate can go at no
  cost): the score is ``||v_k|| |gamma_k| (t_k Phi(t_k) + phi(t_k)) r_k`` with ``r_k`` in [0, 1].
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from scipy.special import ndtr  # the standard normal CDF (scipy.stats takes a second to import)
from torch import nn

from .._validate import (
    check_choice,
    check_finite,
    check_int,
    check_mapping,
    check_model_finite,
    check_scores,
    check_unit_indices,
)
from ..spline_view.hyperplanes import normalised_hyperplanes, unit_hyperplanes
from ..spline_view.model_walk import following_batchnorm, layer_by_name, prunable_layers
from .masks import PruningMask, check_ratio
from .physical import consumer_name

CRITERIA = ("random", "magnitude", "slimming", "spline", "mask")


def default_layers(model: nn.Module) -> list[str]:
    """The layers pruning may shrink: every Linear / Conv2d followed by a BatchNorm in its own
    block (so the last classifier, and PreResNet convs that write to the residual stream, are
    left alone), or, in a model without BatchNorm, every Linear / Conv2d but the last."""
    bns = following_batchnorm(model)
    names = [n for n, _ in prunable_layers(model)]
    if bns:
        return [n for n in names if n in bns]
    return names[:-1]


def unit_scores(
    model: nn.Module, criterion: str, layers: Sequence[str] | None = None, seed: int = 0, mask=None
) -> dict[str, np.ndarray]:
    """Importance scores ``{layer: (units,) float64}`` by ``criterion`` (see the module doc).
    ``mask``: the :class:`~spline_utils.masks.PruningMask` of the ``"mask"`` criterion."""
    check_choice("criterion", criterion, CRITERIA)
    if (criterion == "mask") != (mask is not None):
        raise ValueError("pass mask=... exactly when the criterion is 'mask'")
    if mask is not None and not isinstance(mask, PruningMask):
        raise TypeError(f"mask must be a PruningMask, got {type(mask).__name__}")
    seed = check_int("seed", seed, 0)
    if isinstance(layers, str):
        raise TypeError(f"layers must be a sequence of layer names, got the string {layers!r}")
    layers = default_layers(model) if layers is None else list(layers)
    modules = dict(prunable_layers(model))
    unknown = [n for n in layers if not isinstance(n, str) or n not in modules]
    if unknown:
        raise ValueError(f"unknown layers {unknown}: prunable layers are {sorted(modules)}")
    if not layers:
        raise ValueError("layers must name at least one prunable layer, got none")
    check_model_finite(model)  # NaN weights or BN statistics would give NaN scores
    rng = np.random.default_rng(seed)
    scores = {}
    for name in layers:
        weight = modules[name].weight.detach().to(torch.float64)
        units = weight.shape[0]
        if criterion == "random":
            scores[name] = rng.random(units)
        elif criterion == "magnitude":
            scores[name] = weight.reshape(units, -1).abs().sum(1).cpu().numpy()
        elif criterion == "mask":
            if name not in mask.weight or mask.weight[name].shape != weight.shape:
                raise ValueError(
                    f"the mask has no entry of shape {tuple(weight.shape)} for layer {name!r}"
                )
            scores[name] = np.ones(units)
            scores[name][mask.pruned_units(name)] = 0.0
        elif criterion == "slimming":
            bn = following_batchnorm(model).get(name)
            if bn is None or bn.weight is None:
                raise ValueError(f"network slimming needs a BatchNorm after layer {name!r}")
            scores[name] = bn.weight.detach().abs().to(torch.float64).cpu().numpy()
        else:
            scores[name] = spline_scores(model, name)
    return scores


def outgoing_norms(model: nn.Module, name: str) -> np.ndarray:
    """``||v_k||`` (units,): the norm of the weights with which the next layer reads unit
    (channel) ``k`` of layer ``name`` (all its kernel positions; after a Flatten, all of the
    channel's columns)."""
    units = layer_by_name(model, name).weight.shape[0]
    weight = (
        dict(prunable_layers(model))[consumer_name(model, name)].weight.detach().to(torch.float64)
    )
    check_finite(f"weight of the layer that reads layer {name!r}", weight)
    if weight.dim() == 2:  # Linear: a channel owns a block of columns after Flatten
        weight = weight.reshape(weight.shape[0], units, -1)
    return weight.transpose(0, 1).reshape(units, -1).norm(dim=1).cpu().numpy()


def spline_scores(model: nn.Module, name: str) -> np.ndarray:
    """The spline policy's scores (units,) for one layer followed by BatchNorm (module doc):
    ``||v_k|| * |gamma_k| * (t_k Phi(t_k) + phi(t_k)) * redundancy_k`` with ``t_k = beta_k / |gamma_k|``."""
    bn = following_batchnorm(model).get(name)
    if bn is None or bn.weight is None:
        raise ValueError(f"the spline policy needs an affine BatchNorm after layer {name!r}")
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
    return outgoing_norms(model, name) * depth * _redundancy(model, name, depth)


def _redundancy(
    model: nn.Module, name: str, importance: np.ndarray, near: float = 0.1
) -> np.ndarray:
    """1, or less for a unit whose normalised hyperplane lies within ``near`` x (the layer's
    median nearest-neighbour distance) of the hyperplane of a *more* important unit: then
    ``distance / (near x median)``, so an exact duplicate scores 0 and its twin keeps its score."""
    w, b = unit_hyperplanes(model, name)
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


def select_units(
    scores: Mapping[str, np.ndarray], ratio: float, scope: str = "layerwise"
) -> dict[str, list[int]]:
    """Units to prune: the lowest-scored ``round(ratio * units)`` of each layer (``layerwise``),
    or those below one threshold over all layers' scores each divided by its layer's largest
    (``global``). Every layer keeps at least one unit (its best).

    scores: ``{layer: (units,)}`` finite real numbers (non-negative for ``global``: they are
    divided by their layer's largest)."""
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


def slimming_units(
    model: nn.Module, ratio: float, layers: Sequence[str] | None = None
) -> dict[str, list[int]]:
    """Network slimming's selection (also the EB paper's mask): one global threshold on the raw
    ``|gamma|`` of the BatchNorms after ``layers`` (default: :func:`default_layers`), the value at
    index ``int(total * ratio)`` of the ascending sort; channels with ``|gamma|`` strictly above
    it are kept. Every layer keeps at least one channel (its largest ``|gamma|``).
    Returns ``{layer name: pruned channel indices}``."""
    ratio = check_ratio(ratio)
    scores = unit_scores(model, "slimming", layers)
    flat = np.sort(np.concatenate(list(scores.values())), kind="stable")
    threshold = flat[min(int(len(flat) * ratio), len(flat) - 1)]
    pruned = {}
    for name, s in scores.items():
        below = np.nonzero(s <= threshold)[0]
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
