"""Which models the spline view covers, and a walk over their layers.

A network is a composition of max-affine spline operators (MASOs) when every layer is an
affine map followed by a convex piecewise-affine nonlinearity. This module decides whether a
given ``nn.Module`` is such a network:

* **code-defining nonlinearities** (each call records one layer of the region code):
  ``nn.ReLU``, ``nn.LeakyReLU`` (sign of the pre-activation) and ``nn.MaxPool2d`` (argmax
  position inside each pooling window);
* **affine modules** (fold into their neighbours): ``nn.Linear``, ``nn.Conv2d`` (any
  stride/padding/dilation/groups), ``nn.BatchNorm1d/2d`` (eval mode), ``nn.AvgPool2d``,
  ``nn.AdaptiveAvgPool2d``, ``nn.Flatten``, ``nn.Dropout`` (eval mode), ``nn.Identity``;
* **containers** (``nn.Sequential``, ``nn.ModuleList``, your own ``nn.Module`` subclasses) whose
  ``forward`` may add tensors (residual connections), concatenate, reshape, average or scale
  by constants.

Smooth nonlinearities (Tanh, Sigmoid, GELU, SiLU, ELU, Softplus, ...) are refused with a
``ValueError`` naming the module: the network they build is not piecewise affine. So are layers
that are piecewise affine but have no code here (Hardtanh, ReLU6, PReLU, MaxPool1d, ...), a
LeakyReLU whose ``negative_slope`` is outside [0, 1] (not convex), BatchNorm without running
statistics (its eval-mode output depends on the rest of the batch), parameters or buffers
holding NaN / inf, and operations in ``forward`` that are not affine in the input: a product of
two input-dependent tensors, a division *by* an input-dependent tensor (``2 / x``), powers,
``abs``, ``max`` / ``clamp`` / ``where`` between tensors, functional ReLUs.

The analysis is always of the *evaluation-mode* network (BatchNorm with running statistics,
no dropout): :func:`evaluation_mode` switches a model to eval and restores it afterwards.

:func:`check_supported` combines two checks: the modules
(:mod:`~spline_utils.spline_view.supported_modules`, which also holds the module types
``CODE_MODULES``, ``AFFINE_MODULES``, ... re-exported here) and the operations between them in
``forward`` (:mod:`~spline_utils.spline_view.affine_operations`). The rest of this module asks
about a model's layers: its code modules, its prunable layers by name, a module's input or output.
Each function finds the model's layers through a
:class:`~spline_utils.spline_view.structure.NetworkStructure` (one walk of the module tree), and
takes one in place of the model: code that asks several questions builds it once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from ..checks import check_int
from .structure import PRUNABLE, NetworkStructure
from .supported_modules import (
    AFFINE_MODULES,
    CODE_MODULES,
    NOT_PIECEWISE_AFFINE,
)

__all__ = [
    "AFFINE_MODULES",
    "CODE_MODULES",
    "NOT_PIECEWISE_AFFINE",
    "PRUNABLE",
    "check_batch_independent",
    "check_supported",
    "code_modules",
    "evaluation_mode",
    "following_batchnorm",
    "layer_by_name",
    "model_dtype_device",
    "module_tensor",
    "pair",
    "pool_geometry",
    "prunable_layers",
]


def structure_of(model) -> NetworkStructure:
    """``model``'s :class:`~spline_utils.spline_view.structure.NetworkStructure` (``model``
    itself when it is one); ``TypeError`` unless it is an ``nn.Module`` or a structure."""
    if isinstance(model, NetworkStructure):
        return model
    return NetworkStructure(model)


def check_supported(model: nn.Module, trace: bool = True) -> None:
    """Raise ``ValueError`` unless ``model`` is a network the spline view covers.

    Checks every submodule (see the module docstring for the supported set), that every
    parameter and buffer is finite, and, with
    ``trace=True``, the operations between modules in ``forward`` (via ``torch.fx``; a model
    that cannot be traced gets a warning and a module-only check).

    Args:
        model: the network to check (or its
            :class:`~spline_utils.spline_view.structure.NetworkStructure`).
        trace: also check the operations between modules in a custom ``forward`` (a plain
            ``nn.Sequential`` of supported layers needs no trace).

    Returns:
        ``None`` when the model is supported.

    Raises:
        ValueError: a module or an operation is not piecewise affine (or has no code here), an
            operation averages or concatenates over the batch dimension, a BatchNorm keeps no
            running statistics, a parameter or buffer is not finite, the model has no layers,
            or it is a ``torch.compile``'d module (pass ``model._orig_mod``); the message names
            the module or operation.
        TypeError: ``model`` is not an ``nn.Module``, or ``trace`` is not a bool.

    Example:
        >>> su.check_supported(su.make_mlp([2, 6, 6, 1]))  # no error
        >>> from torch import nn
        >>> su.check_supported(nn.Sequential(nn.Linear(2, 3), nn.Tanh()))
        Traceback (most recent call last):
            ...
        ValueError: module '1' (Tanh) is not piecewise affine: ...
    """
    structure = structure_of(model)
    if not isinstance(trace, bool):
        raise TypeError(f"trace must be True or False, got {trace!r}")
    structure.check_supported(trace)


@torch.no_grad()
def check_batch_independent(model: nn.Module, x: torch.Tensor) -> None:
    """Raise ``ValueError`` if the eval-mode ``model`` does not treat the inputs of a batch
    independently: the first, middle and last inputs of ``x`` (N, ...), and the first shifted
    by +1 and by -1 in every coordinate, are run as one batch and one by one, and the outputs
    must agree to within 1e-4 of their scale in float32 / float64 on the CPU (5e-2 on a GPU,
    whose TF32 kernels may differ between batch sizes, and in half precision). A ``forward``
    that mixes the batch (``h - h.mean(0)``, a concatenation along the batch dimension, ...)
    gives a point a map that depends on the rest of its batch: no map of its own. A plain
    ``nn.Sequential`` of supported layers cannot mix the batch and is not run; nor is a model
    whose :class:`~spline_utils.spline_view.structure.NetworkStructure` (passed in place of the
    model) passed this check before. ``x`` must already be checked and on the model's device
    and dtype."""
    structure = structure_of(model)
    if structure.plain or structure.batch_checked():
        return
    model = structure.model
    n = x.shape[0]
    picked = x[sorted({0, n // 2, n - 1})]
    batch = torch.cat([picked, x[:1] + 1.0, x[:1] - 1.0])
    with evaluation_mode(structure):
        together = model(batch)
        alone = [model(batch[i : i + 1]) for i in range(batch.shape[0])]
    mixed = not all(isinstance(t, torch.Tensor) for t in [together, *alone])
    if not mixed:
        alone = torch.cat(alone)
        mixed = together.shape != alone.shape
    if not mixed:
        scale = 1.0 + float(alone.abs().max()) if alone.numel() else 1.0
        exact = x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64)
        mixed = not bool(((together - alone).abs() <= (1e-4 if exact else 5e-2) * scale).all())
    if mixed:
        raise ValueError(
            f"model {type(model).__name__} mixes the inputs of a batch: run on {batch.shape[0]} "
            "inputs together and one by one it gives different outputs (its forward reduces or "
            "concatenates over the batch dimension, e.g. h - h.mean(0)), so an input's affine "
            "map would depend on the rest of its batch; make every operation act on each input "
            "alone"
        )
    structure.mark_batch_checked()


def code_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The code-defining nonlinearity modules of ``model``, as (qualified name, module),
    in registration order (forward-call order is what :mod:`spline_utils.spline_view.codes`
    records)."""
    return list(structure_of(model).code_layers)


@contextlib.contextmanager
def evaluation_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` (or the model of a
    :class:`~spline_utils.spline_view.structure.NetworkStructure`) in eval mode for the
    ``with`` block, then restore each module's mode; yields the model."""
    structure = structure_of(model)
    model = structure.model
    modes = [(m, m.training) for _, m in structure.modules]
    model.eval()
    try:
        yield model
    finally:
        for m, training in modes:
            m.train(training)


@torch.no_grad()
def module_tensor(
    model: nn.Module, module: nn.Module, x: torch.Tensor, output: bool = True
) -> torch.Tensor:
    """The output (``output=True``) or the first input of ``module`` when the eval-mode
    ``model`` runs on ``x``; the model's train/eval modes are restored afterwards."""
    structure = structure_of(model)
    if not structure.contains(module):
        raise ValueError(
            f"module must be a submodule of model, got a {type(module).__name__} that is not in it"
        )
    captured = {}  # cloned: an in-place ReLU after the module would overwrite the tensor
    if output:
        handle = module.register_forward_hook(
            lambda m, i, out: captured.__setitem__("t", out.detach().clone())
        )
    else:
        handle = module.register_forward_pre_hook(
            lambda m, i: captured.__setitem__("t", i[0].detach().clone())
        )
    try:
        with evaluation_mode(structure) as net:
            net(x)
    finally:
        handle.remove()
    if "t" not in captured:
        raise ValueError(
            f"module ({type(module).__name__}) is not called when the model runs: it has no tensor"
        )
    return captured["t"]


def pair(value) -> tuple:
    """A layer's size argument as a pair: ``3`` -> ``(3, 3)``, ``(2, 3)`` -> ``(2, 3)``."""
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def pool_geometry(pool: nn.MaxPool2d, height: int, width: int) -> dict[str, int]:
    """Kernel, stride, padding and dilation of a 2-D max-pool (as kh, kw, sh, sw, ph, pw, dh, dw)
    and its output size (h_out, w_out) on inputs of size height x width (ceil_mode=False)."""
    if not isinstance(pool, nn.MaxPool2d):
        raise TypeError(f"pool must be an nn.MaxPool2d, got {type(pool).__name__}")
    height, width = check_int("height", height, 1), check_int("width", width, 1)
    kh, kw = pair(pool.kernel_size)
    sh, sw = pair(pool.stride if pool.stride is not None else pool.kernel_size)
    ph, pw = pair(pool.padding)
    dh, dw = pair(pool.dilation)
    h_out = (height + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    w_out = (width + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    return dict(kh=kh, kw=kw, sh=sh, sw=sw, ph=ph, pw=pw, dh=dh, dw=dw, h_out=h_out, w_out=w_out)


def model_dtype_device(model: nn.Module) -> tuple[torch.dtype, torch.device]:
    """dtype and device of the model's first parameter (float32 / CPU for parameter-free models)."""
    return structure_of(model).dtype_device()


# --------------------------------------------------------------------------- layers by name
def prunable_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(qualified name, module) of every ``nn.Linear`` / ``nn.Conv2d``, in registration order."""
    return [(name, layer.module) for name, layer in structure_of(model).prunable.items()]


def following_batchnorm(model: nn.Module) -> dict[str, nn.Module]:
    """Map each Linear / Conv2d name to the BatchNorm registered right after it, in the same
    parent module, over its outputs (the ``layer -> BN`` pairs of ``conv_bn_relu`` blocks, MLPs
    with BN, residual blocks). A BN of the *next* block (after a residual addition, as in
    pre-activation ResNets) has another parent and is not paired."""
    return structure_of(model).batchnorms()


def layer_by_name(model: nn.Module, name: str) -> nn.Module:
    """The prunable layer (Linear / Conv2d) called ``name``; ``ValueError`` listing the layers if
    there is none."""
    return structure_of(model).layer(name).module
