"""Affine maps of a code layer's input on every polygon: how the exact engine gets them.

On a polygon that lies inside one region of the earlier code layers, the input ``z`` (K units,
flattened) of the next code layer is affine in the slice coordinates ``(u, v)``. A
:class:`LayerMaps` stores it for P polygons as ``z0``, ``du``, ``dv`` (each (P, K)) expanded at
one point ``centre`` (2,) for all polygons: ``z = z0 + du (u - centre[0]) + dv (v - centre[1])``.

* Any model: :func:`layer_input_affine`, one forward pass of a float64 copy
  (:func:`float64_copy`) at an interior point of every polygon, with forward-mode derivatives
  along ``u`` and ``v``.
* A plain ``nn.Sequential``: :func:`sequential_maps` pushes the previous code layer's maps
  (a :class:`LayerState`), masked by every polygon's code, through the affine modules in
  between (:func:`sequential_plan`, float64 copies of their parameters); after a flat ReLU layer
  :func:`flat_relu_maps` does it with one dense product per layer-start polygon plus a sparse
  correction. Batches there are (3, P, *shape): values, u- and v-derivatives stacked.
"""

from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch
import torch.autograd.forward_ad as fwAD
import torch.nn.functional as F
from torch import nn

from ...spline_view.model_walk import pool_geometry, structure_of
from ...spline_view.structure import NetworkStructure
from ...spline_view.supported_modules import AFFINE_MODULES, CODE_MODULES
from ..slices import PlaneSlice


@dataclass
class LayerMaps:
    """The affine maps of a layer input on P polygons, each (P, K), expanded at ``centre`` (2,):
    on polygon ``i``, ``z = z0[i] + du[i] * (u - centre[0]) + dv[i] * (v - centre[1])``."""

    z0: np.ndarray
    du: np.ndarray
    dv: np.ndarray
    centre: np.ndarray


@dataclass
class LayerState:
    """What the next layer's maps need from a code layer of a sequential model.

    module: the code layer; in_shape: its input shape without the batch dimension; maps: its
    input maps on the layer-start polygons (P0 rows); origin (P,): the layer-start polygon of
    every polygon after the layer's cuts; code (P, units): their codes (bool for ReLU layers,
    window positions for max-pooling)."""

    module: nn.Module
    in_shape: tuple[int, ...]
    maps: LayerMaps
    origin: np.ndarray
    code: np.ndarray


class _Stop(Exception):
    """Raised inside a hook to end a forward pass once the wanted layer input is captured."""


def float64_copy(model: nn.Module) -> nn.Module:
    """A float64 copy of ``model`` on the CPU, in eval mode (the model itself is left alone);
    ``model`` may be a :class:`~spline_utils.spline_view.structure.NetworkStructure`, whose
    model is copied."""
    if isinstance(model, NetworkStructure):
        model = model.model
    return copy.deepcopy(model).to(dtype=torch.float64, device="cpu").eval()


def float64_structure(model) -> NetworkStructure:
    """The :class:`~spline_utils.spline_view.structure.NetworkStructure` of a float64 copy of
    ``model`` (a model or its structure) on the CPU, in eval mode; the checks that passed on
    ``model``'s structure count for the copy."""
    return structure_of(model).float64_copy()


def to_input(uv: torch.Tensor, plane: PlaneSlice | None) -> torch.Tensor:
    """Slice coordinates (N, 2) -> inputs (N, *input_shape); with ``plane=None`` (models with
    2-D inputs) ``uv`` itself. Unlike :meth:`PlaneSlice.to_input` it checks nothing, keeps the
    dtype and passes forward-AD dual tensors through."""
    if plane is None:
        return uv
    flat = plane.origin.reshape(-1) + uv @ plane.basis.reshape(2, -1)
    return flat.reshape(uv.shape[0], *plane.input_shape)


def layer_input_affine(
    structure: NetworkStructure,
    call_index: int | None,
    points: np.ndarray,
    plane: PlaneSlice | None,
    batch_size: int = 8192,
):
    """Value and (u, v)-derivatives of the input of the ``call_index``-th code-layer call
    (``None``: the network output) of the float64 model of ``structure`` at ``points`` (P, 2).
    Returns z0, du, dv, each (P, K)."""
    model = structure.model
    modules = [m for _, m in structure.code_layers]
    parts = []
    for start in range(0, len(points), batch_size):
        uv = torch.as_tensor(points[start : start + batch_size], dtype=torch.float64)
        n = uv.shape[0]
        uv2 = torch.cat([uv, uv])
        tangent = torch.zeros_like(uv2)
        tangent[:n, 0] = 1.0
        tangent[n:, 1] = 1.0
        captured = {}
        calls = [0]

        def hook(module, inputs, calls=calls, captured=captured):
            if calls[0] == call_index:
                captured["z"] = inputs[0]
                raise _Stop
            calls[0] += 1

        handles = [m.register_forward_pre_hook(hook) for m in modules]
        try:
            with torch.no_grad(), fwAD.dual_level(), warnings.catch_warnings():
                # torch loads its forward-AD decompositions through a deprecated jit call once
                warnings.filterwarnings(
                    "ignore", message=".*torch.jit.script.*", category=FutureWarning
                )
                x = to_input(fwAD.make_dual(uv2, tangent), plane)
                try:
                    captured["z"] = model(x)
                except _Stop:
                    pass
                primal, tan = fwAD.unpack_dual(captured["z"])
                primal = primal.reshape(2 * n, -1).numpy().copy()
                tan = tan.reshape(2 * n, -1).numpy().copy()
        finally:
            for h in handles:
                h.remove()
        parts.append((primal[:n], tan[:n], tan[n:]))
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))


def pool_windows(pool: nn.MaxPool2d, shape: tuple[int, int, int]) -> np.ndarray:
    """Flat input indices of every window position, (C * H_out * W_out, kh * kw); -1 = padding."""
    c, h, w = shape
    g = pool_geometry(pool, h, w)
    kh, kw, sh, sw, ph, pw, dh, dw = (
        g[k] for k in ("kh", "kw", "sh", "sw", "ph", "pw", "dh", "dw")
    )
    h_out, w_out = g["h_out"], g["w_out"]
    ch, i, j, a, b = np.meshgrid(
        np.arange(c),
        np.arange(h_out),
        np.arange(w_out),
        np.arange(kh),
        np.arange(kw),
        indexing="ij",
    )
    r, s = i * sh - ph + a * dh, j * sw - pw + b * dw
    idx = (ch * h + r) * w + s
    idx = np.where((r >= 0) & (r < h) & (s >= 0) & (s < w), idx, -1)
    return idx.reshape(c * h_out * w_out, kh * kw)


# --------------------------------------------------------------------------- sequential models
def sequential_plan(model: nn.Module):
    """For a plain ``nn.Sequential`` (nested Sequentials allowed) of supported leaves:
    ``(segments, code_leaves)``. ``segments`` holds the affine modules (as :func:`affine_op`
    triples) before the first code layer, between consecutive code layers and after the last
    (n_code + 1 lists); ``code_leaves`` the code modules in order. ``None`` for any other model
    (the engine then uses forward-mode AD on a float64 copy). ``model``: the model or its
    :class:`~spline_utils.spline_view.structure.NetworkStructure` (whose leaves, in call order,
    are used)."""
    structure = structure_of(model)
    if not structure.plain:
        return None
    leaves: list[nn.Module] = []
    for _, module in structure.call_leaves:
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)) and module.running_mean is None:
            return None
        if not isinstance(module, CODE_MODULES + AFFINE_MODULES):
            return None
        leaves.append(module)
    segments: list[list] = [[]]
    code_leaves = []
    for module in leaves:
        if isinstance(module, CODE_MODULES):
            segments.append([])
            code_leaves.append(module)
        else:
            segments[-1].append(affine_op(module))
    return segments, code_leaves


def affine_op(module: nn.Module):
    """An affine module, in eval mode, as ``(linear, offset, axis)`` in float64 on the CPU:
    ``linear`` maps a batch to the module's output without the offset; ``offset`` is a vector
    (C,) added along dimension ``axis`` of the output, or ``None``: the last dimension for a
    ``Linear`` (which acts on the last dimension of inputs of any rank, e.g. (N, 3, 4)), the
    channel dimension 1 for convolutions and BatchNorm. The model itself is neither copied nor
    changed."""

    def f64(t: torch.Tensor) -> torch.Tensor:
        return t.detach().to("cpu", torch.float64)

    bias = getattr(module, "bias", None)
    if isinstance(module, nn.Linear):
        weight = f64(module.weight)
        return (lambda x: F.linear(x, weight)), None if bias is None else f64(bias), -1
    if isinstance(module, nn.Conv2d):
        weight = f64(module.weight)

        def conv(x: torch.Tensor) -> torch.Tensor:
            return module._conv_forward(x, weight, None)

        return conv, None if bias is None else f64(bias), 1
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):  # running statistics, as in eval mode
        scale = torch.rsqrt(f64(module.running_var) + module.eps)
        if module.weight is not None:
            scale = scale * f64(module.weight)
        offset = -f64(module.running_mean) * scale
        if bias is not None:
            offset = offset + f64(bias)
        return (lambda x: x * scale.view((-1,) + (1,) * (x.dim() - 2))), offset, 1
    if isinstance(module, nn.Dropout):  # the identity in eval mode
        return (lambda x: x), None, 1
    return module, None, 1  # Flatten, average pooling, Identity: linear, without parameters


def affine_apply(op, x: torch.Tensor, n: int) -> torch.Tensor:
    """Apply an :func:`affine_op` to a batch whose first ``n`` rows are points and whose other
    rows are directions (which get the linear part only)."""
    linear, offset, axis = op
    out = linear(x)
    if offset is not None:
        if axis == -1:  # a Linear: the last dimension, whatever the rank
            out[:n] += offset
        else:
            out[:n] += offset.view((-1,) + (1,) * (out.dim() - 2))
    return out


def propagate(segment, maps: np.ndarray, batch_values: int = 1 << 22):
    """Push affine maps through affine modules. ``maps`` (3, P, *shape): values, u- and
    v-derivatives. Returns the flattened maps (P, K) of the result: value, u- and v-derivatives.
    Works in batches of about ``batch_values`` input numbers (32 MiB)."""
    parts = []
    n_points = maps.shape[1]
    batch_size = max(1, batch_values // (3 * max(1, math.prod(maps.shape[2:]))))
    for start in range(0, n_points, batch_size):
        n = min(batch_size, n_points - start)
        x = torch.from_numpy(maps[:, start : start + n].reshape(3 * n, *maps.shape[2:]))
        with torch.no_grad():
            for op in segment:
                x = affine_apply(op, x, n)
        x = x.reshape(3 * n, -1).numpy()
        parts.append((x[:n], x[n : 2 * n], x[2 * n :]))
    if len(parts) == 1:
        return parts[0]
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))


def code_layer_output(module, shape, code, maps):
    """The output maps of a code layer on regions where its code is known: ReLU / LeakyReLU
    scale each unit by its slope, max-pooling picks each window's winning position.
    ``maps`` (3, P, units): values, u- and v-derivatives of the layer input, one row per region
    (overwritten by ReLU layers); returns (3, P, *out_shape)."""
    n = len(code)
    if isinstance(module, nn.MaxPool2d):
        c, h, w = shape
        g = pool_geometry(module, h, w)
        flat = np.take_along_axis(
            pool_windows(module, shape)[None], code[..., None].astype(np.int64), 2
        )[..., 0]
        return np.take_along_axis(maps, flat[None], 2).reshape(3, n, c, g["h_out"], g["w_out"])
    if isinstance(module, nn.ReLU):
        np.multiply(maps, code, out=maps)
    else:
        maps *= np.where(code, 1.0, float(module.negative_slope))
    return maps.reshape(3, n, *shape)


def sequential_maps(
    segment,
    previous: LayerState | None,
    centre: np.ndarray,
    plane: PlaneSlice | None,
    *,
    flat: bool = False,
):
    """Affine maps (value at ``centre``, d/du, d/dv; each (P, K)) of the input of the next code
    layer (or of the output) of a sequential model, from the previous code layer's state (its
    input maps, one row per layer-start polygon, and the codes of the current polygons);
    ``None`` for the first code layer. ``flat``: use :func:`flat_relu_maps` (the previous layer
    must be a ReLU / LeakyReLU layer with 1-D input)."""
    if previous is None:
        x0 = to_input(torch.as_tensor(centre[None], dtype=torch.float64), plane).numpy()
        if plane is None:
            basis = np.eye(2)
        else:
            basis = plane.basis.to(torch.float64).numpy().reshape(2, *plane.input_shape)
        maps = np.stack([x0, *(np.broadcast_to(b, x0.shape) for b in basis)])
    else:
        if flat:
            return flat_relu_maps(segment, previous)
        z0, du, dv = previous.maps.z0, previous.maps.du, previous.maps.dv
        origin = previous.origin
        maps = np.empty((3, len(origin), z0.shape[1]))
        for i, a in enumerate((z0, du, dv)):
            np.take(a, origin, 0, out=maps[i])
        maps = code_layer_output(previous.module, previous.in_shape, previous.code, maps)
    return propagate(segment, maps)


def flat_relu_maps(segment, previous: LayerState):
    """Maps (value at the centre, d/du, d/dv; each (P, K_out)) after a ReLU / LeakyReLU layer
    with 1-D input and the affine segment behind it, without forming every region's input.

    The segment is affine on vectors, ``y = h @ a + c`` with ``a`` (K, K_out). On region ``i``
    the layer's output is ``h = f(code_i) * z_o`` (``z_o``: the map of its layer-start polygon
    ``o``; ``f`` is 1 on active units and the negative slope elsewhere). With a reference code
    per layer-start polygon (that of its first region),
    ``y_i = (f(ref_o) * z_o) @ a + c + ((f(code_i) - f(ref_o)) * z_o) @ a``: a dense product per
    layer-start polygon, plus a sparse one over the few units where a region's code differs
    from its reference (about 1-2 per region after the first layer)."""
    from scipy import sparse  # scipy.sparse is slow to import: only for wide flat layers

    module, origin, code = previous.module, previous.origin, previous.code
    z0, du, dv = previous.maps.z0, previous.maps.du, previous.maps.dv
    n0, k = z0.shape
    n = len(origin)
    a = torch.eye(k, dtype=torch.float64)  # the ops hold detached tensors: no autograd here
    c = torch.zeros(1, k, dtype=torch.float64)
    for op in segment:
        a, c = affine_apply(op, a, 0), affine_apply(op, c, 1)
    a, c = a.reshape(k, -1).numpy(), c.reshape(-1).numpy()
    slope = 0.0 if isinstance(module, nn.ReLU) else float(module.negative_slope)
    first = np.zeros(n0, np.int64)
    first[origin[::-1]] = np.arange(n)[::-1]
    ref = code.take(first, 0)
    out = ((np.stack([z0, du, dv]) * np.where(ref, 1.0, slope)).reshape(3 * n0, k) @ a).reshape(
        3, n0, -1
    )
    out[0] += c
    out = out.take(origin, 1)
    rows, units = np.nonzero(code ^ ref.take(origin, 0))  # sorted by row
    if not len(rows):
        return out[0], out[1], out[2]
    delta = np.where(code[rows, units], 1.0 - slope, slope - 1.0)
    flat = origin[rows] * k + units
    data = np.concatenate([delta * z.take(flat) for z in (z0, du, dv)])  # the three maps stacked
    indptr = np.searchsorted(np.concatenate([rows, rows + n, rows + 2 * n]), np.arange(3 * n + 1))
    out.reshape(3 * n, -1)[:] += (
        sparse.csr_matrix((data, np.tile(units, 3), indptr), shape=(3 * n, k)) @ a
    )
    return out[0], out[1], out[2]
