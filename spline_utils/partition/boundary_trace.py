"""The decision boundary traced from the network itself, and a check of where it bends that does
not use the exact engine.

Theorem 1 (1) of Chapter 3 says the decision boundary turns only on splines of earlier layers.
Checking it on the exact partition cannot fail: the engine draws the boundary as one chord per
region, so its bends sit on region edges by construction. Here the boundary comes from forward
passes only:

1. the predicted class on a ``resolution x resolution`` grid of the window;
2. on every grid edge whose two ends are predicted differently, the point where the prediction
   changes, by bisection (52 halvings: to the float64 resolution of the edge);
3. these points joined cell by cell (marching squares: a cell crossed on exactly two edges holds
   one chord of the boundary) into chains, in order along the boundary;
4. a *bend* is a vertex where consecutive chords change direction by more than ``angle_tol``
   radians (inside one region the boundary is one straight line, so its chords there are
   collinear to rounding); consecutive bent vertices form one bend, whose *stretch* runs from the
   last straight vertex before it to the first one after it;
5. the statement's test: along the stretch, the network's own code of some earlier layer changes
   between consecutive points (a ReLU unit's pre-activation changes sign, or a max-pool window's
   winner changes) -- the stretch crosses a spline.

If the boundary bent inside a region, the stretch would cross no spline and the check would fail;
restricting it to layers that do not supply a bend makes it fail too (Chapter 3 shows both).
Cells crossed on three or four edges (a junction of three classes, a saddle) end a chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..checks import check_domain, check_int, check_module, check_real, check_sequence
from ..spline_view.codes import activation_codes
from .exact.labels import spline_label
from .exact.propagation import float64_structure, to_input
from .slices import PlaneSlice

__all__ = [
    "TracedBoundary",
    "BendCheck",
    "trace_decision_boundary",
    "check_bends_on_splines",
    "crossed_splines",
    "null_crossing_rate",
]


@dataclass
class TracedBoundary:
    """The decision boundary of a window, traced from the network (slice coordinates).

    chains: ordered points on the boundary, one (n_i, 2) float64 array per chain (n_i >= 2).
    classes: the two predicted classes on either side of each chain's first chord, (C, 2).
    resolution: grid points per side; spacing: the grid's cell size (du, dv).
    skipped_cells: cells crossed on 3 or 4 edges (junctions, saddles), where chains end.
    """

    chains: list[np.ndarray]
    classes: np.ndarray
    resolution: int
    spacing: tuple[float, float]
    skipped_cells: int = 0

    @property
    def n_points(self) -> int:
        return int(sum(len(c) for c in self.chains))


@dataclass
class BendCheck:
    """Result of :func:`check_bends_on_splines`.

    points: (B, 2) where each bend is (its first bent vertex); stretches: each bend's stretch,
    (n_b, 2) points on the boundary; crossed: for each bend, the code layers (indices into the
    network's code layers) whose code changes along its stretch;
    layers: the layers the check allowed; layer_names / layer_kinds: of every code layer.
    """

    points: np.ndarray
    stretches: list[np.ndarray]
    crossed: list[list[int]]
    layers: list[int]
    layer_names: list[str]
    layer_kinds: list[str]
    traced: TracedBoundary = field(repr=False)
    angle_tol: float = 1e-6

    @property
    def n_bends(self) -> int:
        return len(self.crossed)

    @property
    def failures(self) -> np.ndarray:
        """Indices of the bends whose stretch crosses no spline of the allowed layers."""
        return np.array(
            [i for i, c in enumerate(self.crossed) if not set(c) & set(self.layers)], dtype=int
        )

    @property
    def passed(self) -> bool:
        """True when every bend's stretch crosses a spline of an allowed layer (and there is at
        least one bend to check)."""
        return self.n_bends > 0 and len(self.failures) == 0


def _float64(plane: PlaneSlice | None) -> PlaneSlice | None:
    if plane is None:
        return None
    if not isinstance(plane, PlaneSlice):
        raise TypeError(f"slice must be a PlaneSlice or None, got {type(plane).__name__}")
    return PlaneSlice(plane.origin.double(), plane.basis.double(), plane.anchors.double())


def _predict(model, uv: np.ndarray, plane, unit=None, batch: int = 4096) -> np.ndarray:
    """``model``: a float64 :class:`~spline_utils.spline_view.structure.NetworkStructure`.
    The predicted class at each point (N,), or with ``unit = (layer, index)`` that ReLU
    unit's code bit (1 where its pre-activation is positive)."""
    out = []
    with torch.no_grad():
        for start in range(0, len(uv), batch):
            x = to_input(torch.as_tensor(uv[start : start + batch]), plane)
            if unit is not None:
                code = activation_codes(model, x)[unit[0]].values.reshape(len(x), -1)
                out.append(code[:, unit[1]].long().numpy())
                continue
            y = model.model(x).reshape(len(x), -1)
            # one output: the class is its sign (the boundary is {f = 0}); else the argmax
            out.append((y[:, 0] > 0).long().numpy() if y.shape[1] == 1 else y.argmax(1).numpy())
    return np.concatenate(out) if out else np.zeros(0, dtype=int)


def _bisect(model, a: np.ndarray, b: np.ndarray, label_a: np.ndarray, plane, unit, steps: int = 52):
    """Points on the segments a -> b (E, 2) where the label stops being ``label_a``."""
    lo, hi = np.zeros(len(a)), np.ones(len(a))
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        same = _predict(model, a + mid[:, None] * (b - a), plane, unit) == label_a
        lo, hi = np.where(same, mid, lo), np.where(same, hi, mid)
    t = 0.5 * (lo + hi)
    return a + t[:, None] * (b - a)


def trace_decision_boundary(
    model: nn.Module,
    domain,
    resolution: int = 200,
    slice: PlaneSlice | None = None,
    unit: tuple[int, int] | None = None,
) -> TracedBoundary:
    """Trace the decision boundary -- or, with ``unit``, one unit's spline -- in the rectangle
    ``domain = (u0, u1, v0, v1)`` from forward passes of ``model`` in float64 (module doc).

    Args:
        model: a classifier, output (N, C): the predicted class is the argmax, or for C = 1 the
            sign of the output (boundary {f = 0}); it is copied to float64, not changed.
        domain: the window (u0 < u1, v0 < v1), in input coordinates (2-D inputs) or in the
            coordinates of ``slice``.
        resolution: grid points per side (>= 3); a finer grid separates nearby bends.
        slice: a :class:`~spline_utils.partition.slices.PlaneSlice` for models whose input is
            not 2-D.
        unit: ``(layer, index)``: trace the spline of this ReLU unit instead (``layer`` indexes
            the network's code layers, ``index`` the unit in that layer's flattened code), as
            the line where its code bit changes.

    Returns:
        A :class:`TracedBoundary` (for a unit's spline, ``classes`` holds its code bits 0 / 1).

    Example:
        >>> traced = su.trace_decision_boundary(su.load_network("fcnet"), (-5, 5, -5, 5), 60)
        >>> len(traced.chains) >= 1 and traced.chains[0].shape[1]
        2
    """
    check_module("model", model)
    u0, u1, v0, v1 = check_domain("domain", domain)
    resolution = check_int("resolution", resolution, 3)
    net = float64_structure(model)
    plane = _float64(slice)
    u, v = np.linspace(u0, u1, resolution), np.linspace(v0, v1, resolution)
    uu, vv = np.meshgrid(u, v)  # [j, i] = (u_i, v_j)
    grid = np.stack([uu.ravel(), vv.ravel()], 1)
    if unit is not None:
        unit = _check_unit(net, grid[:1], plane, unit)
    labels = _predict(net, grid, plane, unit).reshape(resolution, resolution)
    n = resolution
    # edge ids: horizontal (j, i)-(j, i+1) -> j*(n-1)+i; vertical (j, i)-(j+1, i) -> H + j*n+i
    horizontal = labels[:, :-1] != labels[:, 1:]
    vertical = labels[:-1, :] != labels[1:, :]
    n_h = n * (n - 1)
    jh, ih = np.nonzero(horizontal)
    jv, iv = np.nonzero(vertical)
    a = np.concatenate([np.stack([u[ih], v[jh]], 1), np.stack([u[iv], v[jv]], 1)])
    b = np.concatenate([np.stack([u[ih + 1], v[jh]], 1), np.stack([u[iv], v[jv + 1]], 1)])
    label_a = np.concatenate([labels[jh, ih], labels[jv, iv]])
    ids = np.concatenate([jh * (n - 1) + ih, n_h + jv * n + iv])
    points = _bisect(net, a, b, label_a, plane, unit) if len(ids) else np.zeros((0, 2))
    where = {int(e): k for k, e in enumerate(ids)}
    neighbours: dict[int, list[int]] = {k: [] for k in range(len(ids))}
    skipped = 0
    for j in range(n - 1):
        for i in range(n - 1):
            edges = [
                e
                for e, crossed in (
                    (j * (n - 1) + i, horizontal[j, i]),
                    ((j + 1) * (n - 1) + i, horizontal[j + 1, i]),
                    (n_h + j * n + i, vertical[j, i]),
                    (n_h + j * n + i + 1, vertical[j, i + 1]),
                )
                if crossed
            ]
            if len(edges) == 2:
                p, q = where[edges[0]], where[edges[1]]
                neighbours[p].append(q)
                neighbours[q].append(p)
            elif len(edges) > 2:
                skipped += 1
    chains, pair, seen = [], [], np.zeros(len(ids), bool)
    starts = [k for k in neighbours if len(neighbours[k]) == 1] + list(neighbours)
    for start in starts:
        if seen[start] or not neighbours[start]:
            continue
        order, prev, here = [start], -1, start
        seen[start] = True
        while True:
            nxt = [k for k in neighbours[here] if k != prev and not seen[k]]
            if not nxt:
                closed = start in neighbours[here] and len(order) > 2
                break
            prev, here = here, nxt[0]
            seen[here] = True
            order.append(here)
        if closed:
            order.append(start)
        chains.append(points[order])
        first = order[0]
        pair.append([label_a[first], _predict(net, b[first : first + 1], plane, unit)[0]])
    spacing = ((u1 - u0) / (n - 1), (v1 - v0) / (n - 1))
    classes = np.array(pair, dtype=int).reshape(-1, 2)
    return TracedBoundary(chains, classes, resolution, spacing, skipped)


def _check_unit(net, one_point: np.ndarray, plane, unit) -> tuple[int, int]:
    if not isinstance(unit, (tuple, list)) or len(unit) != 2:
        raise ValueError(f"unit must be a pair (layer, index), got {unit!r}")
    codes = activation_codes(net, to_input(torch.as_tensor(one_point), plane))
    layer = check_int("unit[0] (code layer)", unit[0], 0, len(codes.names) - 1)
    if codes[layer].kind == "maxpool":
        raise ValueError(f"unit[0] = {layer} is a max-pool layer: give a ReLU layer's unit")
    index = check_int("unit[1] (unit index)", unit[1], 0, codes[layer].values[0].numel() - 1)
    return layer, index


def _bent_vertices(chain: np.ndarray, angle_tol: float) -> tuple[np.ndarray, np.ndarray]:
    """The chain without repeated points, and the indices of its bent vertices (1..n-2)."""
    d = np.diff(chain, axis=0)
    length = np.linalg.norm(d, axis=1)
    keep = length > 1e-12 * max(1.0, float(np.abs(chain).max()))
    chain = np.concatenate([chain[:1], chain[1:][keep]])
    if keep.sum() < 2:
        return chain, np.zeros(0, dtype=int)
    d = d[keep] / length[keep, None]
    cos = np.clip((d[:-1] * d[1:]).sum(1), -1.0, 1.0)
    return chain, np.nonzero(np.arccos(cos) > angle_tol)[0] + 1


def _bends_of_chain(chain: np.ndarray, angle_tol: float) -> list[tuple[int, int, np.ndarray]]:
    """``(first, last, points)`` of every bend of one chain: its first and last bent vertex, as
    indices into ``points`` (the chain without repeated points)."""
    chain, bent = _bent_vertices(chain, angle_tol)
    groups, run = [], []
    for k in bent:
        if run and k != run[-1] + 1:
            groups.append((run[0], run[-1]))
            run = []
        run.append(int(k))
    if run:
        groups.append((run[0], run[-1]))
    return [(g, h, chain) for g, h in groups]


def _crossed_layers(net, stretch: np.ndarray, plane) -> list[int]:
    """The code layers whose code changes between consecutive points of ``stretch``."""
    codes = activation_codes(net, to_input(torch.as_tensor(stretch), plane))
    changed = []
    for k, code in enumerate(codes):
        values = code.values.reshape(len(stretch), -1)
        if bool((values[1:] != values[:-1]).any()):
            changed.append(k)
    return changed


def check_bends_on_splines(
    model: nn.Module,
    domain,
    layers=None,
    resolution: int = 200,
    slice: PlaneSlice | None = None,
    angle_tol: float = 1e-6,
    traced: TracedBoundary | None = None,
    unit: tuple[int, int] | None = None,
) -> BendCheck:
    """Theorem 1 (1) checked without the exact engine: trace the decision boundary
    (:func:`trace_decision_boundary`), find its bends, and record for each one which code layers
    change along its stretch (module doc).

    Args:
        model: the classifier (copied to float64).
        domain, resolution, slice: as for :func:`trace_decision_boundary`.
        layers: indices of the code layers whose splines may supply the bends (default: every
            code layer of the network, or for a unit's spline the layers before the unit's);
            :attr:`BendCheck.passed` asks that every bend crosses a spline of one of them. Give
            a layer that does not supply them to see it fail.
        angle_tol: direction change, in radians, above which a vertex counts as bent (> 0).
        traced: a boundary already traced with the same model, window, slice and unit (saves
            the tracing).
        unit: check the bends of this ReLU unit's spline instead of the decision boundary's
            (``(layer, index)`` as in :func:`trace_decision_boundary`): a layer-l spline bends
            only on splines of layers before l (Chapter 1).

    Returns:
        A :class:`BendCheck`.

    Example:
        >>> check = su.check_bends_on_splines(su.load_network("toy_mlp"), (-5, 5, -5, 5), resolution=120)
        >>> check.passed, check.n_bends > 0
        (True, True)
    """
    angle_tol = check_real("angle_tol", angle_tol, 0.0, low_open=True)
    if traced is None:
        traced = trace_decision_boundary(model, domain, resolution, slice, unit)
    elif not isinstance(traced, TracedBoundary):
        raise TypeError(f"traced must be a TracedBoundary or None, got {type(traced).__name__}")
    net = float64_structure(model)
    plane = _float64(slice)
    if not traced.chains:
        raise ValueError("the window holds no decision boundary: there is no bend to check")
    probe = activation_codes(net, to_input(torch.as_tensor(traced.chains[0][:1]), plane))
    names, kinds = list(probe.names), [code.kind for code in probe]
    if layers is None:
        layers = list(range(len(names) if unit is None else unit[0]))
    top = len(names) - 1
    layers = check_sequence("layers", layers, lambda n, k: check_int(n, k, 0, top))
    points, stretches, crossed = [], [], []
    for chain in traced.chains:
        for first, last, clean in _bends_of_chain(chain, angle_tol):
            stretch = clean[first - 1 : last + 2]
            changed = _crossed_layers(net, stretch, plane)
            points.append(clean[first])
            stretches.append(stretch)
            crossed.append(changed)
    return BendCheck(
        np.array(points, dtype=float).reshape(-1, 2),
        stretches,
        crossed,
        layers,
        names,
        kinds,
        traced,
        angle_tol,
    )


def null_crossing_rate(
    model: nn.Module,
    check: BendCheck,
    slice: PlaneSlice | None = None,
    samples: int = 200,
    seed: int = 0,
) -> float:
    """How much a passed :func:`check_bends_on_splines` says: the share of *straight* stretches
    of the traced boundary -- as many points as the check's bend stretches, with no bent vertex
    inside -- that cross a spline of the check's allowed layers anyway.

    Where splines are dense, a stretch can cross one by chance. If the boundary bent at places
    that have nothing to do with the splines, each bend would pass with about this probability,
    and all ``n`` bends of the check with about ``rate ** n``: the smaller that is, the more a
    passed check shows.

    Args:
        model: the network the check traced.
        check: a :class:`BendCheck` with at least one bend.
        slice: its slice (None for 2-D inputs).
        samples: straight stretches drawn (at random, lengths as the bends' stretches).
        seed: of the draw.

    Returns:
        The share in [0, 1].

    Example:
        >>> net = su.load_network("toy_mlp")
        >>> check = su.check_bends_on_splines(net, (-5, 5, -5, 5), resolution=120)
        >>> 0 <= su.null_crossing_rate(net, check, samples=50) < 1
        True
    """
    if not isinstance(check, BendCheck):
        raise TypeError(f"check must be a BendCheck, got {type(check).__name__}")
    if not check.n_bends:
        raise ValueError("check has no bend: there is no stretch length to compare with")
    samples, seed = check_int("samples", samples, 1), check_int("seed", seed, 0)
    net, plane = float64_structure(model), _float64(slice)
    lengths = sorted({len(s) for s in check.stretches})
    straight = {length: [] for length in lengths}
    for chain in check.traced.chains:
        clean, bent = _bent_vertices(chain, check.angle_tol)
        bent = set(bent.tolist())
        for length in lengths:
            for start in range(0, len(clean) - length + 1):
                if not bent & set(range(start, start + length)):
                    straight[length].append(clean[start : start + length])
    rng = np.random.default_rng(seed)
    pool = [len(s) for s in check.stretches if straight[len(s)]]
    if not pool:
        raise ValueError("the traced boundary has no straight stretch as long as its bends'")
    allowed, hits = set(check.layers), 0
    for _ in range(samples):
        candidates = straight[pool[rng.integers(len(pool))]]
        stretch = candidates[rng.integers(len(candidates))]
        hits += bool(allowed & set(_crossed_layers(net, stretch, plane)))
    return hits / samples


def crossed_splines(model: nn.Module, traced: TracedBoundary, slice: PlaneSlice | None = None):
    """The splines that a traced boundary crosses: every unit whose code (ReLU: sign of the
    pre-activation; max-pooling window: position of its maximum) differs between two
    consecutive points of a chain, by forward passes of ``model`` in float64.

    Args:
        model: the network the boundary was traced from.
        traced: a :class:`TracedBoundary` (:func:`trace_decision_boundary`).
        slice: the slice it was traced in (None for 2-D inputs).

    Returns:
        Sorted int64 spline labels ``layer << 32 | unit`` (decode with
        :func:`~spline_utils.partition.turning_points.split_labels`).

    Example:
        >>> net = su.load_network("fcnet")
        >>> traced = su.trace_decision_boundary(net, (-5, 5, -5, 5), 100)
        >>> len(su.crossed_splines(net, traced)) > 0
        True
    """
    check_module("model", model)
    if not isinstance(traced, TracedBoundary):
        raise TypeError(f"traced must be a TracedBoundary, got {type(traced).__name__}")
    net, plane = float64_structure(model), _float64(slice)
    labels: set[int] = set()
    for chain in traced.chains:
        codes = activation_codes(net, to_input(torch.as_tensor(chain), plane))
        for layer, code in enumerate(codes):
            values = code.values.reshape(len(chain), -1)
            changed = (values[1:] != values[:-1]).any(0).nonzero().flatten().tolist()
            labels.update(spline_label(layer, int(u)) for u in changed)
    return np.array(sorted(labels), dtype=np.int64)
