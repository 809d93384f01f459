"""The exact engine's entry point, :func:`exact_partition`, with its input checks.

It checks the model, domain and slice, finds the code-layer calls (name, module, input shape)
with one probe point, then runs the layers in order: the layer input's maps on every current
polygon (:mod:`.propagation`; z0, du, dv each (P, units)), then the layer's cuts (:mod:`.cuts`),
carrying a :class:`~.propagation.LayerState` to the next layer. The domain is a convex polygon
(M, 2), counter-clockwise; the strategies are chosen by an :class:`_EngineOptions`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ...checks import check_domain, check_int, check_real
from ...spline_view.code_recording import prepare_input
from ...spline_view.model_walk import check_batch_independent, structure_of
from ...spline_view.structure import NetworkStructure
from ..slices import PlaneSlice, check_slice
from .cuts import rounds_relu, split_maxpool, sweep_relu
from .labels import DOMAIN_EDGE
from .polygons import Polygons, polygon_area
from .propagation import (
    LayerMaps,
    LayerState,
    affine_apply,
    layer_input_affine,
    pool_windows,
    sequential_maps,
    sequential_plan,
    to_input,
)
from .result import ExactPartition


@dataclass
class _EngineOptions:
    """Strategy choices of :func:`exact_partition`, for tests and benchmarks. Every choice gives
    the same partition; the defaults were the fastest in interleaved A/B runs on one core.

    sweep_units, sweep_limit: a ReLU layer of at most ``sweep_units`` units is cut unit by unit
        over all polygons (:func:`~.cuts.sweep_relu`) while units x vertices is at most
        ``sweep_limit``, else in rounds (:func:`~.cuts.rounds_relu`). The sweep copies every
        vertex's unit values at each cut, so its cost grows with units^2 x vertices; it was
        faster for layers of 16 units up to 1,800 vertices and of 32 units on one polygon,
        slower from 32 units x 1,600 vertices on and for every layer of 64 or more units (up to
        20x at 64 units x 60,000 vertices, 30x for a 512-unit conv layer).
    flat_limit, flat_min: after a flat (1-D) ReLU / LeakyReLU layer of at most ``flat_limit``
        units (the shortcut forms the next affine segment's matrix, units x outputs), a
        sequential model's next maps come from :func:`~.propagation.flat_relu_maps` once
        regions x units reaches ``flat_min``; below that, forming every region's input was faster.
    log: a list to which every step is appended as ``(layer, step)``: ``"forward AD"``,
        ``"sequential maps"`` or ``"flat maps"`` for the maps of the layer's input (layer
        ``len(codes)``: the network output), then ``"sweep"``, ``"rounds"`` or ``"maxpool"``
        for its cuts. ``None``: no log.
    """

    sweep_units: int = 32
    sweep_limit: int = 40_000
    flat_limit: int = 2048
    flat_min: int = 1 << 18
    log: list | None = None

    def relu_strategy(self, n_units: int, n_vertices: int) -> str:
        """``"sweep"`` or ``"rounds"`` for a ReLU layer of ``n_units`` on ``n_vertices``."""
        if n_units <= self.sweep_units and n_units * n_vertices <= self.sweep_limit:
            return "sweep"
        return "rounds"

    def flat_maps(self, previous: LayerState) -> bool:
        """Whether the maps after ``previous`` come from :func:`~.propagation.flat_relu_maps`."""
        shape = previous.in_shape
        return (
            not isinstance(previous.module, nn.MaxPool2d)
            and len(shape) == 1
            and shape[0] <= self.flat_limit
            and len(previous.origin) * shape[0] >= self.flat_min
        )

    def note(self, layer: int, step: str) -> None:
        if self.log is not None:
            self.log.append((layer, step))


def exact_partition(
    model: nn.Module,
    domain=(-1.0, 1.0, -1.0, 1.0),
    slice: PlaneSlice | None = None,
    max_regions: int = 200_000,
    min_area: float = 1e-14,
    *,
    _options: _EngineOptions | None = None,
) -> ExactPartition:
    """Exact partition of ``domain`` by the code layers of ``model``.

    Args:
        model: a supported network (see
            :func:`~spline_utils.spline_view.model_walk.check_supported`), or its
            :class:`~spline_utils.spline_view.structure.NetworkStructure`.
        domain: a box (u_min, u_max, v_min, v_max) or the vertices (M, 2) of a convex polygon
            (traced once, in either orientation), in input coordinates (models with 2-D inputs)
            or slice coordinates (with ``slice``). Its tolerances are relative to its own size:
            it is degenerate when its area is at most 1e-12 times the square of its larger
            side, so a 1e-6 box, or a 1 x 1 box far from the origin, is valid.
        slice: a :class:`~spline_utils.partition.slices.PlaneSlice`; without it the model must
            take inputs of shape (N, 2).
        max_regions: stop with a ``RuntimeError`` once the partition would exceed this many
            regions.
        min_area: polygons smaller than ``min_area`` times the domain area *and* narrower
            than ``SLIVER_WIDTH`` (1e-10) times the domain's largest absolute coordinate are
            numerical slivers (rounding of the vertices), and are dropped. The width test keeps
            genuine small regions of a very large domain (on a +-1e6 box, ``min_area`` alone
            would drop every region smaller than 0.04).

    Returns:
        An :class:`ExactPartition` (float64 throughout), computed in eval mode.

    Raises:
        ValueError: the model is not supported, mixes the inputs of a batch or cannot take
            the slice's inputs, or
            ``domain``, ``slice``, ``max_regions`` or ``min_area`` is out of range.
        TypeError: ``model`` is not an ``nn.Module``, ``max_regions`` is not an integer or
            ``min_area`` not a real number.
        RuntimeError: the partition would exceed ``max_regions`` regions.

    The keyword ``_options`` is private, for tests and benchmarks: an ``_EngineOptions`` of the
    ``engine`` module that chooses the strategies (all give the same partition) and may log
    them. The default is the fastest.
    """
    structure = structure_of(model)
    structure.check_supported()
    domain = _domain_polygon(domain)
    check_slice(slice)
    max_regions = check_int("max_regions", max_regions, 1)
    min_area = check_real("min_area", min_area, 0.0, 1.0, high_open=True)
    if _options is None:
        _options = _EngineOptions()
    elif not isinstance(_options, _EngineOptions):
        raise TypeError(f"_options must be an _EngineOptions, got {type(_options).__name__}")
    plan = sequential_plan(structure)
    if plan is None:
        structure = structure.float64_copy()
        layer_modules = _code_calls(structure, slice, domain)
        # the domain's vertices, run together and one by one (after _code_calls: they fit)
        check_batch_independent(
            structure, prepare_input(structure, to_input(torch.as_tensor(domain), slice))
        )
        segments = None
    else:
        segments, code_leaves = plan
        layer_modules = _sequential_calls(structure, segments, code_leaves, slice, domain)
    budget = {
        "max_regions": max_regions,
        "min_area": min_area * _centred_area(domain),
        "min_width": SLIVER_WIDTH * float(np.abs(domain).max()),
    }
    polys = Polygons(
        domain.copy(), np.full(len(domain), DOMAIN_EDGE, np.int64), np.array([0, len(domain)])
    )
    codes: list[np.ndarray] = []
    names, kinds, windows = [], [], []
    previous: LayerState | None = None  # sequential models: the last code layer's state
    # every affine map is stored as (value at the domain centre, d/du, d/dv): one expansion
    # point for all polygons, so passing a map from a polygon to its pieces is a row copy
    centre = domain.mean(0)
    for layer, (name, module, in_shape) in enumerate(layer_modules + [(None, None, None)]):
        if segments is None:
            anchors = polys.vertex_means()  # interior points, where the network has their maps
            z0, du, dv = layer_input_affine(
                structure, None if module is None else layer, anchors, slice
            )
            d = anchors - centre
            z0 = z0 - du * d[:, :1] - dv * d[:, 1:]
            _options.note(layer, "forward AD")
        else:
            flat = previous is not None and _options.flat_maps(previous)
            z0, du, dv = sequential_maps(segments[layer], previous, centre, slice, flat=flat)
            _options.note(layer, "flat maps" if flat else "sequential maps")
        if module is None:
            break
        maps = LayerMaps(z0, du, dv, centre)
        if isinstance(module, nn.MaxPool2d):
            idx = pool_windows(module, in_shape)
            polys, origin, code = split_maxpool(polys, maps, idx, layer=layer, **budget)
            windows.append(idx.shape[1])
            kinds.append("maxpool")
            _options.note(layer, "maxpool")
        else:
            strategy = _options.relu_strategy(du.shape[1], len(polys.verts))
            cut = sweep_relu if strategy == "sweep" else rounds_relu
            polys, origin, code = cut(polys, maps, layer=layer, **budget)
            kinds.append("relu")
            windows.append(2)
            _options.note(layer, strategy)
        codes = [c[origin] for c in codes] + [code]
        names.append(name)
        previous = LayerState(module=module, in_shape=in_shape, maps=maps, origin=origin, code=code)
    return ExactPartition(
        vertices=polys.verts,
        vertex_labels=polys.labels,
        offsets=polys.offsets,
        codes=codes,
        layer_names=names,
        layer_kinds=kinds,
        output_map=np.stack([du, dv], -1),  # (P, K, 2)
        output_offset=z0 - du * centre[0] - dv * centre[1],
        domain=domain,
        layer_windows=windows,
        slice=slice,
    )


#: Slivers are at most this wide, times the domain's largest absolute coordinate (see
#: ``min_area`` of :func:`exact_partition`): rounding moves a vertex by about 2e-16 times its
#: coordinates, so this leaves a margin of some 10^5 over it.
SLIVER_WIDTH = 1e-10


# --------------------------------------------------------------------------- input checks
def _centred_area(poly: np.ndarray) -> float:
    """Signed area of a polygon (M, 2), computed about its bounding box's centre: the offset of
    a polygon far from the origin does not enter the rounding."""
    lo, hi = poly.min(0), poly.max(0)
    return polygon_area(poly - (lo + hi) / 2)


def _domain_polygon(domain) -> np.ndarray:
    if isinstance(domain, (str, bytes)):
        raise ValueError(
            f"domain must be a box (u_min, u_max, v_min, v_max) or polygon vertices (M, 2), got {domain!r}"
        )
    try:
        arr = np.asarray(domain.detach().cpu() if isinstance(domain, torch.Tensor) else domain)
    except (TypeError, ValueError):
        arr = np.zeros(0, object)
    if arr.dtype.kind not in "iuf":  # strings, bools, ragged lists
        raise ValueError(
            f"domain must be a box (u_min, u_max, v_min, v_max) or polygon vertices (M, 2) "
            f"of real numbers, got {domain!r}"
        )
    arr = arr.astype(np.float64)
    if arr.ndim == 1:
        if arr.shape != (4,):
            raise ValueError(
                f"a box domain must be (u_min, u_max, v_min, v_max), got {arr.shape[0]} numbers"
            )
        u0, u1, v0, v1 = check_domain("domain", domain)  # finite, non-empty, no bools
        arr = np.array([[u0, v0], [u1, v0], [u1, v1], [u0, v1]])
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < 3:
        raise ValueError(
            f"a polygon domain must be vertices of shape (M >= 3, 2), got shape {arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise ValueError("domain vertices must be finite")
    side = float((arr.max(0) - arr.min(0)).max())  # the larger side of its bounding box
    area = _centred_area(arr)
    if not abs(area) > 1e-12 * side**2:
        raise ValueError(
            f"the domain polygon is degenerate: its area {abs(area):.3g} is zero at the scale of "
            f"its larger side {side:.3g} (at most 1e-12 x side^2)"
        )
    if area < 0:
        arr = arr[::-1].copy()
    edges = np.roll(arr, -1, axis=0) - arr
    turns = (
        edges[:, 0] * np.roll(edges, -1, axis=0)[:, 1]
        - edges[:, 1] * np.roll(edges, -1, axis=0)[:, 0]
    )
    if (turns < -1e-12 * np.abs(turns).max()).any():
        raise ValueError("the domain polygon is not convex")
    # a convex polygon traced once turns by one full turn; a star (self-intersecting) or a
    # polygon traced twice turns by two or more, and a reversed edge by half a turn
    e = edges[np.hypot(edges[:, 0], edges[:, 1]) > 1e-12 * side]  # repeated vertices: no edge
    nxt = np.roll(e, -1, axis=0)
    angle = np.arctan2(e[:, 0] * nxt[:, 1] - e[:, 1] * nxt[:, 0], (e * nxt).sum(1))
    turning = float(angle.sum()) / (2 * np.pi)
    if abs(turning - 1.0) > 1e-6 or (angle > np.pi - 1e-9).any():
        raise ValueError(
            f"the domain polygon must be simple and traced once, but its boundary turns "
            f"{turning:.3g} times (self-intersecting, traced twice, or doubling back on itself)"
        )
    return arr


def _input_message(plane: PlaneSlice | None, exc: Exception) -> str:
    where = (
        f"the slice's input shape {plane.input_shape}"
        if plane is not None
        else "2-D inputs of shape (N, 2)"
    )
    return f"the model cannot be evaluated on {where}: {exc}"


def _code_calls(structure: NetworkStructure, plane: PlaneSlice | None, domain: np.ndarray):
    """(name, module, input shape without batch) of every code-layer call, in forward order,
    from one pass of a probe point (``ValueError`` if the model cannot take the input)."""
    calls = []
    names = {m: n for n, m in structure.code_layers}
    model = structure.model

    def hook(module, inputs):
        calls.append((names[module] or type(module).__name__, module, tuple(inputs[0].shape[1:])))

    handles = [m.register_forward_pre_hook(hook) for m in names]
    try:
        with torch.no_grad():
            model(to_input(torch.as_tensor(domain[:1]), plane))
    except RuntimeError as exc:  # e.g. a slice of the wrong input shape
        raise ValueError(_input_message(plane, exc)) from exc
    finally:
        for h in handles:
            h.remove()
    return _number_calls(calls)


def _sequential_calls(
    structure: NetworkStructure,
    segments,
    code_leaves,
    plane: PlaneSlice | None,
    domain: np.ndarray,
):
    """Like :func:`_code_calls`, for a sequential model, by one pass of a probe point through
    its float64 affine operations and code layers; a shape mismatch raises ``ValueError``."""
    names = {m: n for n, m in structure.code_layers}
    x = to_input(torch.as_tensor(domain[:1]), plane)
    calls = []
    try:
        with torch.no_grad():
            for i, segment in enumerate(segments):
                for op in segment:
                    x = affine_apply(op, x, 1)
                if i < len(code_leaves):
                    leaf = code_leaves[i]
                    calls.append((names[leaf] or type(leaf).__name__, leaf, tuple(x.shape[1:])))
                    x = leaf(x)
    except RuntimeError as exc:
        raise ValueError(_input_message(plane, exc)) from exc
    return _number_calls(calls)


def _number_calls(calls):
    """Name repeated calls of one module ``name#2``, ``name#3``, ..."""
    counts: dict[str, int] = {}
    labelled = []
    for name, module, shape in calls:
        counts[name] = counts.get(name, 0) + 1
        labelled.append((name if counts[name] == 1 else f"{name}#{counts[name]}", module, shape))
    return labelled
