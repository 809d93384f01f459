"""Recording region codes during a forward pass: one :class:`LayerCode` per code-layer call.

Forward hooks on every code-defining module (each ``nn.ReLU``, ``nn.LeakyReLU`` and
``nn.MaxPool2d`` the model calls) record that layer's code as the model runs:

* ReLU / LeakyReLU: the sign of the pre-activation, read by a pre-hook (before an in-place ReLU
  overwrites its input);
* MaxPool2d: the position of each window's maximum, read by a hook after the pooling (from its
  input and output, without a second pooling), as an integer of type :func:`window_dtype`.

A module called twice gets one record per call (``'relu'``, ``'relu#2'``). The public entry
points that run these hooks (:class:`CodeHooks`) are
:func:`~spline_utils.spline_view.codes.activation_codes` and
:func:`~spline_utils.spline_view.codes.packed_codes`; :func:`prepare_input` is the input check
they (and other modules that run a model on a batch) share.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..checks import check_finite, check_int, check_tensor
from .bit_packing import pack_bits
from .model_walk import pair, structure_of

__all__ = [
    "CodeHooks",
    "LayerCode",
    "PackedLayer",
    "prepare_input",
    "run_model",
    "window_dtype",
]


# --------------------------------------------------------------------------- one layer's code
@dataclass
class LayerCode:
    """Code of one layer for a batch.

    Attributes:
        name: module name (``'features.2'``; a module called twice gets ``'relu#2'``).
        kind: ``'relu'`` (values: bool, shape ``(N, *unit_shape)``) or ``'maxpool'`` (values:
            window positions in ``[0, window)``, shape (N, C, H_out, W_out); uint8 for windows of
            at most 256 positions, a wider integer type for larger ones).
        values: the code, as described under ``kind``.
        window: number of values a unit's code can take (2 for ReLU, ``kh*kw`` for max-pooling).
        preactivation: the ReLU layer's input (same shape as values, float), when it was asked
            for.
    """

    name: str
    kind: str
    values: torch.Tensor
    window: int = 2
    preactivation: torch.Tensor | None = field(default=None, repr=False)

    @property
    def bits_per_unit(self) -> int:
        return 1 if self.kind == "relu" else max(1, math.ceil(math.log2(self.window)))

    @property
    def n_units(self) -> int:
        return int(np.prod(self.values.shape[1:]))

    @property
    def n_bits(self) -> int:
        return self.n_units * self.bits_per_unit

    def bits(self) -> torch.Tensor:
        """Binary form, bool of shape (N, n_bits) (max-pool positions in big-endian binary)."""
        flat = self.values.reshape(self.values.shape[0], -1)
        if self.kind == "relu":
            return flat.bool()
        b = self.bits_per_unit
        shifts = torch.arange(b - 1, -1, -1, device=flat.device, dtype=flat.dtype)
        return ((flat.unsqueeze(-1) >> shifts) & 1).bool().reshape(flat.shape[0], -1)

    def packed(self) -> torch.Tensor:
        """uint8 of shape (N, ceil(n_bits / 8))."""
        return pack_bits(self.bits())


# --------------------------------------------------------------------------- recording
def window_dtype(positions: int) -> torch.dtype:
    """The integer type that holds max-pooling window positions ``[0, positions)``: uint8 up to
    256 positions, int16 / int32 beyond (a 17 x 17 window has 289)."""
    positions = check_int("positions", positions, 1)
    return torch.uint8 if positions <= 256 else torch.int16 if positions <= 1 << 15 else torch.int32


def _maxpool_window_position(
    pool: nn.MaxPool2d, z: torch.Tensor, out: torch.Tensor
) -> torch.Tensor:
    """Position (row-major, in ``[0, kh*kw)``) of each window's maximum, (N, C, H_out, W_out), of
    type :func:`window_dtype` (uint8 up to 256 positions).

    ``z`` is the pool's input and ``out`` its output. Each window offset is compared, as one
    strided view of the input, with the output; the first offset that attains the maximum wins.
    This costs a few passes over output-sized tensors and no second pooling.
    """
    kh, kw = pair(pool.kernel_size)
    sh, sw = pair(pool.stride if pool.stride is not None else pool.kernel_size)
    ph, pw = pair(pool.padding)
    dh, dw = pair(pool.dilation)
    if ph or pw:
        z = F.pad(z, (pw, pw, ph, ph), value=float("-inf"))
    h_out, w_out = out.shape[-2:]
    position = torch.full(out.shape, kh * kw - 1, dtype=window_dtype(kh * kw), device=out.device)
    for offset in range(kh * kw - 2, -1, -1):
        a, b = divmod(offset, kw)
        view = z[
            ...,
            a * dh : a * dh + sh * (h_out - 1) + 1 : sh,
            b * dw : b * dw + sw * (w_out - 1) + 1 : sw,
        ]
        position.masked_fill_(view == out, offset)
    return position


@dataclass
class PackedLayer:
    """One layer's packed code for one batch: values uint8 (N, ceil(n_bits / 8))."""

    name: str
    kind: str
    values: torch.Tensor
    n_bits: int


class CodeHooks:
    """Forward hooks on every code-defining module of a model; collects one :class:`LayerCode`
    per call (a :class:`PackedLayer` with ``pack=True``) in ``records``, while the ``with``
    block lasts. ``model``: the model or its
    :class:`~spline_utils.spline_view.structure.NetworkStructure` (whose code layers are used,
    without walking the model again)."""

    def __init__(
        self,
        model: nn.Module,
        keep_preactivations: bool = False,
        pack: bool = False,
        kinds: tuple[str, ...] = ("relu", "maxpool"),
    ):
        self.structure = structure_of(model)
        self.keep_preactivations = keep_preactivations
        self.pack = pack  # store each code packed right away (values: uint8 (N, bytes))
        self.kinds = kinds  # which code layers to record
        self.records: list[LayerCode] = []
        self._calls: Counter[str] = Counter()
        self._handles = []

    def __enter__(self) -> CodeHooks:
        for name, module in self.structure.code_layers:
            label = name or type(module).__name__
            if isinstance(module, nn.MaxPool2d):  # needs the output: after the module runs
                if "maxpool" in self.kinds:
                    self._handles.append(module.register_forward_hook(self._pool_hook(label)))
            elif "relu" in self.kinds:  # needs the input before an in-place ReLU overwrites it
                self._handles.append(module.register_forward_pre_hook(self._relu_hook(label)))
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()

    def _label(self, name: str) -> str:
        self._calls[name] += 1
        return name if self._calls[name] == 1 else f"{name}#{self._calls[name]}"

    def _store(self, code: LayerCode) -> None:
        if self.pack:  # keep the metadata, replace the values by their packed bits
            code = PackedLayer(code.name, code.kind, code.packed(), code.n_bits)
        self.records.append(code)

    def _relu_hook(self, name: str):
        def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            z = inputs[0]
            kept = z.detach().clone() if self.keep_preactivations else None
            self._store(LayerCode(self._label(name), "relu", z > 0, 2, kept))

        return hook

    def _pool_hook(self, name: str):
        def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
            kh, kw = pair(module.kernel_size)
            position = _maxpool_window_position(module, inputs[0], output)
            self._store(LayerCode(self._label(name), "maxpool", position, kh * kw))

        return hook


def prepare_input(
    model: nn.Module, x: torch.Tensor, name: str = "x", finite: bool = True
) -> torch.Tensor:
    """``x`` checked (a real tensor batch (N, ...), N >= 1, finite unless ``finite=False``, i.e.
    already checked) and moved to the model's device and dtype (``model``: the model or its
    :class:`~spline_utils.spline_view.structure.NetworkStructure`)."""
    check_tensor(name, x, finite=False)
    if x.dim() < 2:
        raise ValueError(f"{name} must be a batch of shape (N, ...), got shape {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch (N = 0)")
    if finite:
        check_finite(name, x)
    dtype, device = structure_of(model).dtype_device()
    return x.to(device=device, dtype=dtype)


def run_model(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``model(x)``; a ``RuntimeError`` (an input of the wrong shape) becomes a ``ValueError``
    naming the input's shape."""
    try:
        return model(x)
    except RuntimeError as exc:
        raise ValueError(
            f"the model could not be evaluated on an input of shape {tuple(x.shape)}: {exc}"
        ) from exc
