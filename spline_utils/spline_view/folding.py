"""Folding eval-mode BatchNorm into the affine layer before it.

In eval mode ``BN(h) = gamma * (h - mu) / sqrt(var + eps) + beta`` is an affine map with a
diagonal matrix, so ``BN(W z + c)`` is again affine: ``W' z + c'`` with
``W' = diag(s) W``, ``c' = s * (c - mu) + beta`` and ``s = gamma / sqrt(var + eps)``.
"""

from __future__ import annotations

import torch
from torch import nn

from ..checks import check_finite


def fold_batchnorm(layer: nn.Module, bn: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight and bias of ``bn(layer(z))`` as one affine layer (eval-mode statistics).

    Args:
        layer: ``nn.Linear`` (weight (out, in)) or ``nn.Conv2d`` (weight
            (out, in/groups, kh, kw)); a missing bias counts as zero.
        bn: the ``nn.BatchNorm1d`` / ``nn.BatchNorm2d`` over its ``out`` channels, with running
            statistics (a missing affine scale / shift counts as 1 / 0).

    Returns:
        The pair ``(weight, bias)``, new tensors with the layer's weight shape and bias shape (out,),
        ``weight = diag(s) W`` and ``bias = s * (c - mu) + beta`` with
        ``s = gamma / sqrt(var + eps)``.

    Raises:
        ValueError: ``layer`` or ``bn`` is of another type, their sizes differ, ``bn`` keeps no
            running statistics, a tensor is not finite or ``running_var`` is negative.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> layer, bn = torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4).eval()
        >>> _ = bn.running_var.uniform_(0.5, 2.0)
        >>> weight, bias = su.fold_batchnorm(layer, bn)
        >>> tuple(weight.shape), tuple(bias.shape)
        ((4, 3), (4,))
        >>> z = torch.randn(5, 3)
        >>> torch.allclose(bn(layer(z)), z @ weight.T + bias, atol=1e-6)
        True
    """
    if not isinstance(layer, (nn.Linear, nn.Conv2d)):
        raise ValueError(f"layer must be nn.Linear or nn.Conv2d, got {type(layer).__name__}")
    if not isinstance(bn, (nn.BatchNorm1d, nn.BatchNorm2d)):
        raise ValueError(f"bn must be nn.BatchNorm1d or nn.BatchNorm2d, got {type(bn).__name__}")
    out = layer.weight.shape[0]
    if bn.num_features != out:
        raise ValueError(f"bn has {bn.num_features} features but the layer has {out} outputs")
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError(
            "bn keeps no running statistics (track_running_stats=False): it is not affine"
        )
    for what, tensor in (
        ("layer weight", layer.weight),
        ("layer bias", layer.bias),
        ("bn weight", bn.weight),
        ("bn bias", bn.bias),
        ("bn running_mean", bn.running_mean),
        ("bn running_var", bn.running_var),
    ):
        if tensor is not None:
            check_finite(what, tensor.detach())
    if bool((bn.running_var < 0).any()):
        raise ValueError("bn running_var must be >= 0, got a negative entry")
    with torch.no_grad():
        gamma = bn.weight if bn.weight is not None else torch.ones_like(bn.running_var)
        beta = bn.bias if bn.bias is not None else torch.zeros_like(bn.running_mean)
        scale = gamma / torch.sqrt(bn.running_var + bn.eps)
        bias = layer.bias if layer.bias is not None else torch.zeros_like(bn.running_mean)
        weight = layer.weight * scale.reshape(-1, *([1] * (layer.weight.dim() - 1)))
        return weight.clone(), (scale * (bias - bn.running_mean) + beta).clone()
