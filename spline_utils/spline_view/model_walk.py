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
``forward`` (:mod:`~spline_utils.spline_view.affine_operations`). The rest of this module walks a
model's layers: its code modules, its prunable layers by name, a module's input or output.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from .._validate import check_model_finite, check_module
from .affine_operations import _check_forward_ops
from .supported_modules import (
    AFFINE_MODULES,  # noqa: F401  (re-exported)
    CODE_MODULES,  # noqa: F401  (re-exported)
    CONTAINER_MODULES,
    NOT_PIECEWISE_AFFINE,  # noqa: F401  (re-exported)
    _check_module,
    _is_code_module,
)


def check_supported(model: nn.Module, trace: bool = True) -> None:
    """Raise ``ValueError`` unless ``model`` is a network the spline view covers.

    Checks every submodule (see the module docstring for the supported set), that every
    parameter and buffer is finite, and, with
    ``trace=True``, the operations between modules in ``forward`` (via ``torch.fx``; a model
    that cannot be traced gets a warning and a module-only check).

    Args:
        model: the network to check.
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
    check_module("model", model)
    if not isinstance(trace, bool):
        raise TypeError(f"trace must be True or False, got {trace!r}")
    if isinstance(getattr(model, "_orig_mod", None), nn.Module):
        raise ValueError(
            f"model is a torch.compile'd {type(model._orig_mod).__name__}: the spline view runs "
            "a model eagerly, with hooks on its layers, and a compiled forward cannot be traced "
            "or checked; pass the original module, model._orig_mod"
        )
    modules = list(model.named_modules())
    if all(
        next(m.children(), None) is None and isinstance(m, CONTAINER_MODULES) for _, m in modules
    ):
        raise ValueError(f"model {type(model).__name__} is empty: it has no layers")
    for name, module in modules:
        _check_module(name, module)
    check_model_finite(model)
    # only custom forward methods can hold functional operations: plain Sequentials of
    # supported leaves need no trace
    if trace and not _plain(model):
        _check_forward_ops(model)


def _plain(model: nn.Module) -> bool:
    """Whether ``model`` is a (nested) ``nn.Sequential`` of leaves: no custom ``forward``."""
    return all(
        type(m) is nn.Sequential or next(m.children(), None) is None for m in model.modules()
    )


@torch.no_grad()
def check_batch_independent(model: nn.Module, x: torch.Tensor) -> None:
    """Raise ``ValueError`` if the eval-mode ``model`` does not treat the inputs of a batch
    independently: the first, middle and last inputs of ``x`` (N, ...), and the first shifted
    by +1 and by -1 in every coordinate, are run as one batch and one by one, and the outputs
    must agree to within 1e-4 of their scale in float32 / float64 on the CPU (5e-2 on a GPU,
    whose TF32 kernels may differ between batch sizes, and in half precision). A ``forward``
    that mixes the batch (``h - h.mean(0)``, a concatenation along the batch dimension, ...)
    gives a point a map that depends on the rest of its batch: no map of its own. A plain
    ``nn.Sequential`` of supported layers cannot mix the batch and is not run. ``x`` must
    already be checked and on the model's device and dtype."""
    if _plain(model):
        return
    n = x.shape[0]
    picked = x[sorted({0, n // 2, n - 1})]
    batch = torch.cat([picked, x[:1] + 1.0, x[:1] - 1.0])
    with evaluation_mode(model):
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


def code_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The code-defining nonlinearity modules of ``model``, as (qualified name, module),
    in registration order (forward-call order is what :mod:`spline_utils.spline_view.codes`
    records)."""
    check_module("model", model)
    return [(n, m) for n, m in model.named_modules() if _is_code_module(m)]


@contextlib.contextmanager
def evaluation_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode for the ``with`` block, then restore each module's mode."""
    check_module("model", model)
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        yield model
    finally:
        for m, training in modes.items():
            m.train(training)


@torch.no_grad()
def module_tensor(
    model: nn.Module, module: nn.Module, x: torch.Tensor, output: bool = True
) -> torch.Tensor:
    """The output (``output=True``) or the first input of ``module`` when the eval-mode
    ``model`` runs on ``x``; the model's train/eval modes are restored afterwards."""
    check_module("model", model)
    if not any(m is module for m in model.modules()):
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
        with evaluation_mode(model):
            model(x)
    finally:
        handle.remove()
    if "t" not in captured:
        raise ValueError(
            f"module ({type(module).__name__}) is not called when the model runs: it has no tensor"
        )
    return captured["t"]


def pool_geometry(pool: nn.MaxPool2d, height: int, width: int) -> dict[str, int]:
    """Kernel, stride, padding and dilation of a 2-D max-pool (as kh, kw, sh, sw, ph, pw, dh, dw)
    and its output size (h_out, w_out) on inputs of size height x width (ceil_mode=False)."""
    from torch.nn.modules.utils import _pair

    from .._validate import check_int

    if not isinstance(pool, nn.MaxPool2d):
        raise TypeError(f"pool must be an nn.MaxPool2d, got {type(pool).__name__}")
    height, width = check_int("height", height, 1), check_int("width", width, 1)
    kh, kw = _pair(pool.kernel_size)
    sh, sw = _pair(pool.stride if pool.stride is not None else pool.kernel_size)
    ph, pw = _pair(pool.padding)
    dh, dw = _pair(pool.dilation)
    h_out = (height + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    w_out = (width + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    return dict(kh=kh, kw=kw, sh=sh, sw=sw, ph=ph, pw=pw, dh=dh, dw=dw, h_out=h_out, w_out=w_out)


def model_dtype_device(model: nn.Module) -> tuple[torch.dtype, torch.device]:
    """dtype and device of the model's first parameter (float32 / CPU for parameter-free models)."""
    check_module("model", model)
    for p in model.parameters():
        return p.dtype, p.device
    return torch.get_default_dtype(), torch.device("cpu")


# --------------------------------------------------------------------------- layers by name
PRUNABLE: tuple[type[nn.Module], ...] = (nn.Linear, nn.Conv2d)


def prunable_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(qualified name, module) of every ``nn.Linear`` / ``nn.Conv2d``, in registration order."""
    check_module("model", model)
    return [(n, m) for n, m in model.named_modules() if isinstance(m, PRUNABLE)]


def following_batchnorm(model: nn.Module) -> dict[str, nn.Module]:
    """Map each Linear / Conv2d name to the BatchNorm registered right after it, in the same
    parent module, over its outputs (the ``layer -> BN`` pairs of ``conv_bn_relu`` blocks, MLPs
    with BN, residual blocks). A BN of the *next* block (after a residual addition, as in
    pre-activation ResNets) has another parent and is not paired."""
    check_module("model", model)
    leaves = [(n, m) for n, m in model.named_modules() if next(m.children(), None) is None]
    pairs = {}
    for (name, layer), (after_name, after) in zip(leaves[:-1], leaves[1:]):
        if isinstance(layer, PRUNABLE) and isinstance(after, (nn.BatchNorm1d, nn.BatchNorm2d)):
            same_parent = name.rpartition(".")[0] == after_name.rpartition(".")[0]
            if same_parent and after.num_features == layer.weight.shape[0]:
                pairs[name] = after
    return pairs


def layer_by_name(model: nn.Module, name: str) -> nn.Module:
    """The prunable layer (Linear / Conv2d) called ``name``; ``ValueError`` listing the layers if
    there is none."""
    layers = dict(prunable_layers(model))
    if not isinstance(name, str) or name not in layers:
        raise ValueError(
            f"unknown layer {name!r}: prunable layers (Linear / Conv2d) are {sorted(layers)}"
        )
    return layers[name]
