"""Bit packing of binary codes: bool (N, B) <-> uint8 (N, ceil(B / 8)), on any device.

Region codes are stored packed (:class:`~spline_utils.spline_view.codes.PackedCodes`): a packed
layer of ``B`` bits takes ``ceil(B / 8)`` bytes per input instead of ``B`` bytes for the bool
form. Bit order is ``numpy.packbits``'s (the first bit is the most significant; the last byte is
zero-padded), so packed codes from the CPU and from an accelerator are the same bytes.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..checks import check_int

_BIT_WEIGHTS = (128, 64, 32, 16, 8, 4, 2, 1)


def pack_bits(bits: torch.Tensor) -> torch.Tensor:
    """Pack a bool tensor of shape (N, B) into uint8 of shape (N, ceil(B/8)).

    Bit order matches ``numpy.packbits`` (first bit is the most significant); the last byte
    is zero-padded. Works on any device. ``bits`` must be bool (or integers that are all 0 or 1).
    """
    if not isinstance(bits, torch.Tensor):
        raise TypeError(f"bits must be a torch.Tensor, got {type(bits).__name__}")
    if bits.dim() != 2:
        raise ValueError(f"bits must have shape (N, B), got shape {tuple(bits.shape)}")
    if bits.dtype != torch.bool:
        if bits.dtype.is_floating_point or bits.dtype.is_complex:
            raise TypeError(
                f"bits must be a bool tensor (or integers 0 / 1), got dtype {bits.dtype}"
            )
        if bits.numel() and not bool(((bits == 0) | (bits == 1)).all()):
            raise ValueError("bits must hold only 0 and 1")
    if bits.device.type == "cpu":  # numpy's C implementation is several times faster here
        return torch.from_numpy(np.packbits(bits.bool().numpy(), axis=1))
    return _pack_bits_torch(bits)


def _pack_bits_torch(bits: torch.Tensor) -> torch.Tensor:
    """:func:`pack_bits` in torch operations, for tensors on an accelerator."""
    n, b = bits.shape
    pad = (-b) % 8
    as_bytes = bits.to(torch.uint8)
    if pad:
        as_bytes = F.pad(as_bytes, (0, pad))
    weights = torch.tensor(_BIT_WEIGHTS, dtype=torch.uint8, device=bits.device)
    return (as_bytes.view(n, -1, 8) * weights).sum(-1, dtype=torch.uint8)


def unpack_bits(packed: torch.Tensor | np.ndarray, n_bits: int) -> torch.Tensor:
    """Inverse of :func:`pack_bits`: uint8 (N, ceil(B/8)) -> bool (N, B) with ``B = n_bits``."""
    packed = torch.as_tensor(packed)
    if packed.dtype != torch.uint8 or packed.dim() != 2:
        raise ValueError(
            f"packed must be a uint8 tensor of shape (N, bytes), got {packed.dtype} {tuple(packed.shape)}"
        )
    n_bits = check_int("n_bits", n_bits, 0)
    if not 0 <= n_bits <= 8 * packed.shape[1]:
        raise ValueError(f"n_bits={n_bits} does not fit in {packed.shape[1]} bytes")
    weights = torch.tensor(_BIT_WEIGHTS, dtype=torch.uint8, device=packed.device)
    bits = (packed.unsqueeze(-1) & weights) != 0
    return bits.reshape(packed.shape[0], -1)[:, :n_bits]
