"""Channel / unit pruning criteria as per-unit *importance* scores, and the selection step.

A criterion maps a model to ``{layer name: scores (units,)}`` over its prunable layers (higher =
more important = kept longer). :func:`select_units` turns scores into the units to prune,
layerwise (the same ratio in every layer) or globally (one threshold over scores normalised per
layer), always keeping at least one unit per layer.

Criteria:

* ``random`` -- seeded uniform scores;
* ``magnitude`` -- L1 norm of each unit's filter / weight row;
* ``slimming`` -- ``|gamma|`` of the BatchNorm after the layer (network slimming);
* ``spline`` -- this book's spline policy (Chapter 5): a unit matters when its spline cuts the
  data *and* no other spline of the layer runs close to it. With BN, unit ``k``'s spline lies
  ``t_k = |beta_k / gamma_k|`` standard deviations from the data mean, so (for roughly Gaussian
  pre-activations) it separates a fraction ``Phi(-t_k)`` of the data from the rest; and its
  *distinctiveness* is the distance from its normalised hyperplane ``(w^_k, b^_k)`` to the nearest
  one of a *more* data-separating unit of the layer, relative to the layer's median such distance
  (capped at 1; the most separating unit has distinctiveness 1). The score is
  ``2 Phi(-t_k) * distinctiveness_k``, in [0, 1]: of two coincident splines one scores 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from scipy.stats import norm
from torch import nn

from .masks import _check_ratio, following_batchnorm, prunable_layers
from .spline_params import bn_spline_distance, normalised_hyperplanes, unit_hyperplanes

CRITERIA = ("random", "magnitude", "slimming", "spline")


def default_layers(model: nn.Module) -> list[str]:
    """The layers pruning may shrink: every Linear / Conv2d followed by a BatchNorm in its own
    block (so the last classifier, and PreResNet convs that write to the residual stream, are
    left alone), or, in a model without BatchNorm, every Linear / Conv2d but the last."""
    bns = following_batchnorm(model)
    names = [n for n, _ in prunable_layers(model)]
    if bns:
        return [n for n in names if n in bns]
    return names[:-1]


def unit_scores(model: nn.Module, criterion: str, layers: Sequence[str] | None = None,
                seed: int = 0) -> dict[str, np.ndarray]:
    """Importance scores ``{layer: (units,) float64}`` by ``criterion`` (see the module doc)."""
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA}, got {criterion!r}")
    layers = default_layers(model) if layers is None else list(layers)
    modules = dict(prunable_layers(model))
    unknown = [n for n in layers if n not in modules]
    if unknown:
        raise ValueError(f"unknown layers {unknown}: prunable layers are {sorted(modules)}")
    rng = np.random.default_rng(seed)
    scores = {}
    for name in layers:
        weight = modules[name].weight.detach().to(torch.float64)
        units = weight.shape[0]
        if criterion == "random":
            scores[name] = rng.random(units)
        elif criterion == "magnitude":
            scores[name] = weight.reshape(units, -1).abs().sum(1).cpu().numpy()
        elif criterion == "slimming":
            bn = following_batchnorm(model).get(name)
            if bn is None or bn.weight is None:
                raise ValueError(f"network slimming needs a BatchNorm after layer {name!r}")
            scores[name] = bn.weight.detach().abs().to(torch.float64).cpu().numpy()
        else:
            scores[name] = spline_scores(model, name)
    return scores


def spline_scores(model: nn.Module, name: str) -> np.ndarray:
    """The spline policy's scores (units,) for one layer followed by BatchNorm (module doc)."""
    cut = 2.0 * norm.sf(bn_spline_distance(model, name))  # fraction of data the spline separates x 2
    w, b = unit_hyperplanes(model, name)
    w_hat, b_hat = normalised_hyperplanes(w, b)
    alive = np.isfinite(b_hat)
    if alive.sum() < 2:
        return np.where(alive, cut, 0.0)
    idx = np.nonzero(alive)[0]
    points = np.concatenate([w_hat, b_hat[:, None]], 1)[idx]
    gap = np.linalg.norm(points[:, None] - points[None], axis=2)
    # a unit is redundant only next to a *more* important one (larger cut; ties: lower index),
    # so of two coincident splines one keeps its score
    rank = np.lexsort((idx, -cut[idx]))
    position = np.empty(len(idx), int)
    position[rank] = np.arange(len(idx))
    gap[position[None, :] >= position[:, None]] = np.inf
    nearest = gap.min(1)
    finite = nearest[np.isfinite(nearest)]
    scale = max(float(np.median(finite)), 1e-12) if len(finite) else 1.0
    distinct = np.zeros(len(w))
    distinct[idx] = np.minimum(1.0, nearest / scale)
    return np.where(alive, cut * distinct, 0.0)


def select_units(scores: Mapping[str, np.ndarray], ratio: float, scope: str = "layerwise") -> dict[str, list[int]]:
    """Units to prune: the lowest-scored ``round(ratio * units)`` of each layer (``layerwise``),
    or those below one threshold over all layers' scores each divided by its layer's largest
    (``global``). Every layer keeps at least one unit (its best)."""
    _check_ratio(ratio)
    if scope not in ("layerwise", "global"):
        raise ValueError(f"scope must be 'layerwise' or 'global', got {scope!r}")
    if not scores:
        raise ValueError("no layers to prune: scores is empty")
    pruned = {}
    if scope == "layerwise":
        for name, s in scores.items():
            s = np.asarray(s, dtype=np.float64)
            n = min(int(round(ratio * len(s))), len(s) - 1)
            pruned[name] = sorted(int(i) for i in np.argsort(s, kind="stable")[:n])
        return pruned
    normalised = {n: np.asarray(s, np.float64) / max(float(np.max(s)), 1e-300) for n, s in scores.items()}
    flat = np.concatenate(list(normalised.values()))
    n_total = int(round(ratio * len(flat)))
    threshold = np.sort(flat, kind="stable")[n_total - 1] if n_total else -np.inf
    for name, s in normalised.items():
        below = np.nonzero(s <= threshold)[0] if n_total else np.zeros(0, int)
        if len(below) >= len(s):
            below = np.delete(np.arange(len(s)), int(np.argmax(s)))
        pruned[name] = sorted(int(i) for i in below)
    return pruned
