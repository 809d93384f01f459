"""Which operations between modules in a model's ``forward`` are affine in the input.

A custom ``forward`` may add tensors (residual connections), concatenate, reshape, average or
scale by constants between its modules. ``torch.fx`` traces it, and every call in the graph is
checked with the kinds of its operands -- a tensor that depends on the model input, a constant
(a parameter, a buffer, a tensor computed from them) or a Python value (a literal, a shape) -- so
``x * 2`` passes and ``x * x`` or ``2 / x`` do not. Refused: a product of two input-dependent
tensors, a division *by* an input-dependent tensor, powers, ``abs``, ``max`` / ``clamp`` /
``where`` between tensors, functional ReLUs (their codes could not be recorded), an
input-dependent index, shape or window, and a mean or concatenation over the batch dimension
(dim 0: a point's output would depend on the rest of its batch; other ways of mixing the batch
are caught by :func:`~spline_utils.spline_view.model_walk.check_batch_independent`, which runs
the model). A model that cannot be traced (dynamic control flow) gets
a warning, and only its modules are checked
(:func:`~spline_utils.spline_view.model_walk.check_supported`).
"""

from __future__ import annotations

import operator
import warnings

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["check_forward_ops"]

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
    batch = _batch_problem(node, target)
    if batch is not None:
        return batch
    if target in _FIRST_OPERAND_ONLY and (n_input > 1 or operands[0] != _INPUT):
        return (
            "uses an input-dependent tensor as an index, a shape or a window, which is not affine"
        )
    return None


def _dims(value) -> tuple | None:
    """A ``dim`` argument as a tuple of ints (``None``: not given, or not a literal)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,)
    if isinstance(value, (tuple, list)) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        return tuple(value)
    return None


def _batch_problem(node, target) -> str | None:
    """Why an allowed operation mixes the inputs of a batch (``None`` when it does not): a mean
    over all entries or over dimension 0, or a concatenation along dimension 0."""
    mixes = (
        "so an input's output depends on the other inputs of its batch and no input has an "
        "affine map of its own"
    )
    if target in (torch.mean, "mean"):
        given = len(node.args) > 1 or "dim" in node.kwargs
        dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
        dims = _dims(dim)
        if not given or dim is None:
            return f"averages over every entry, the batch dimension included, {mixes}"
        if dims is not None and 0 in dims:
            return f"averages over the batch dimension (dim 0), {mixes}"
    if target is torch.cat:
        dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", 0)
        if dim == 0 and not isinstance(dim, bool):
            return f"concatenates along the batch dimension (dim 0), {mixes}"
    return None


def check_forward_ops(model: nn.Module) -> None:
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
