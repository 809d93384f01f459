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
"""

from __future__ import annotations

import contextlib
import operator
import warnings
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from .._validate import check_model_finite, check_module

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
# multiplication: affine when at most one operand depends on the input (x * 2, 2 * x, x * w)
_MUL_FUNCTIONS = {operator.mul, torch.mul}
_MUL_METHODS = {"mul"}
# division: affine when only the dividend depends on the input (x / 2, not 2 / x, not x / y)
_DIV_FUNCTIONS = {operator.truediv, torch.div, torch.true_divide}
_DIV_METHODS = {"div", "true_divide"}
# linear operations in which only the first operand (the tensor reshaped / indexed / pooled)
# may depend on the input: an input-dependent index or shape is not affine
_FIRST_OPERAND_ONLY = {
    operator.getitem,
    torch.flatten,
    torch.reshape,
    torch.mean,
    F.avg_pool2d,
    F.adaptive_avg_pool2d,
    "view",
    "reshape",
    "flatten",
    "mean",
    "permute",
    "transpose",
    "squeeze",
    "unsqueeze",
    "contiguous",
}
# attributes and methods that give Python values (shapes), not tensors
_META_ATTRIBUTES = {"shape", "ndim", "dtype", "device", "is_cuda", "requires_grad"}
_META_METHODS = {"size", "dim", "numel"}
_HINTS = {
    "relu": " (use an nn.ReLU / nn.LeakyReLU / nn.MaxPool2d module so its code can be recorded)",
    "relu_": " (use an nn.ReLU / nn.LeakyReLU / nn.MaxPool2d module so its code can be recorded)",
    "leaky_relu": " (use an nn.ReLU / nn.LeakyReLU / nn.MaxPool2d module so its code can be recorded)",
    "max_pool2d": " (use an nn.ReLU / nn.LeakyReLU / nn.MaxPool2d module so its code can be recorded)",
    "abs": " (|x| is piecewise affine but has no code module: write it as relu(x) + relu(-x) with an "
    "nn.ReLU module, whose code is then recorded)",
    "pow": " (a power of an input-dependent tensor is not affine)",
}
for _name in (
    "max",
    "maximum",
    "min",
    "minimum",
    "clamp",
    "clip",
    "where",
    "hardtanh",
    "relu6",
    "amax",
    "amin",
):
    _HINTS[_name] = (
        " (a max / min / clamp / where between tensors is not recorded as a code layer: "
        "express it with nn.ReLU / nn.MaxPool2d modules)"
    )


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
            raise ValueError(
                f"module '{label}' (MaxPool2d) uses ceil_mode=True, which is not supported"
            )
        if module.return_indices:
            raise ValueError(
                f"module '{label}' (MaxPool2d) uses return_indices=True, which is not supported"
            )
    if isinstance(module, nn.LeakyReLU) and not 0.0 <= module.negative_slope <= 1.0:
        raise ValueError(
            f"module '{label}' (LeakyReLU) has negative_slope={module.negative_slope}; the max-affine "
            "view needs negative_slope in [0, 1] (max(u, eta u) is convex only for 0 <= eta <= 1: a "
            "negative slope or a slope above 1 makes it non-convex)"
        )
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        if (
            not module.track_running_stats
            or module.running_mean is None
            or module.running_var is None
        ):
            raise ValueError(
                f"module '{label}' ({type(module).__name__}) keeps no running statistics "
                "(track_running_stats=False): it normalises every batch by that batch's own "
                "statistics even in eval mode, so its output depends on the other inputs of the batch "
                "and the network has no per-input affine map; use track_running_stats=True"
            )
        if bool((module.running_var < 0).any()):
            raise ValueError(
                f"module '{label}' ({type(module).__name__}) has a negative running_var: "
                "running_var must be >= 0"
            )
    if isinstance(module, CODE_MODULES + AFFINE_MODULES + CONTAINER_MODULES):
        return
    if next(module.children(), None) is None:  # an unknown leaf
        raise ValueError(
            f"module '{label}' ({type(module).__name__}) is not supported; supported layers: "
            + ", ".join(t.__name__ for t in CODE_MODULES + AFFINE_MODULES)
        )


_INPUT, _CONSTANT, _META = "input", "constant", "meta"


def _operands(node) -> list:
    """The node's positional and keyword operands, with lists / tuples flattened one level."""
    out = []
    for arg in list(node.args) + list(node.kwargs.values()):
        out.extend(arg if isinstance(arg, (list, tuple)) else [arg])
    return out


def _kind(kinds: dict, arg) -> str:
    """``input`` (a tensor that depends on the model input), ``constant`` (a parameter, buffer
    or tensor computed from them) or ``meta`` (a Python value: a literal, a shape)."""
    return kinds.get(arg, _META) if isinstance(arg, torch.fx.Node) else _META


def _classify(node, kinds: dict) -> str:
    if node.op == "placeholder":
        return _INPUT
    if node.op == "get_attr":
        return _CONSTANT
    if node.op == "call_method" and node.target in _META_METHODS:
        return _META
    if node.op == "call_function" and node.target is getattr and node.args[1] in _META_ATTRIBUTES:
        return _META
    if (
        node.op == "call_function"
        and node.target is operator.getitem
        and _kind(kinds, node.args[0]) == _META
    ):
        return _META
    found = {_kind(kinds, a) for a in _operands(node)}
    return _INPUT if _INPUT in found else _CONSTANT if _CONSTANT in found else _META


def _operation_problem(node, kinds: dict) -> str | None:
    """Why ``node`` is not an affine operation of the input (``None`` when it is)."""
    function = node.op == "call_function"
    target = node.target
    operands = [_kind(kinds, a) for a in _operands(node)]
    n_input = operands.count(_INPUT)
    if not n_input:  # shapes and constants: plain Python arithmetic and the allowed ops
        if (
            function
            and (getattr(target, "__module__", None) == "_operator" or target in _ALLOWED_FUNCTIONS)
        ) or (not function and target in _ALLOWED_METHODS | _MUL_METHODS | _DIV_METHODS):
            return None
        return "is not a supported piecewise-affine operation"
    if (function and target in _MUL_FUNCTIONS) or (not function and target in _MUL_METHODS):
        if n_input > 1:
            return (
                "multiplies two tensors that both depend on the input, which is not affine: only "
                "multiplication by a constant (x * 2, 2 * x, x * self.scale) is supported"
            )
        return None
    if (function and target in _DIV_FUNCTIONS) or (not function and target in _DIV_METHODS):
        dividend = node.args[0] if node.args else node.kwargs.get("input")
        if n_input > 1 or _kind(kinds, dividend) != _INPUT:
            return (
                "divides by a tensor that depends on the input (such as 2 / x or x / y), which is "
                "not affine: only division of an input-dependent tensor by a constant (x / 2) is "
                "supported"
            )
        if node.kwargs.get("rounding_mode") is not None:
            return f"rounds (rounding_mode={node.kwargs['rounding_mode']!r}), which is not affine"
        return None
    allowed = target in _ALLOWED_FUNCTIONS if function else target in _ALLOWED_METHODS
    if not allowed:
        return "is not a supported piecewise-affine operation"
    if target in _FIRST_OPERAND_ONLY and (n_input > 1 or operands[0] != _INPUT):
        return (
            "uses an input-dependent tensor as an index, a shape or a window, which is not affine"
        )
    return None


def _check_forward_ops(model: nn.Module) -> None:
    """Trace ``model.forward`` with torch.fx and refuse operations that are not affine in the
    input: every call is checked with the kinds of its operands (input-dependent tensor,
    constant, Python value), so ``x * 2`` passes and ``x * x`` or ``2 / x`` do not."""
    try:
        graph = torch.fx.symbolic_trace(model).graph
    except Exception as exc:  # dynamic control flow: only the modules could be checked
        warnings.warn(
            f"could not trace {type(model).__name__}.forward ({type(exc).__name__}); only its "
            "modules were checked, not the operations between them",
            stacklevel=3,
        )
        return
    kinds: dict = {}
    for node in graph.nodes:
        if node.op == "output":
            continue
        kinds[node] = _classify(node, kinds)
        if node.op not in ("call_function", "call_method"):
            continue
        problem = _operation_problem(node, kinds)
        if problem is None:
            continue
        if node.op == "call_function":
            bare = getattr(node.target, "__name__", str(node.target))
            name = bare
        else:
            bare = node.target
            name = f"Tensor.{bare}"
        hint = _HINTS.get(bare, "") if problem.startswith("is not a supported") else ""
        raise ValueError(f"operation '{name}' in {type(model).__name__}.forward {problem}{hint}")


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
        ValueError: a module or an operation is not piecewise affine (or has no code here), a
            BatchNorm keeps no running statistics, a parameter or buffer is not finite, or the
            model has no layers; the message names the module or operation.
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
    plain = all(type(m) is nn.Sequential or next(m.children(), None) is None for _, m in modules)
    if trace and not plain:
        _check_forward_ops(model)


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
