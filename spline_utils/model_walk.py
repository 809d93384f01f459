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
``ValueError`` naming the module: the network they build is not piecewise affine.

The analysis is always of the *evaluation-mode* network (BatchNorm with running statistics,
no dropout): :func:`evaluation_mode` switches a model to eval and restores it afterwards.
"""

from __future__ import annotations

import contextlib
import operator
import warnings
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

CODE_MODULES: tuple[type[nn.Module], ...] = (nn.ReLU, nn.LeakyReLU, nn.MaxPool2d)
AFFINE_MODULES: tuple[type[nn.Module], ...] = (
    nn.Linear,
    nn.Conv2d,
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.AvgPool2d,
    nn.AdaptiveAvgPool2d,
    nn.Flatten,
    nn.Dropout,
    nn.Identity,
)
CONTAINER_MODULES: tuple[type[nn.Module], ...] = (nn.Sequential, nn.ModuleList, nn.ModuleDict)
NOT_PIECEWISE_AFFINE: tuple[type[nn.Module], ...] = (
    nn.Tanh,
    nn.Sigmoid,
    nn.GELU,
    nn.SiLU,
    nn.ELU,
    nn.CELU,
    nn.SELU,
    nn.Softplus,
    nn.Mish,
    nn.Hardswish,
    nn.Hardsigmoid,
    nn.Softmax,
    nn.LogSoftmax,
    nn.Softsign,
    nn.Tanhshrink,
    nn.LogSigmoid,
)

# Functions and tensor methods a forward may call between modules: all affine (or shape-only).
_ALLOWED_FUNCTIONS = {
    operator.add,
    operator.sub,
    operator.neg,
    operator.pos,
    operator.getitem,
    getattr,
    torch.add,
    torch.sub,
    torch.cat,
    torch.flatten,
    torch.reshape,
    torch.mean,
    F.avg_pool2d,
    F.adaptive_avg_pool2d,
}
_ALLOWED_METHODS = {
    "add",
    "sub",
    "view",
    "reshape",
    "flatten",
    "size",
    "contiguous",
    "mean",
    "permute",
    "transpose",
    "squeeze",
    "unsqueeze",
    "dim",
}
_SCALAR_FUNCTIONS = {operator.mul, operator.truediv, torch.mul}
_SCALAR_METHODS = {"mul", "div"}


def _is_code_module(module: nn.Module) -> bool:
    return isinstance(module, CODE_MODULES)


def _check_module(name: str, module: nn.Module) -> None:
    label = name or type(module).__name__
    if isinstance(module, NOT_PIECEWISE_AFFINE):
        raise ValueError(
            f"module '{label}' ({type(module).__name__}) is not piecewise affine: the spline "
            "view needs ReLU, LeakyReLU or MaxPool2d nonlinearities"
        )
    if isinstance(module, nn.MaxPool2d):
        if module.ceil_mode:
            raise ValueError(f"module '{label}' (MaxPool2d) uses ceil_mode=True, which is not supported")
        if module.return_indices:
            raise ValueError(f"module '{label}' (MaxPool2d) uses return_indices=True, which is not supported")
    if isinstance(module, nn.LeakyReLU) and module.negative_slope < 0:
        raise ValueError(
            f"module '{label}' (LeakyReLU) has negative_slope={module.negative_slope}; a negative "
            "slope makes it non-convex, which the max-affine view excludes"
        )
    if isinstance(module, CODE_MODULES + AFFINE_MODULES + CONTAINER_MODULES):
        return
    if next(module.children(), None) is None:  # an unknown leaf
        raise ValueError(
            f"module '{label}' ({type(module).__name__}) is not supported; supported layers: "
            + ", ".join(t.__name__ for t in CODE_MODULES + AFFINE_MODULES)
        )


def _is_scalar(arg) -> bool:
    return isinstance(arg, (int, float))


def _check_forward_ops(model: nn.Module) -> None:
    """Trace ``model.forward`` with torch.fx and refuse non-affine tensor operations."""
    try:
        graph = torch.fx.symbolic_trace(model).graph
    except Exception as exc:  # dynamic control flow: only the modules could be checked
        warnings.warn(
            f"could not trace {type(model).__name__}.forward ({type(exc).__name__}); only its "
            "modules were checked, not the operations between them",
            stacklevel=3,
        )
        return
    for node in graph.nodes:
        if node.op == "call_function":
            target = node.target
            ok = target in _ALLOWED_FUNCTIONS or (
                target in _SCALAR_FUNCTIONS and any(_is_scalar(a) for a in node.args)
            )
            name = getattr(target, "__name__", str(target))
        elif node.op == "call_method":
            target = node.target
            ok = target in _ALLOWED_METHODS or (
                target in _SCALAR_METHODS and any(_is_scalar(a) for a in node.args[1:])
            )
            name = f"Tensor.{target}"
        else:
            continue
        if not ok:
            hint = (
                " (use an nn.ReLU / nn.LeakyReLU / nn.MaxPool2d module so its code can be recorded)"
                if name in ("relu", "leaky_relu", "max_pool2d", "relu_")
                else ""
            )
            raise ValueError(
                f"operation '{name}' in {type(model).__name__}.forward is not a supported "
                f"piecewise-affine operation{hint}"
            )


def check_supported(model: nn.Module, trace: bool = True) -> None:
    """Raise ``ValueError`` unless ``model`` is a network the spline view covers.

    Checks every submodule (see the module docstring for the supported set) and, with
    ``trace=True``, the operations between modules in ``forward`` (via ``torch.fx``; a model
    that cannot be traced gets a warning and a module-only check).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    modules = list(model.named_modules())
    if all(next(m.children(), None) is None and isinstance(m, CONTAINER_MODULES) for _, m in modules):
        raise ValueError(f"model {type(model).__name__} is empty: it has no layers")
    for name, module in modules:
        _check_module(name, module)
    # only custom forward methods can hold functional operations: plain Sequentials of
    # supported leaves need no trace
    plain = all(type(m) is nn.Sequential or next(m.children(), None) is None for _, m in modules)
    if trace and not plain:
        _check_forward_ops(model)


def code_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The code-defining nonlinearity modules of ``model``, as (qualified name, module),
    in registration order (forward-call order is what :mod:`spline_utils.codes` records)."""
    return [(n, m) for n, m in model.named_modules() if _is_code_module(m)]


@contextlib.contextmanager
def evaluation_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode for the ``with`` block, then restore each module's mode."""
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        yield model
    finally:
        for m, training in modes.items():
            m.train(training)


@torch.no_grad()
def module_tensor(model: nn.Module, module: nn.Module, x: torch.Tensor, output: bool = True) -> torch.Tensor:
    """The output (``output=True``) or the first input of ``module`` when the eval-mode
    ``model`` runs on ``x``; the model's train/eval modes are restored afterwards."""
    captured = {}  # cloned: an in-place ReLU after the module would overwrite the tensor
    if output:
        handle = module.register_forward_hook(lambda m, i, out: captured.__setitem__("t", out.detach().clone()))
    else:
        handle = module.register_forward_pre_hook(lambda m, i: captured.__setitem__("t", i[0].detach().clone()))
    try:
        with evaluation_mode(model):
            model(x)
    finally:
        handle.remove()
    return captured["t"]


def pool_geometry(pool: nn.MaxPool2d, height: int, width: int) -> dict[str, int]:
    """Kernel, stride, padding and dilation of a 2-D max-pool (as kh, kw, sh, sw, ph, pw, dh, dw)
    and its output size (h_out, w_out) on inputs of size height x width (ceil_mode=False)."""
    from torch.nn.modules.utils import _pair

    kh, kw = _pair(pool.kernel_size)
    sh, sw = _pair(pool.stride if pool.stride is not None else pool.kernel_size)
    ph, pw = _pair(pool.padding)
    dh, dw = _pair(pool.dilation)
    h_out = (height + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    w_out = (width + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    return dict(kh=kh, kw=kw, sh=sh, sw=sw, ph=ph, pw=pw, dh=dh, dw=dw, h_out=h_out, w_out=w_out)


def model_dtype_device(model: nn.Module) -> tuple[torch.dtype, torch.device]:
    """dtype and device of the model's first parameter (float32 / CPU for parameter-free models)."""
    for p in model.parameters():
        return p.dtype, p.device
    return torch.get_default_dtype(), torch.device("cpu")
