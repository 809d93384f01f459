"""Layers written explicitly as max-affine spline operators (MASOs).

A MASO with ``K`` outputs and ``R`` pieces maps ``x`` (dimension ``D``) to
``S(x)_k = max_r (<A[k, r], x> + B[k, r])``. These helpers build ``(A, B)`` for common layers so
the book can check, numerically, that the layer *is* that MASO.
"""

from __future__ import annotations

import torch
from torch import nn

from ..checks import check_finite, check_int, check_tensor
from .model_walk import pool_geometry


def maso(x: torch.Tensor, slopes: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Evaluate a MASO. x: (N, D); slopes: (K, R, D); offsets: (K, R) (``-inf`` allowed: a piece
    that never wins, as in :func:`maxpool_maso`'s padding). Returns (N, K)."""
    check_tensor("x", x)
    check_tensor("slopes", slopes)
    check_tensor("offsets", offsets, finite=False)
    if slopes.dim() != 3 or offsets.shape != slopes.shape[:2]:
        raise ValueError(
            f"need slopes (K, R, D) and offsets (K, R); got {tuple(slopes.shape)} and {tuple(offsets.shape)}"
        )
    if x.dim() != 2 or x.shape[1] != slopes.shape[2]:
        raise ValueError(f"x must have shape (N, {slopes.shape[2]}), got {tuple(x.shape)}")
    if slopes.shape[1] == 0:
        raise ValueError("slopes must have at least one piece per output (R >= 1), got R = 0")
    if bool(torch.isnan(offsets).any()) or bool((offsets == float("inf")).any()):
        raise ValueError(
            "offsets must be finite or -inf (a piece that never wins), got NaN or +inf"
        )
    if not (x.dtype == slopes.dtype == offsets.dtype):
        raise ValueError(
            f"x, slopes and offsets must share one dtype, got {x.dtype}, {slopes.dtype}, {offsets.dtype}"
        )
    return (torch.einsum("krd,nd->nkr", slopes, x) + offsets).amax(-1)


def dense_layer_maso(linear: nn.Linear, activation) -> tuple[torch.Tensor, torch.Tensor]:
    """``(A, B)`` of ``activation(linear(x))`` with R = 2 pieces per unit.

    activation: ``nn.ReLU`` (pieces ``0`` and ``h``), ``nn.LeakyReLU`` with slope ``0 <= eta <= 1``
    (pieces ``eta h`` and ``h``) or ``"abs"`` (pieces ``-h`` and ``h``), where ``h = W x + b``.
    Returns slopes (K, 2, D) and offsets (K, 2).
    """
    if not isinstance(linear, nn.Linear):
        raise TypeError(f"linear must be an nn.Linear, got {type(linear).__name__}")
    check_finite("linear weight", linear.weight.detach())
    if linear.bias is not None:
        check_finite("linear bias", linear.bias.detach())
    w = linear.weight.detach()
    b = linear.bias.detach() if linear.bias is not None else torch.zeros(w.shape[0], dtype=w.dtype)
    if isinstance(activation, nn.ReLU):
        low = 0.0
    elif isinstance(activation, nn.LeakyReLU) and 0.0 <= activation.negative_slope <= 1.0:
        low = activation.negative_slope
    elif activation == "abs":
        low = -1.0
    else:
        raise ValueError(
            f"activation must be nn.ReLU, nn.LeakyReLU(0 <= slope <= 1) or 'abs', got {activation!r}"
        )
    return torch.stack([low * w, w], 1), torch.stack([low * b, b], 1)


def maxpool_maso(
    pool: nn.MaxPool2d, input_shape: tuple[int, int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(A, B)`` of a 2-D max-pooling layer on inputs of shape (C, H, W), flattened.

    Output k = (c, i, j) has one piece per window position: a slope that selects one input
    coordinate (a row of the identity). Window positions in the padding get offset ``-inf``.
    Returns slopes (K, kh*kw, C*H*W) and offsets (K, kh*kw), with K = C * H_out * W_out.
    """
    if not isinstance(pool, nn.MaxPool2d):
        raise TypeError(f"pool must be an nn.MaxPool2d, got {type(pool).__name__}")
    if pool.ceil_mode:
        raise ValueError("pool must use ceil_mode=False, got ceil_mode=True")
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
        raise ValueError(f"input_shape must be (C, H, W), got {input_shape!r}")
    c, h, w = (check_int(f"input_shape[{i}]", v, 1) for i, v in enumerate(input_shape))
    g = pool_geometry(pool, h, w)
    if g["h_out"] < 1 or g["w_out"] < 1:
        raise ValueError(
            f"input_shape {tuple(input_shape)} is smaller than the pooling window: no output"
        )
    kh, kw, sh, sw, ph, pw, dh, dw = (
        g[k] for k in ("kh", "kw", "sh", "sw", "ph", "pw", "dh", "dw")
    )
    h_out, w_out = g["h_out"], g["w_out"]
    k = c * h_out * w_out
    slopes = torch.zeros(k, kh * kw, c * h * w)
    offsets = torch.full((k, kh * kw), float("-inf"))
    unit = 0
    for ch in range(c):
        for i in range(h_out):
            for j in range(w_out):
                for a in range(kh):
                    for b in range(kw):
                        r, s = i * sh - ph + a * dh, j * sw - pw + b * dw
                        if 0 <= r < h and 0 <= s < w:
                            slopes[unit, a * kw + b, (ch * h + r) * w + s] = 1.0
                            offsets[unit, a * kw + b] = 0.0
                unit += 1
    return slopes, offsets
