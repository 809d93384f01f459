"""Activation codes: the vector-quantisation (VQ) view of a ReLU network's partition.

Every input ``x`` gets, for each code-defining layer ``l`` (each *call* of an ``nn.ReLU``,
``nn.LeakyReLU`` or ``nn.MaxPool2d`` in ``forward``), a code ``q^l(x)``:

* ReLU / LeakyReLU: ``q^l_k(x) = 1`` when the unit's pre-activation is ``> 0`` (bool, one per unit);
* MaxPool2d: the position of the maximum inside each pooling window (an integer in
  ``[0, kh*kw)``, row-major inside the window).

Two inputs lie in the same region of the input-space partition exactly when all their codes
agree, so the concatenated code is a region identifier. Codes are stored compactly by packing
bits into ``uint8`` (:func:`~spline_utils.spline_view.bit_packing.pack_bits`, ``numpy.packbits``
order): a packed layer of ``B`` bits takes ``ceil(B / 8)`` bytes per input instead of ``B`` bytes
for the bool form.

This module holds the code sets (:class:`ActivationCodes`, :class:`PackedCodes`), the entry
points that compute them (:func:`activation_codes`, :func:`packed_codes`) and the distance
between two code sets (:func:`code_distance`). The forward hooks that record each layer's code
(with :class:`~spline_utils.spline_view.code_recording.LayerCode`) are in
:mod:`~spline_utils.spline_view.code_recording`, bit packing in
:mod:`~spline_utils.spline_view.bit_packing`; their public names are importable from here too.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..checks import check_bool, check_finite, check_int, check_tensor
from .bit_packing import pack_bits, unpack_bits  # noqa: F401  (re-exported)
from .code_recording import (
    CodeHooks,
    LayerCode,
    prepare_input,
    run_model,
    window_dtype,  # noqa: F401  (re-exported)
)
from .model_walk import check_batch_independent, evaluation_mode, structure_of

__all__ = [
    "ActivationCodes",
    "LayerCode",
    "PackedCodes",
    "activation_codes",
    "code_distance",
    "pack_bits",
    "packed_codes",
    "record_codes",
    "unpack_bits",
    "window_dtype",
]


# --------------------------------------------------------------------------- code sets
@dataclass
class ActivationCodes:
    """Codes of every code-defining layer, in forward-call order, plus the network outputs.

    Indexing and ``len`` go through ``layers`` (``codes[0]`` is the first layer's code).

    Attributes:
        layers: list of :class:`~spline_utils.spline_view.code_recording.LayerCode`.
        outputs: network outputs for the batch, shape ``(N, *out_shape)`` (detached).
    """

    layers: list[LayerCode]
    outputs: torch.Tensor

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, index: int) -> LayerCode:
        return self.layers[index]

    @property
    def names(self) -> list[str]:
        return [layer.name for layer in self.layers]

    def packed(self) -> PackedCodes:
        """The codes bit-packed: a :class:`PackedCodes` on the CPU."""
        return PackedCodes(
            names=self.names,
            kinds=[layer.kind for layer in self.layers],
            n_bits=[layer.n_bits for layer in self.layers],
            data=[layer.packed().cpu().numpy() for layer in self.layers],
        )

    def bool_nbytes(self) -> int:
        """Bytes the bool (one byte per bit) form of all layers takes."""
        return sum(layer.values.shape[0] * layer.n_bits for layer in self.layers)

    def region_ids(self, upto: int | None = None) -> np.ndarray:
        """Region index per input, shape (N,), using layers ``[0, upto)`` (all by default).

        Inputs share an index exactly when their codes agree on those layers. Indices are
        0..R-1 in the order of the sorted codes.
        """
        return self.packed().region_ids(upto)


@dataclass
class PackedCodes:
    """Bit-packed codes: ``data[l]`` is uint8 of shape (N, ceil(n_bits[l] / 8)).

    Attributes:
        names: the code layers' module names, in forward-call order.
        kinds: ``'relu'`` or ``'maxpool'`` per layer.
        n_bits: bits per input in each layer.
        data: per layer, the packed codes, uint8 of shape (N, ceil(n_bits[l] / 8)).
    """

    names: list[str]
    kinds: list[str]
    n_bits: list[int]
    data: list[np.ndarray] = field(repr=False)

    @property
    def n_inputs(self) -> int:
        return self.data[0].shape[0] if self.data else 0

    @property
    def nbytes(self) -> int:
        return sum(d.nbytes for d in self.data)

    def unpack(self, layer: int) -> np.ndarray:
        """Bool (N, n_bits[layer]) form of one layer."""
        layer = check_int("layer", layer, 0, len(self.data) - 1)
        return np.unpackbits(self.data[layer], axis=1, count=self.n_bits[layer]).astype(bool)

    def select(self, kinds) -> PackedCodes:
        """The code layers of the given kinds (``"relu"`` and / or ``"maxpool"``), in order:
        the same arrays, not copies."""
        keep = [i for i, kind in enumerate(self.kinds) if kind in kinds]
        return PackedCodes(
            names=[self.names[i] for i in keep],
            kinds=[self.kinds[i] for i in keep],
            n_bits=[self.n_bits[i] for i in keep],
            data=[self.data[i] for i in keep],
        )

    def region_ids(self, upto: int | None = None) -> np.ndarray:
        """See :meth:`ActivationCodes.region_ids`."""
        upto = len(self.data) if upto is None else check_int("upto", upto)
        if not 0 <= upto <= len(self.data):
            raise ValueError(f"upto must be in [0, {len(self.data)}], got {upto}")
        if upto == 0:
            return np.zeros(self.n_inputs, dtype=np.int64)
        rows = np.ascontiguousarray(np.concatenate(self.data[:upto], axis=1))
        _, inverse = np.unique(rows, axis=0, return_inverse=True)
        return inverse.reshape(-1).astype(np.int64)


# --------------------------------------------------------------------------- computing codes
def record_codes(
    model: nn.Module, x: torch.Tensor, keep_preactivations: bool = False
) -> ActivationCodes:
    """Codes of a prepared batch, without re-checking the model (callers check once);
    ``model``: the model or its :class:`~spline_utils.spline_view.structure.NetworkStructure`."""
    structure = structure_of(model)
    with (
        torch.no_grad(),
        evaluation_mode(structure) as net,
        CodeHooks(structure, keep_preactivations) as recorder,
    ):
        outputs = run_model(net, x)
    return ActivationCodes(layers=recorder.records, outputs=outputs.detach())


def activation_codes(
    model: nn.Module, x: torch.Tensor, keep_preactivations: bool = False
) -> ActivationCodes:
    """Codes of every code-defining layer for the batch ``x`` (shape ``(N, *input_shape)``).

    The model is checked (:func:`~spline_utils.spline_view.model_walk.check_supported`) and
    evaluated in eval mode without gradients; codes stay on the model's device. With
    ``keep_preactivations=True`` each ReLU-type layer also keeps its input (for drawing its
    splines as zero level sets).

    Args:
        model: a supported network (ReLU / LeakyReLU / MaxPool2d nonlinearities), or its
            :class:`~spline_utils.spline_view.structure.NetworkStructure`.
        x: a batch of inputs, shape ``(N, *input_shape)``, N >= 1, finite; moved to the model's
            device and dtype.
        keep_preactivations: also keep each ReLU-type layer's input in
            :attr:`~spline_utils.spline_view.code_recording.LayerCode.preactivation`.

    Returns:
        An :class:`ActivationCodes` holding one
        :class:`~spline_utils.spline_view.code_recording.LayerCode` per call of a code-defining
        module, in forward-call order (ReLU codes bool of shape ``(N, *unit_shape)``), and the
        outputs.

    Raises:
        ValueError: the model is not supported (see
            :func:`~spline_utils.spline_view.model_walk.check_supported`), mixes the inputs of a
            batch (:func:`~spline_utils.spline_view.model_walk.check_batch_independent`), calls
            no code layer, or ``x`` is not a non-empty finite batch the model can evaluate.
        TypeError: ``x`` is not a tensor.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> net = su.make_mlp([2, 6, 6, 1])
        >>> codes = su.activation_codes(net, torch.randn(100, 2))
        >>> codes.names, codes[0].kind
        (['1', '3'], 'relu')
        >>> tuple(codes[0].values.shape), codes[0].values.dtype
        ((100, 6), torch.bool)
        >>> tuple(codes.outputs.shape)
        (100, 1)
    """
    structure = structure_of(model)
    structure.check_supported()
    keep_preactivations = check_bool("keep_preactivations", keep_preactivations)
    x = prepare_input(structure, x)
    check_batch_independent(structure, x)
    codes = record_codes(structure, x, keep_preactivations)
    if not codes.layers:
        raise ValueError(_no_code_layer(structure.model, ("relu", "maxpool")))
    return codes


def packed_codes(
    model: nn.Module,
    x: torch.Tensor,
    batch_size: int = 256,
    autocast: torch.dtype | None = None,
    kinds: tuple[str, ...] = ("relu", "maxpool"),
    check_model: bool = True,
) -> PackedCodes:
    """Bit-packed codes of ``x`` (shape ``(N, *input_shape)``), computed batch by batch.

    Each layer's code is packed as soon as the layer has run (the bool form of one layer of
    one batch is the most that is ever held), and the packed codes stay on the model's device
    until the last batch, when they are copied to the CPU at once (one transfer per layer, not
    one per batch): suited to large probe sets (a 100 x 100 canvas of images through VGG-16).
    Eval mode, no gradients.

    Args:
        model: a supported network (see
            :func:`~spline_utils.spline_view.model_walk.check_supported`).
        x: the inputs, a tensor (or an array of numbers) of shape ``(N, *input_shape)``, N >= 1,
            finite; each batch is moved to the model's device and dtype.
        batch_size: inputs per forward pass (>= 1).
        autocast: run the forward passes under ``torch.autocast`` in this dtype (e.g.
            ``torch.float16`` on a GPU, as mixed-precision training does); ``None``: the model's
            own dtype. A pre-activation within rounding of zero may then get the other sign.
        kinds: the kinds of code layers to record, ``"relu"`` and / or ``"maxpool"``.
        check_model: check the model (:func:`~spline_utils.spline_view.model_walk.check_supported`:
            its layers, and that no parameter is NaN); ``False`` for a caller that checked it
            already (an early-bird detector calls this every epoch).

    Returns:
        A :class:`PackedCodes` on the CPU holding, per code layer, uint8 of shape
        (N, ceil(n_bits / 8)) in ``numpy.packbits`` order (max-pool window positions in
        big-endian binary, ``ceil(log2(kh*kw))`` bits per unit).

    Raises:
        TypeError: ``x`` is not a tensor or an array of numbers.
        ValueError: the model is not supported (or, with ``check_model``, mixes the inputs of a
            batch), calls no code layer of ``kinds``, ``x`` is empty, not a batch or not finite,
            or ``batch_size`` < 1.

    Example:
        >>> net = su.digits_convnet((8, 16))
        >>> x = torch.rand(500, 1, 8, 8)
        >>> codes = su.packed_codes(net, x, batch_size=128)
        >>> codes.kinds, codes.n_bits
        (['relu', 'maxpool', 'relu', 'maxpool'], [512, 256, 256, 128])
        >>> [d.shape for d in codes.data], codes.nbytes
        ([(500, 64), (500, 32), (500, 32), (500, 16)], 72000)
    """
    batch_size = check_int("batch_size", batch_size, 1)
    if isinstance(kinds, str) or not set(kinds) <= {"relu", "maxpool"} or not kinds:
        raise ValueError(f"kinds must name 'relu' and / or 'maxpool' layers, got {kinds!r}")
    structure = structure_of(model)
    if check_model:
        structure.check_supported()
    try:
        x = torch.as_tensor(x)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(
            f"x must be a tensor (or an array of numbers), got {type(x).__name__}"
        ) from None
    check_tensor("x", x, finite=False)
    if x.dim() < 2 or x.shape[0] == 0:
        raise ValueError(
            f"x must be a non-empty batch of shape (N, ...), got shape {tuple(x.shape)}"
        )
    check_finite("x", x)
    if check_model:  # on the first, middle and last inputs, moved to the model's device
        spread = x[sorted({0, x.shape[0] // 2, x.shape[0] - 1})]
        check_batch_independent(structure, prepare_input(structure, spread, finite=False))
    n = x.shape[0]
    dtype, device = structure.dtype_device()
    precision = (
        torch.autocast(device.type, dtype=autocast)
        if autocast is not None
        else contextlib.nullcontext()
    )
    parts: list[list[torch.Tensor]] = []
    records = None
    with torch.no_grad(), evaluation_mode(structure) as net, precision:
        for start in range(0, n, batch_size):
            xb = x[start : start + batch_size].to(device=device, dtype=dtype)  # checked above
            with CodeHooks(structure, pack=True, kinds=tuple(kinds)) as recorder:
                run_model(net, xb)
            records = recorder.records
            for i, layer in enumerate(records):
                if i == len(parts):
                    parts.append([])
                parts[i].append(layer.values)
    if not records:
        raise ValueError(_no_code_layer(structure.model, kinds))
    return PackedCodes(
        names=[layer.name for layer in records],
        kinds=[layer.kind for layer in records],
        n_bits=[layer.n_bits for layer in records],
        data=[
            (layer_parts[0] if len(layer_parts) == 1 else torch.cat(layer_parts)).cpu().numpy()
            for layer_parts in parts
        ],
    )


def _no_code_layer(model: nn.Module, kinds) -> str:
    return (
        f"model {type(model).__name__} has no code layer of the kinds {tuple(kinds)} (no "
        "nn.ReLU / nn.LeakyReLU / nn.MaxPool2d is called in its forward): an affine network has "
        "one region and no codes to record"
    )


def code_distance(a: PackedCodes, b: PackedCodes) -> np.ndarray:
    """Per-layer normalised Hamming distance between two code sets of the same inputs.

    Returns float64 of shape (n_layers,): the fraction of differing bits in each layer,
    averaged over the inputs.
    """
    for name, codes in (("a", a), ("b", b)):
        if not isinstance(codes, PackedCodes):
            raise TypeError(
                f"{name} must be PackedCodes (from packed_codes), got {type(codes).__name__}"
            )
    if a.names != b.names or a.n_bits != b.n_bits or a.n_inputs != b.n_inputs:
        raise ValueError(
            "code sets do not match: both must come from the same architecture and the same inputs "
            f"(layers {len(a.names)} vs {len(b.names)}, inputs {a.n_inputs} vs {b.n_inputs})"
        )
    popcount = np.array([bin(i).count("1") for i in range(256)], dtype=np.int64)
    return np.array(
        [
            popcount[np.bitwise_xor(da, db)].sum() / (bits * a.n_inputs)
            for da, db, bits in zip(a.data, b.data, a.n_bits)
        ],
        dtype=np.float64,
    )
