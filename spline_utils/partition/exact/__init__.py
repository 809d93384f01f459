"""Exact partition of a 2-D slice of input space into convex polygons.

Grid sampling (:mod:`spline_utils.grid_partition`) misses regions smaller than a grid cell. This
module computes the partition exactly, layer by layer, by forward evaluation only:

1. Start from the convex domain polygon (in slice coordinates ``(u, v)``).
2. For code layer ``l``, every current polygon lies inside one region of layers ``1..l-1``, so
   the layer's input ``z^l`` is *affine* in ``(u, v)`` on it: ``z^l = z0 + Gu (u - cu) +
   Gv (v - cv)``, stored for every polygon as (z0, Gu, Gv) with one expansion point ``c`` for
   all, the domain's centre. A plain ``nn.Sequential`` gets these maps by pushing the previous
   layer's maps, masked by each polygon's code, through the affine modules in between (float64
   copies of their parameters); any other model by one forward pass at an interior point of
   each polygon with forward-mode derivatives along ``u`` and ``v``. No dense conv matrices are
   built.
3. ReLU-type layer: cut every polygon by the zero line of each unit whose value changes sign
   over the polygon's vertices -- unit by unit over all polygons for narrow layers, else in
   rounds over the few units whose lines pass near each polygon. Max-pooling layer: split every
   polygon, window by window, into the cells where one window position is the largest
   (intersections of half-planes ``z_p >= z_q``).
4. After the last code layer the network output is affine on every polygon; its map gives the
   decision boundary as exact segments.

Polygons are stored as ragged arrays (vertices in counter-clockwise order, one offset array),
and every cut is vectorised over all polygons. Everything runs in float64 on the CPU.
"""

from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.autograd.forward_ad as fwAD
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.utils import _pair

from ..._validate import check_array, check_domain, check_int, check_real, is_int
from ...spline_view.model_walk import (
    AFFINE_MODULES,
    CODE_MODULES,
    check_supported,
    code_modules,
    pool_geometry,
)
from ..slices import PlaneSlice

DOMAIN_EDGE = -1  # edge label of the domain boundary


class PartitionCheckError(AssertionError):
    """A built-in consistency check of an :class:`ExactPartition` failed (:meth:`~ExactPartition.check`,
    :meth:`~ExactPartition.check_decision_boundary`, :meth:`~ExactPartition.grid_coverage`).
    An ``AssertionError``, raised explicitly so that ``python -O`` cannot skip it."""


class _Stop(Exception):
    """Raised inside a hook to end a forward pass once the wanted layer input is captured."""


# --------------------------------------------------------------------------- ragged polygons
@dataclass
class _Polygons:
    verts: np.ndarray  # (V, 2)
    labels: np.ndarray  # (V,) int64: label of the edge from vertex i to the next vertex
    offsets: np.ndarray  # (P + 1,)

    @property
    def n(self) -> int:
        return len(self.offsets) - 1

    @property
    def counts(self) -> np.ndarray:
        if "_counts" not in self.__dict__:
            self.__dict__["_counts"] = np.diff(self.offsets)
        return self.__dict__["_counts"]

    def poly_of_vertex(self) -> np.ndarray:
        if "_pov" not in self.__dict__:
            self.__dict__["_pov"] = np.repeat(np.arange(self.n), self.counts)
        return self.__dict__["_pov"]

    def radii(self, centres: np.ndarray) -> np.ndarray:
        """Largest distance from each polygon's centre (P, 2) to its vertices."""
        if not self.n:
            return np.zeros(0)
        d = self.verts - centres.take(self.poly_of_vertex(), 0)
        return np.sqrt(np.maximum.reduceat(np.einsum("ij,ij->i", d, d), self.offsets[:-1]))

    def next_index(self) -> np.ndarray:
        nxt = np.arange(1, len(self.verts) + 1)
        nxt[self.offsets[1:] - 1] = self.offsets[:-1]
        return nxt

    def _sum(self, values: np.ndarray) -> np.ndarray:
        """Per-polygon sums of per-vertex values (empty polygons give 0)."""
        return np.bincount(self.poly_of_vertex(), weights=values, minlength=self.n)

    def areas(self) -> np.ndarray:
        x, y = self.verts[:, 0], self.verts[:, 1]
        nxt = self.next_index()
        return 0.5 * self._sum(x * y[nxt] - x[nxt] * y)

    def vertex_means(self) -> np.ndarray:
        """Mean of each polygon's vertices (P, 2): inside every convex polygon, and computed
        without dividing by the area (robust for slivers)."""
        return (
            np.stack([self._sum(self.verts[:, 0]), self._sum(self.verts[:, 1])], 1)
            / self.counts[:, None]
        )

    def select(self, mask: np.ndarray) -> _Polygons:
        counts = self.counts[mask]
        vmask = np.repeat(mask, self.counts)
        return _Polygons(
            self.verts[vmask], self.labels[vmask], np.concatenate([[0], np.cumsum(counts)])
        )

    @staticmethod
    def concat(parts: list[_Polygons]) -> _Polygons:
        parts = [p for p in parts if p.n]
        if not parts:
            return _Polygons(np.zeros((0, 2)), np.zeros(0, np.int64), np.zeros(1, np.int64))
        counts = np.concatenate([p.counts for p in parts])
        return _Polygons(
            np.concatenate([p.verts for p in parts]),
            np.concatenate([p.labels for p in parts]),
            np.concatenate([[0], np.cumsum(counts)]),
        )


def _clip(polys: _Polygons, s: np.ndarray, new_label: np.ndarray | int) -> _Polygons:
    """Keep the side ``s >= 0`` of every polygon (s: (V,) values of an affine function at the
    vertices). Returns one polygon per input polygon, possibly with fewer than 3 vertices
    (empty); the cut edge gets ``new_label`` (scalar or (P,) per polygon). The first half of
    :func:`_split`."""
    verts, labels, counts = _split(polys.verts, polys.labels, polys.counts, s, new_label)
    counts = counts[: polys.n]
    n_verts = int(counts.sum())
    return _Polygons(verts[:n_verts], labels[:n_verts], np.concatenate([[0], counts.cumsum()]))


def _snap(s: np.ndarray, polys: _Polygons, rel_tol: float = 1e-11) -> np.ndarray:
    """Set values within ``rel_tol`` of the polygon's largest |value| to exactly zero."""
    scale = np.maximum.reduceat(np.abs(s), polys.offsets[:-1]) if polys.n else np.zeros(0)
    tol = rel_tol * scale[polys.poly_of_vertex()]
    return np.where(np.abs(s) <= tol, 0.0, s)


# --------------------------------------------------------------------------- results
@dataclass
class ExactPartition:
    """The exact partition of a convex 2-D domain.

    vertices (V, 2), vertex_labels (V,) int64, offsets (P + 1,): the regions' polygons back to
        back. Region ``r`` has the vertices ``vertices[offsets[r]:offsets[r + 1]]``
        (counter-clockwise, slice coordinates); the edge from its vertex ``j`` to vertex ``j + 1``
        has the label ``vertex_labels[offsets[r] + j]``: ``-1`` for the domain boundary, else
        ``layer * 2**32 + unit`` (see :meth:`edge_source`).
    polygons, edge_labels: the same per region, as lists of (n_r, 2) and (n_r,) arrays.
    codes: per code layer, an array (P, units) -- bool for ReLU layers, window position (uint8)
        for max-pooling layers.
    output_map: (P, K, 2) slopes and output_offset (P, K): on region ``r`` the network output is
        ``output_map[r] @ (u, v) + output_offset[r]``.
    """

    vertices: np.ndarray
    vertex_labels: np.ndarray
    offsets: np.ndarray
    codes: list[np.ndarray]
    layer_names: list[str]
    layer_kinds: list[str]
    output_map: np.ndarray
    output_offset: np.ndarray
    domain: np.ndarray
    layer_windows: list[int]
    slice: PlaneSlice | None = None
    method: str = "exact polygons"
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_regions(self) -> int:
        return len(self.offsets) - 1

    def _ragged(self) -> _Polygons:
        return _Polygons(self.vertices, self.vertex_labels, self.offsets)

    def _per_region(self, key: str, flat: np.ndarray) -> list[np.ndarray]:
        """``flat`` (one entry per vertex) cut into one view per region, built once."""
        if key not in self._cache:
            o = self.offsets
            self._cache[key] = [flat[o[i] : o[i + 1]] for i in range(self.n_regions)]
        return self._cache[key]

    @property
    def polygons(self) -> list[np.ndarray]:
        """Vertices (n_r, 2) of every region (views into :attr:`vertices`)."""
        return self._per_region("polygons", self.vertices)

    @property
    def edge_labels(self) -> list[np.ndarray]:
        """Edge labels (n_r,) of every region (views into :attr:`vertex_labels`)."""
        return self._per_region("edge_labels", self.vertex_labels)

    @property
    def areas(self) -> np.ndarray:
        if "areas" not in self._cache:
            self._cache["areas"] = self._ragged().areas()
        return self._cache["areas"]

    @property
    def vertex_counts(self) -> np.ndarray:
        return np.diff(self.offsets)

    @staticmethod
    def edge_source(label: int) -> tuple[int, int] | None:
        """``(layer, unit)`` of an edge label, ``None`` for the domain boundary. For max-pooling
        layers ``unit`` is the pooling window."""
        if not is_int(label):
            raise TypeError(f"label must be an integer edge label, got {label!r}")
        return None if label < 0 else (int(label) >> 32, int(label) & 0xFFFFFFFF)

    def _layer(self, layer, name: str = "layer") -> int:
        return check_int(name, layer, 0, len(self.codes) - 1)

    def spline_units(self, layer: int) -> np.ndarray:
        """Sorted indices of the units (max-pooling: windows) of one code layer whose splines
        cut the domain, i.e. that label at least one edge."""
        layer = self._layer(layer)
        labels = self.vertex_labels
        own = labels[(labels >= 0) & ((labels >> 32) == layer)]
        return np.unique(own & 0xFFFFFFFF)

    def grid_coverage(self, grid) -> float:
        """Fraction of the exact regions that a :class:`~spline_utils.grid_partition.GridPartition`
        of the same model and domain samples. Raises ``AssertionError`` if the grid finds a code
        that no exact region has (which would make one of the two wrong)."""
        from ..grid import GridPartition

        if not isinstance(grid, GridPartition):
            raise TypeError(f"grid must be a GridPartition, got {type(grid).__name__}")
        if grid.codes.n_bits != [int(b) for b in np.array(self.code_bits())]:
            raise ValueError(
                f"grid must hold the codes of the same model: its layers have "
                f"{grid.codes.n_bits} bits, this partition's {self.code_bits()}"
            )
        exact = {row.tobytes() for row in self.code_rows()}
        rows = np.ascontiguousarray(np.concatenate(grid.codes.data, 1))
        found = np.unique(
            rows.view(np.dtype((np.void, rows.shape[1]))).ravel()
        )  # distinct rows, fast
        stray = sum(row.tobytes() not in exact for row in found)
        if stray:
            raise PartitionCheckError(f"{stray} grid codes are missing from the exact partition")
        return len(found) / self.n_regions

    def region_counts(self) -> list[int]:
        """Number of regions after each code layer: distinct codes of layers 1..l."""
        return [
            len({r.tobytes() for r in self.code_rows(upto)})
            for upto in range(1, len(self.codes) + 1)
        ]

    def labelled_segments(self, layers=None) -> tuple[np.ndarray, np.ndarray]:
        """Every spline edge once: segments (S, 2, 2) and labels (S,) int64 (``layer << 32 |
        unit``, see :meth:`edge_source`). ``layers``: code-layer indices to keep (default all)."""
        lab = self.vertex_labels
        own = lab >= 0
        if layers is not None:
            if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
                raise TypeError(
                    f"layers must be a sequence of code-layer indices, got {type(layers).__name__}"
                )
            layers = [self._layer(layer, "layers entry") for layer in layers]
            own &= np.isin(lab >> 32, layers)
        idx = np.flatnonzero(own)
        if not len(idx):
            return np.zeros((0, 2, 2)), np.zeros(0, np.int64)
        segs = np.stack([self.vertices[idx], self.vertices[self._ragged().next_index()[idx]]], 1)
        keep = _unique_segments(segs, return_index=True)
        return segs[keep], lab[idx][keep]

    def layer_segments(self, layer: int) -> np.ndarray:
        """Segments (S, 2, 2) of the splines of one code layer (each edge once)."""
        return self.labelled_segments([self._layer(layer)])[0]

    def code_bits(self) -> list[int]:
        """Bits per code layer in :meth:`code_rows` (and :class:`~spline_utils.codes.PackedCodes`)."""
        return [
            layer.shape[1] * max(1, (window - 1).bit_length())
            for layer, window in zip(self.codes, self.layer_windows)
        ]

    def code_rows(self, upto: int | None = None) -> np.ndarray:
        """Region codes of layers ``[0, upto)`` as packed byte rows (P, bytes), laid out like
        :class:`~spline_utils.codes.PackedCodes` data of those layers side by side."""
        upto = len(self.codes) if upto is None else check_int("upto", upto, 0, len(self.codes))
        rows = []
        for layer, window in zip(self.codes[:upto], self.layer_windows[:upto]):
            width = max(1, (window - 1).bit_length())
            if width == 1:
                bits = layer.astype(bool)
            else:
                shifts = np.arange(width - 1, -1, -1, dtype=np.uint8)
                bits = ((layer[..., None] >> shifts) & 1).astype(bool).reshape(len(layer), -1)
            rows.append(np.packbits(bits, axis=1))
        return np.concatenate(rows, axis=1) if rows else np.zeros((self.n_regions, 0), np.uint8)

    def decision_segments(self, with_pairs: bool = False):
        """Exact decision-boundary segments (S, 2, 2).

        One output: the zero set of ``f``. ``K >= 2`` outputs: where the two largest outputs tie,
        i.e. for each region and class pair (a, b) the chord of ``f_a = f_b`` inside the cell
        where a and b beat every other class. ``with_pairs=True`` also returns the class pair
        (a, b) of every segment, (S, 2) int (``(0, 0)`` for a single output).
        """
        k = self.output_map.shape[1]
        if k == 1:
            fields = [(self.output_map[:, 0], self.output_offset[:, 0], None)]
        else:
            fields = [
                (
                    self.output_map[:, a] - self.output_map[:, b],
                    self.output_offset[:, a] - self.output_offset[:, b],
                    (a, b),
                )
                for a in range(k)
                for b in range(a + 1, k)
            ]
        polys = _Polygons(
            self.vertices, np.full(len(self.vertices), DOMAIN_EDGE, np.int64), self.offsets
        )
        segs, pairs = [], []
        for slope, offset, pair in fields:
            cell = polys
            owner = np.arange(polys.n)
            if pair is not None:
                a, b = pair
                for c in range(k):
                    if c in pair:
                        continue
                    for top in (a, b):  # f_top - f_c >= 0
                        s_map = self.output_map[owner, top] - self.output_map[owner, c]
                        s_off = self.output_offset[owner, top] - self.output_offset[owner, c]
                        pv_cell = cell.poly_of_vertex()
                        s = np.einsum("vi,vi->v", cell.verts, s_map[pv_cell]) + s_off[pv_cell]
                        cell = _clip(cell, _snap(s, cell), DOMAIN_EDGE)
                        alive = cell.counts >= 3
                        cell, owner = cell.select(alive), owner[alive]
            if not cell.n:
                continue
            pv_cell = cell.poly_of_vertex()
            s = np.einsum("vi,vi->v", cell.verts, slope[owner][pv_cell]) + offset[owner][pv_cell]
            segs.append(_chords(cell, _snap(s, cell)))
            pairs.append(np.tile(pair or (0, 0), (len(segs[-1]), 1)))
        segs = np.concatenate(segs) if segs else np.zeros((0, 2, 2))
        pairs = np.concatenate(pairs) if pairs else np.zeros((0, 2), np.int64)
        idx = _unique_segments(segs, return_index=True)
        return (segs[idx], pairs[idx]) if with_pairs else segs[idx]

    # ------------------------------------------------------------------ checks
    def check(self, model: nn.Module, n_points: int = 3, tol: float = 1e-8, seed: int = 0) -> dict:
        """Built-in consistency checks; raises ``AssertionError`` on failure, returns the figures.

        * region areas sum to the domain area (relative error <= 1e-9);
        * at ``n_points`` interior points of every region (the centroid and points between it and
          the vertices) the network's codes equal the region's code and its output equals the
          region's affine map (absolute error <= ``tol``).
        """
        from ...spline_view.codes import (
            activation_codes,
        )  # local import: codes does not depend on this module

        n_points = check_int("n_points", n_points, 1)
        tol = check_real("tol", tol, 0.0)
        seed = check_int("seed", seed, 0)
        domain_area = _polygon_area(self.domain)
        area_error = abs(self.areas.sum() - domain_area) / domain_area
        if not area_error <= 1e-9:
            raise PartitionCheckError(
                f"region areas sum to {self.areas.sum()} but the domain area is {domain_area}"
            )
        rng = np.random.default_rng(seed)
        points, owner = [], []
        for r, poly in enumerate(self.polygons):
            c = poly.mean(0)
            points.append(c)
            owner.append(r)
            for _ in range(n_points - 1):
                w = rng.dirichlet(np.ones(len(poly)))
                points.append(0.5 * c + 0.5 * (w @ poly))
                owner.append(r)
        points, owner = np.array(points), np.array(owner)
        model64 = _float64_copy(model)
        codes = activation_codes(model64, _to_input(torch.as_tensor(points), self.slice))
        code_mismatch = 0
        for layer, exact in enumerate(self.codes):
            sampled = codes[layer].values.reshape(len(points), -1).cpu().numpy()
            code_mismatch += int((sampled != exact[owner].astype(sampled.dtype)).any(1).sum())
        predicted = (
            np.einsum("nkd,nd->nk", self.output_map[owner], points) + self.output_offset[owner]
        )
        out = codes.outputs.reshape(len(points), -1).cpu().numpy()
        map_error = float(np.abs(predicted - out).max()) if len(points) else 0.0
        if code_mismatch:
            raise PartitionCheckError(
                f"{code_mismatch} interior points have a code different from their region's"
            )
        if not map_error <= tol:
            raise PartitionCheckError(
                f"affine maps differ from the network by {map_error:.2e} (> {tol})"
            )
        return {"area_error": area_error, "points_checked": len(points), "max_map_error": map_error}

    def check_decision_boundary(self, model: nn.Module, resolution: int = 300) -> float:
        """Compare the exact decision boundary with argmax changes on a fine grid.

        Every pair of neighbouring grid points whose predicted classes differ must have an exact
        decision segment within one grid diagonal of their midpoint. Returns the largest such
        distance (and raises ``AssertionError`` if it exceeds the diagonal).
        """
        from scipy.spatial import cKDTree

        from ..grid import grid_partition

        resolution = check_int("resolution", resolution, 2)
        lo, hi = self.domain.min(0), self.domain.max(0)
        grid = grid_partition(
            model,
            (lo[0], hi[0], lo[1], hi[1]),
            resolution,
            slice=self.slice,
            keep_preactivations=False,
        )
        cls = grid.predicted_class()
        uu, vv = np.meshgrid(grid.u, grid.v)
        inside = _inside_convex(self.domain, np.stack([uu.ravel(), vv.ravel()], 1)).reshape(
            cls.shape
        )
        mids = []
        for a, b in (
            ((np.s_[:], np.s_[:-1]), (np.s_[:], np.s_[1:])),
            ((np.s_[:-1], np.s_[:]), (np.s_[1:], np.s_[:])),
        ):
            change = (cls[a] != cls[b]) & inside[a] & inside[b]
            mids.append(np.stack([(uu[a] + uu[b])[change] / 2, (vv[a] + vv[b])[change] / 2], 1))
        mids = np.concatenate(mids)
        if not len(mids):
            return 0.0
        segs = self.decision_segments()
        if not len(segs):
            raise PartitionCheckError(
                "the grid sees class changes but the exact partition has no decision boundary"
            )
        step = np.hypot(grid.u[1] - grid.u[0], grid.v[1] - grid.v[0])
        n = np.maximum(
            2, np.ceil(np.linalg.norm(segs[:, 1] - segs[:, 0], axis=1) / (step / 8)).astype(int)
        )
        t = np.concatenate([np.linspace(0, 1, k) for k in n])
        owner = np.repeat(np.arange(len(segs)), n)
        samples = segs[owner, 0] + t[:, None] * (segs[owner, 1] - segs[owner, 0])
        dist, _ = cKDTree(samples).query(mids)
        worst = float(dist.max())
        if not worst <= step:
            raise PartitionCheckError(
                f"a grid class change lies {worst:.3g} from the exact boundary (grid diagonal {step:.3g})"
            )
        return worst

    def local_complexity(self, point, radius: float) -> tuple[int, int]:
        """Exact local complexity at ``point`` (slice coordinates): the number of regions, and
        of distinct ReLU-unit splines, that meet the closed disc of ``radius`` around it."""
        point = check_array("point", point, shape=(2,))
        radius = check_real("radius", radius, 0.0)
        regions, splines = 0, set()
        for poly, labels in zip(self.polygons, self.edge_labels):
            a, b = poly, np.roll(poly, -1, axis=0)
            d = _point_segment_distance(point, a, b)
            if _inside_convex(poly, point[None])[0] or (d <= radius).any():
                regions += 1
                near = labels[(d <= radius) & (labels >= 0)]
                splines.update(int(x) for x in near if self.layer_kinds[int(x) >> 32] == "relu")
        return regions, len(splines)


def _inside_convex(poly: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Points (N, 2) inside or on a counter-clockwise convex polygon."""
    a, b = poly, np.roll(poly, -1, axis=0)
    cross = (b[:, 0] - a[:, 0])[None] * (points[:, 1:2] - a[:, 1][None]) - (b[:, 1] - a[:, 1])[
        None
    ] * (points[:, 0:1] - a[:, 0][None])
    return (cross >= -1e-12).all(1)


def _point_segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    t = np.clip(((p - a) * ab).sum(1) / np.maximum((ab * ab).sum(1), 1e-300), 0.0, 1.0)
    return np.linalg.norm(a + t[:, None] * ab - p, axis=1)


def sampled_local_complexity(
    model: nn.Module, point, radius: float, slice: PlaneSlice | None = None
) -> int:
    """The sampled estimate of local complexity: the number of ReLU units whose pre-activation
    sign is not the same at the four vertices ``point +- radius * e_i`` of the cross-polytope
    (a diamond in the slice). It counts a spline only if it separates those vertices, so it
    undercounts splines that cut the neighbourhood but not its vertices."""
    from ...spline_view.codes import activation_codes
    from ..slices import check_slice

    check_supported(model)
    p = check_array("point", point, shape=(2,))
    radius = check_real("radius", radius, 0.0)
    check_slice(slice)
    vertices = p + radius * np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    codes = activation_codes(_float64_copy(model), _to_input(torch.as_tensor(vertices), slice))
    count = 0
    for layer in codes.layers:
        if layer.kind == "relu":
            bits = layer.values.reshape(4, -1)
            count += int((bits.any(0) & ~bits.all(0)).sum())
    return count


def _chords(polys: _Polygons, s: np.ndarray) -> np.ndarray:
    """The segment where the affine function (values s at vertices) vanishes inside each polygon."""
    nxt = polys.next_index()
    sn = s[nxt]
    cross = ((s > 0) & (sn < 0)) | ((s < 0) & (sn > 0))
    on_line = (s == 0) & (sn != 0)  # a vertex on the line (counted once, from its outgoing edge)
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha = np.where(cross, s / (s - sn), 0.0)
    points = polys.verts + alpha[:, None] * (polys.verts[nxt] - polys.verts)
    hit = cross | on_line
    pv = polys.poly_of_vertex()[hit]
    pts = points[hit]
    order = np.argsort(pv, kind="stable")
    pv, pts = pv[order], pts[order]
    _, start, count = np.unique(pv, return_index=True, return_counts=True)
    two = count >= 2
    return np.stack([pts[start[two]], pts[start[two] + count[two] - 1]], 1)


def _unique_segments(segs: np.ndarray, decimals: int = 9, return_index: bool = False) -> np.ndarray:
    """Drop duplicate and zero-length segments (shared edges appear once per neighbouring
    polygon); ``return_index`` gives the indices of the kept segments instead."""
    if not len(segs):
        return np.zeros(0, np.int64) if return_index else segs
    a, b = np.round(segs[:, 0], decimals), np.round(segs[:, 1], decimals)
    swap = (a[:, 0] > b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] > b[:, 1]))
    first = np.where(swap[:, None], b, a)
    second = np.where(swap[:, None], a, b)
    keys = np.concatenate([first, second], 1)
    _, idx = np.unique(keys, axis=0, return_index=True)
    lengths = np.linalg.norm(segs[:, 1] - segs[:, 0], axis=1)
    idx = np.sort(idx[lengths[idx] > 0])
    return idx if return_index else segs[idx]


def _polygon_area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


# --------------------------------------------------------------------------- evaluation
def _float64_copy(model: nn.Module) -> nn.Module:
    return copy.deepcopy(model).to(dtype=torch.float64, device="cpu").eval()


def _to_input(uv: torch.Tensor, plane: PlaneSlice | None) -> torch.Tensor:
    if plane is None:
        return uv
    flat = plane.origin.reshape(-1) + uv @ plane.basis.reshape(2, -1)
    return flat.reshape(uv.shape[0], *plane.input_shape)


def _layer_input_affine(
    model: nn.Module,
    call_index: int | None,
    points: np.ndarray,
    plane: PlaneSlice | None,
    batch_size: int = 8192,
):
    """Value and (u, v)-derivatives of the input of the ``call_index``-th code-layer call
    (``None``: the network output) at ``points`` (P, 2). Returns z0, du, dv, each (P, K)."""
    modules = [m for _, m in code_modules(model)]
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
                x = _to_input(fwAD.make_dual(uv2, tangent), plane)
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


def _pool_windows(pool: nn.MaxPool2d, shape: tuple[int, int, int]) -> np.ndarray:
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
def _sequential_plan(model: nn.Module):
    """For a plain ``nn.Sequential`` (nested Sequentials allowed) of supported leaves:
    ``(segments, code_leaves)``. ``segments`` holds the affine modules (as :func:`_affine_op`
    pairs) before the first code layer, between consecutive code layers and after the last
    (n_code + 1 lists); ``code_leaves`` the code modules in order. ``None`` for any other model
    (the engine then uses forward-mode AD on a float64 copy)."""
    leaves: list[nn.Module] = []

    def walk(module: nn.Module) -> bool:
        if type(module) is nn.Sequential:
            return all(walk(child) for child in module)
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)) and module.running_mean is None:
            return False
        if not isinstance(module, CODE_MODULES + AFFINE_MODULES):
            return False
        leaves.append(module)
        return True

    if not walk(model):
        return None
    segments: list[list] = [[]]
    code_leaves = []
    for module in leaves:
        if isinstance(module, CODE_MODULES):
            segments.append([])
            code_leaves.append(module)
        else:
            segments[-1].append(_affine_op(module))
    return segments, code_leaves


def _affine_op(module: nn.Module):
    """An affine module, in eval mode, as ``(linear, offset)`` in float64 on the CPU: ``linear``
    maps a batch to the module's output without the offset; ``offset`` is a per-channel vector
    (C,), or ``None``. The model itself is neither copied nor changed."""

    def f64(t: torch.Tensor) -> torch.Tensor:
        return t.detach().to("cpu", torch.float64)

    bias = getattr(module, "bias", None)
    if isinstance(module, nn.Linear):
        weight = f64(module.weight)
        return (lambda x: F.linear(x, weight)), None if bias is None else f64(bias)
    if isinstance(module, nn.Conv2d):
        weight = f64(module.weight)
        return (lambda x: module._conv_forward(x, weight, None)), None if bias is None else f64(
            bias
        )
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):  # running statistics, as in eval mode
        scale = torch.rsqrt(f64(module.running_var) + module.eps)
        if module.weight is not None:
            scale = scale * f64(module.weight)
        offset = -f64(module.running_mean) * scale
        if bias is not None:
            offset = offset + f64(bias)
        return (lambda x: x * scale.view((-1,) + (1,) * (x.dim() - 2))), offset
    if isinstance(module, nn.Dropout):  # the identity in eval mode
        return (lambda x: x), None
    return module, None  # Flatten, average pooling, Identity: linear, without parameters


def _affine_apply(op, x: torch.Tensor, n: int) -> torch.Tensor:
    """Apply an :func:`_affine_op` to a batch whose first ``n`` rows are points and whose other
    rows are directions (which get the linear part only)."""
    linear, offset = op
    out = linear(x)
    if offset is not None:
        out[:n] += offset.view((-1,) + (1,) * (out.dim() - 2))
    return out


def _sequential_calls(
    model: nn.Module, segments, code_leaves, plane: PlaneSlice | None, domain: np.ndarray
):
    """Like :func:`_code_calls`, for a sequential model, by one pass of a probe point through
    its float64 affine operations and code layers; a shape mismatch raises ``ValueError``."""
    names = {m: n for n, m in code_modules(model)}
    x = _to_input(torch.as_tensor(domain[:1]), plane)
    calls = []
    try:
        with torch.no_grad():
            for i, segment in enumerate(segments):
                for op in segment:
                    x = _affine_apply(op, x, 1)
                if i < len(code_leaves):
                    leaf = code_leaves[i]
                    calls.append((names[leaf] or type(leaf).__name__, leaf, tuple(x.shape[1:])))
                    x = leaf(x)
    except RuntimeError as exc:
        raise ValueError(_input_message(plane, exc)) from exc
    return _number_calls(calls)


def _propagate(segment, maps: np.ndarray, batch_values: int = 1 << 22):
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
                x = _affine_apply(op, x, n)
        x = x.reshape(3 * n, -1).numpy()
        parts.append((x[:n], x[n : 2 * n], x[2 * n :]))
    if len(parts) == 1:
        return parts[0]
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))


def _code_layer_output(module, shape, code, maps):
    """The output maps of a code layer on regions where its code is known: ReLU / LeakyReLU
    scale each unit by its slope, max-pooling picks each window's winning position.
    ``maps`` (3, P, units): values, u- and v-derivatives of the layer input, one row per region
    (overwritten by ReLU layers); returns (3, P, *out_shape)."""
    n = len(code)
    if isinstance(module, nn.MaxPool2d):
        c, h, w = shape
        g = pool_geometry(module, h, w)
        flat = np.take_along_axis(
            _pool_windows(module, shape)[None], code[..., None].astype(np.int64), 2
        )[..., 0]
        return np.take_along_axis(maps, flat[None], 2).reshape(3, n, c, g["h_out"], g["w_out"])
    if isinstance(module, nn.ReLU):
        np.multiply(maps, code, out=maps)
    else:
        maps *= np.where(code, 1.0, float(module.negative_slope))
    return maps.reshape(3, n, *shape)


def _sequential_maps(segment, previous, centre: np.ndarray, plane: PlaneSlice | None):
    """Affine maps (value at ``centre``, d/du, d/dv; each (P, K)) of the input of the next code
    layer (or of the output) of a sequential model, from the previous code layer's input maps
    (one row per layer-start polygon) and the codes of the current polygons."""
    if previous is None:
        x0 = _to_input(torch.as_tensor(centre[None], dtype=torch.float64), plane).numpy()
        if plane is None:
            basis = np.eye(2)
        else:
            basis = plane.basis.to(torch.float64).numpy().reshape(2, *plane.input_shape)
        maps = np.stack([x0, *(np.broadcast_to(b, x0.shape) for b in basis)])
    else:
        module, shape, z0, du, dv, origin, code = previous
        if (
            not isinstance(module, nn.MaxPool2d)
            and len(shape) == 1
            and shape[0] <= _FLAT_LIMIT
            and len(origin) * shape[0] >= _FLAT_MIN
        ):
            return _flat_relu_maps(segment, module, z0, du, dv, origin, code)
        maps = np.empty((3, len(origin), z0.shape[1]))
        for i, a in enumerate((z0, du, dv)):
            np.take(a, origin, 0, out=maps[i])
        maps = _code_layer_output(module, shape, code, maps)
    return _propagate(segment, maps)


# _flat_relu_maps is used for flat (1-D) layers of at most _FLAT_LIMIT units (it forms the
# segment's matrix, units x outputs) once regions x units reaches _FLAT_MIN: below that, forming
# every region's input directly was faster (interleaved A/B, one core)
_FLAT_LIMIT = 2048
_FLAT_MIN = 1 << 18


def _flat_relu_maps(segment, module, z0, du, dv, origin, code):
    """Maps (value at the centre, d/du, d/dv; each (P, K_out)) after a ReLU / LeakyReLU layer
    with 1-D input and the affine segment behind it, without forming every region's input.

    The segment is affine on vectors, ``y = h @ a + c`` with ``a`` (K, K_out). On region ``i``
    the layer's output is ``h = f(code_i) * z_o`` (``z_o``: the map of its layer-start polygon
    ``o``; ``f`` is 1 on active units and the negative slope elsewhere). With a reference code
    per layer-start polygon (that of its first region),
    ``y_i = (f(ref_o) * z_o) @ a + c + ((f(code_i) - f(ref_o)) * z_o) @ a``: a dense product per
    layer-start polygon, plus a sparse one over the few units where a region's code differs
    from its reference (about 1-2 per region after the first layer)."""
    from scipy import sparse

    n0, k = z0.shape
    n = len(origin)
    a = torch.eye(k, dtype=torch.float64)  # the ops hold detached tensors: no autograd here
    c = torch.zeros(1, k, dtype=torch.float64)
    for op in segment:
        a, c = _affine_apply(op, a, 0), _affine_apply(op, c, 1)
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


# --------------------------------------------------------------------------- the engine
def exact_partition(
    model: nn.Module,
    domain=(-1.0, 1.0, -1.0, 1.0),
    slice: PlaneSlice | None = None,
    max_regions: int = 200_000,
    min_area: float = 1e-14,
) -> ExactPartition:
    """Exact partition of ``domain`` by the code layers of ``model``.

    domain: a box (u_min, u_max, v_min, v_max) or the vertices (M, 2) of a convex polygon, in
        input coordinates (models with 2-D inputs) or slice coordinates (with ``slice``).
    max_regions: stop with a ``RuntimeError`` once the partition would exceed this many regions.
    min_area: polygons smaller than ``min_area`` times the domain area (numerical slivers) are
        dropped.
    Returns an :class:`ExactPartition` (float64 throughout).
    """
    from ..slices import check_slice

    check_supported(model)
    domain = _domain_polygon(domain)
    check_slice(slice)
    max_regions = check_int("max_regions", max_regions, 1)
    min_area = check_real("min_area", min_area, 0.0, 1.0, high_open=True)
    plan = _sequential_plan(model)
    if plan is None:
        model = _float64_copy(model)
        layer_modules = _code_calls(model, slice, domain)
        segments = None
    else:
        segments, code_leaves = plan
        layer_modules = _sequential_calls(model, segments, code_leaves, slice, domain)
    domain_area = _polygon_area(domain)
    polys = _Polygons(
        domain.copy(), np.full(len(domain), DOMAIN_EDGE, np.int64), np.array([0, len(domain)])
    )
    codes: list[np.ndarray] = []
    names, kinds, windows = [], [], []
    previous = None  # sequential models: (module, input shape, z0, du, dv, origin, code)
    # every affine map is stored as (value at the domain centre, d/du, d/dv): one expansion
    # point for all polygons, so passing a map from a polygon to its pieces is a row copy
    centre = domain.mean(0)
    for layer, (name, module, in_shape) in enumerate(layer_modules + [(None, None, None)]):
        if segments is None:
            anchors = (
                polys.vertex_means()
            )  # interior points, where the network has the polygon's map
            z0, du, dv = _layer_input_affine(
                model, None if module is None else layer, anchors, slice
            )
            d = anchors - centre
            z0 = z0 - du * d[:, :1] - dv * d[:, 1:]
        else:
            z0, du, dv = _sequential_maps(segments[layer], previous, centre, slice)
        if module is None:
            break
        if isinstance(module, nn.MaxPool2d):
            idx = _pool_windows(module, in_shape)
            polys, origin, code = _split_maxpool(
                polys, centre, z0, du, dv, idx, layer, max_regions, min_area * domain_area
            )
            kh, kw = _pair(module.kernel_size)
            windows.append(kh * kw)
            kinds.append("maxpool")
        else:
            polys, origin, code = _split_relu(
                polys, centre, z0, du, dv, layer, max_regions, min_area * domain_area
            )
            kinds.append("relu")
            windows.append(2)
        codes = [c[origin] for c in codes] + [code]
        names.append(name)
        previous = (module, in_shape, z0, du, dv, origin, code)
    output_map = np.stack([du, dv], -1)  # (P, K, 2)
    output_offset = z0 - du * centre[0] - dv * centre[1]
    result = ExactPartition(
        vertices=polys.verts,
        vertex_labels=polys.labels,
        offsets=polys.offsets,
        codes=codes,
        layer_names=names,
        layer_kinds=kinds,
        output_map=output_map,
        output_offset=output_offset,
        domain=domain,
        layer_windows=windows,
        slice=slice,
    )
    return result


def _values(polys: _Polygons, origin: np.ndarray, centre, z0t, dut, dvt, column: int) -> np.ndarray:
    """Value at every vertex of unit ``column`` of the layer input, whose affine map on each
    polygon is that of its layer-start ancestor ``origin[polygon]``, expanded at ``centre``.
    ``z0t``, ``dut``, ``dvt``: the maps unit-major, (units, P0), so one unit's row is contiguous."""
    row = origin[polys.poly_of_vertex()]
    d = polys.verts - centre
    return z0t[column][row] + dut[column][row] * d[:, 0] + dvt[column][row] * d[:, 1]


def _budget(n: int, max_regions: int, layer: int, what: str) -> None:
    if n > max_regions:
        raise RuntimeError(
            f"the partition exceeds max_regions={max_regions} at layer {layer}, {what}: "
            "use a smaller domain or raise max_regions"
        )


def _group_starts(owner: np.ndarray, n: int) -> np.ndarray:
    """Start index of each owner's run in a sorted owner array (n + 1 entries)."""
    return np.searchsorted(owner, np.arange(n + 1))


def _split(data: np.ndarray, labels: np.ndarray, counts: np.ndarray, s: np.ndarray, cut):
    """Cut polygons in two along the zero line of an affine function.

    data (V, D): per-vertex rows, affine on each polygon: the coordinates first, then possibly
        unit values. A new vertex where an edge crosses the line gets its row by linear
        interpolation, which is exact.
    labels (V,), counts (P,): edge labels and vertex counts of the (counter-clockwise) polygons.
    s (V,): the function's values at the vertices, snapped (see :func:`_snap`).
    cut: label of the new edges, an int or one per polygon (P,).
    Returns (data, labels, counts) of the 2P pieces: the sides ``s >= 0`` of all polygons in
    order, then their sides ``s <= 0``. A piece has at least 3 vertices when its polygon has a
    positive and a negative value; a side the polygon does not reach has fewer.
    """
    n_v = len(s)
    ends = counts.cumsum()
    first = ends - counts
    nxt = np.arange(1, n_v + 1)
    nxt[ends - 1] = first
    sn = s[nxt]
    cross = s * sn < 0
    alpha = np.where(cross, s / np.where(cross, s - sn, 1.0), 0.0)
    points = data + alpha[:, None] * (data[nxt] - data)
    # slot [side, i, 0]: vertex i itself; slot [side, i, 1]: the crossing on the edge after it.
    # Side 0 keeps s >= 0, side 1 keeps s <= 0: with sign = +1 / -1 for the two sides, a side
    # keeps the vertices whose sign(s) is not -sign.
    sg, side = np.sign(s), np.array([[1.0], [-1.0]])
    emit = np.empty((2, n_v, 2), bool)
    emit[:, :, 0] = sg != -side
    emit[:, :, 1] = cross
    # the edge leaving an emitted point runs along the cut where the polygon leaves that side:
    # after a crossing entered from the side's interior, or after a vertex on the line whose
    # next vertex is on the other side
    on_cut = np.empty((2, n_v, 2), bool)
    on_cut[:, :, 0] = (sg == 0) & (np.sign(sn) == -side)
    on_cut[:, :, 1] = sg == side
    slots = emit.ravel().nonzero()[0]
    vertex = (slots >> 1) % n_v
    if isinstance(cut, np.ndarray):
        cut = cut.repeat(counts)[vertex]
    new_labels = np.where(on_cut.ravel()[slots], cut, labels[vertex])
    # piece p's slots are those between its polygon's first slot on its side and the next's
    bounds = np.concatenate([2 * first, 2 * (n_v + first), [4 * n_v]])
    new_counts = np.diff(slots.searchsorted(bounds))
    return (
        np.concatenate([data, points]).take(vertex + (slots & 1) * n_v, 0),
        new_labels,
        new_counts,
    )


def _split_relu(polys, centre, z0, du, dv, layer, max_regions, min_area):
    """Cut every polygon by the zero lines of the layer's units: unit by unit over all polygons
    (:func:`_sweep_relu`) for narrow layers (at most ``_SWEEP_UNITS`` units, units x vertices at
    most ``_SWEEP_LIMIT``), else in rounds over sparse candidate pairs (:func:`_rounds_relu`).
    Both give the same partition.
    ``z0``, ``du``, ``dv`` (P, units): each polygon's map of the layer input, expanded at ``centre``."""
    if du.shape[1] <= _SWEEP_UNITS and du.shape[1] * len(polys.verts) <= _SWEEP_LIMIT:
        return _sweep_relu(polys, centre, z0, du, dv, layer, max_regions, min_area)
    return _rounds_relu(polys, centre, z0, du, dv, layer, max_regions, min_area)


# the sweep copies every vertex's unit values at each cut, so its cost grows with units^2 x
# vertices; it was faster than the rounds (per-layer A/B, one core) for layers of 16 units up to
# 1,800 vertices and of 32 units on one polygon, slower from 32 units x 1,600 vertices on and for
# every layer of 64 or more units (up to 20x at 64 units x 60,000 vertices, 30x for a 512-unit
# conv layer)
_SWEEP_UNITS = 32
_SWEEP_LIMIT = 40_000


def _sweep_relu(polys, centre, z0, du, dv, layer, max_regions, min_area):
    """Cut all polygons by unit 0's line, then all pieces by unit 1's, and so on. Returns
    (polygons, origin, code) like :func:`_rounds_relu`.

    Every vertex carries its coordinates and the values of all the layer's units in one row of
    ``x`` (V, 2 + units); a new vertex on a cut edge gets its row by interpolation. So a unit's
    values are a column read, and a cut costs a handful of NumPy calls whatever the number of
    polygons it splits."""
    n_units = du.shape[1]
    pov = polys.poly_of_vertex()
    d = polys.verts - centre
    x = np.empty((len(pov), 2 + n_units))
    x[:, :2] = polys.verts
    x[:, 2:] = z0.take(pov, 0) + du.take(pov, 0) * d[:, :1] + dv.take(pov, 0) * d[:, 1:]
    labels, counts = polys.labels, polys.counts
    origin = np.arange(polys.n)
    code = np.zeros((polys.n, n_units), bool)
    starts = polys.offsets[:-1]
    for k in range(n_units):
        s = x[:, 2 + k]
        hi = np.maximum.reduceat(s, starts)
        lo = np.minimum.reduceat(s, starts)
        tol = 1e-11 * np.maximum(hi, -lo)  # as _snap: |values| <= tol count as zero
        pos, neg = hi > tol, lo < -tol
        code[:, k] = pos & ~neg
        is_mixed = pos & neg
        mixed = is_mixed.nonzero()[0]
        if not len(mixed):
            continue
        _budget(len(counts) + len(mixed), max_regions, layer, f"unit {k}")
        rest = (~is_mixed).nonzero()[0]
        vm = is_mixed.repeat(counts)
        take_v, keep_v = vm.nonzero()[0], (~vm).nonzero()[0]
        cm = counts[mixed]
        sm = s.take(take_v)
        sm[np.abs(sm) <= tol[mixed].repeat(cm)] = 0.0
        new_x, new_labels, new_counts = _split(
            x.take(take_v, 0), labels.take(take_v), cm, sm, (layer << 32) + k
        )
        x = np.concatenate([x.take(keep_v, 0), new_x])
        labels = np.concatenate([labels.take(keep_v), new_labels])
        counts = np.concatenate([counts.take(rest), new_counts])
        child_origin, child_code = origin.take(mixed), code.take(mixed, 0)
        origin = np.concatenate([origin.take(rest), child_origin, child_origin])
        code = np.concatenate([code.take(rest, 0), child_code, child_code])
        code[len(rest) : len(rest) + len(mixed), k] = True
        starts = counts.cumsum() - counts
    polys = _Polygons(
        np.ascontiguousarray(x[:, :2]), labels, np.concatenate([[0], np.cumsum(counts)])
    )
    # numerical slivers are dropped once, here: later cuts of a sliver give slivers only
    big = polys.areas() > min_area
    if not big.all():
        polys, origin, code = polys.select(big), origin[big], code[big]
    return polys, origin, code


def _rounds_relu(polys, centre, z0, du, dv, layer, max_regions, min_area):
    """Cut every polygon by the zero lines of the layer's units, in rounds.

    Returns (polygons, origin, code): ``origin[i]`` is the layer-start polygon that polygon ``i``
    came from, ``code`` (P, units) bool its activation pattern.

    The cuts run in rounds, vectorised over polygons. Each polygon keeps a short list of
    *candidate* units, whose lines pass within its bounding circle (a few of them, typically);
    every other unit has one sign on it, read at its centre. In each round every polygon with
    candidates is tested against the candidate line nearest its centre and, if that line
    crosses it, cut in two; the pieces keep those of the parent's candidates that are still near
    them. A polygon without candidates is final. The partition does not depend on the order of
    the cuts (it is an arrangement of lines), and cutting near the centre keeps the rounds few.
    Maps are read by flat index ``polygon * units + unit``.
    """
    n_units = du.shape[1]
    slope = np.sqrt(du * du + dv * dv)  # gradient norm of every unit on every layer-start polygon
    origin = np.arange(polys.n)
    centres = polys.vertex_means()
    radii = polys.radii(centres)
    dc = centres - centre
    value = z0 + du * dc[:, :1] + dv * dc[:, 1:]
    code = value > 0
    # candidate pairs (polygon, unit, centre-to-line distance), sorted by polygon then distance
    cp, cu = np.nonzero(np.abs(value) <= slope * (radii[:, None] * (1 + 1e-9)) + 1e-300)
    flat = cp * n_units + cu
    cd = np.abs(value.take(flat)) / np.maximum(slope.take(flat), 1e-300)
    order = np.lexsort((cd, cp))
    cp, cu, cd = cp[order], cu[order], cd[order]
    done: list[tuple[_Polygons, np.ndarray, np.ndarray]] = []
    n_done = 0
    while polys.n:
        busy = np.zeros(polys.n, bool)
        busy[cp] = True
        if not busy.all():
            final = ~busy
            done.append((polys.select(final), origin[final], code[final]))
            n_done += int(final.sum())
            polys, origin, code = polys.select(busy), origin[busy], code[busy]
            cp = (np.cumsum(busy) - 1)[cp]
            if not polys.n:
                break
        starts = _group_starts(cp, polys.n)
        first = starts[:-1]
        unit = cu[first]
        rows = np.arange(polys.n)
        pv = polys.poly_of_vertex()
        f = origin[pv] * n_units + unit[pv]
        d = polys.verts - centre
        s = _snap(z0.take(f) + du.take(f) * d[:, 0] + dv.take(f) * d[:, 1], polys)
        has_pos = np.maximum.reduceat(s, polys.offsets[:-1]) > 0
        has_neg = np.minimum.reduceat(s, polys.offsets[:-1]) < 0
        code[rows, unit] = has_pos & ~has_neg
        remaining = np.ones(len(cp), bool)
        remaining[first] = False
        mixed = has_pos & has_neg
        if not mixed.any():
            cp, cu, cd = cp[remaining], cu[remaining], cd[remaining]
            continue
        parent = np.nonzero(mixed)[0]
        _budget(n_done + polys.n + len(parent), max_regions, layer, f"unit {unit[parent[0]]}")
        cut = polys.select(mixed)
        data, labels, counts = _split(
            cut.verts,
            cut.labels,
            cut.counts,
            s[np.repeat(mixed, polys.counts)],
            (layer << 32) + unit[parent],
        )
        pieces = _Polygons(data, labels, np.concatenate([[0], np.cumsum(counts)]))
        side = np.repeat([True, False], len(parent))
        parent = np.concatenate([parent, parent])
        keep = pieces.areas() > min_area
        if not keep.all():
            pieces, side, parent = pieces.select(keep), side[keep], parent[keep]
        child_origin = origin[parent]
        child_code = code[parent]
        child_code[np.arange(pieces.n), unit[parent]] = side
        # the parents' other candidates, tested against each piece's bounding circle
        n_pairs = starts[parent + 1] - starts[parent] - 1  # minus the unit just used
        pair_child = np.repeat(np.arange(pieces.n), n_pairs)
        pair_src = np.repeat(
            starts[parent] + 1 - np.concatenate([[0], np.cumsum(n_pairs)[:-1]]), n_pairs
        )
        pair_src += np.arange(len(pair_src))
        pair_unit = cu[pair_src]
        centres = pieces.vertex_means()
        radii = pieces.radii(centres)
        f = child_origin[pair_child] * n_units + pair_unit
        dc = centres[pair_child] - centre
        pair_value = z0.take(f) + du.take(f) * dc[:, 0] + dv.take(f) * dc[:, 1]
        pair_slope = slope.take(f)
        near = np.abs(pair_value) <= pair_slope * radii[pair_child] * (1 + 1e-9) + 1e-300
        child_code[pair_child[~near], pair_unit[~near]] = pair_value[~near] > 0
        pair_child, pair_unit = pair_child[near], pair_unit[near]
        pair_dist = np.abs(pair_value[near]) / np.maximum(pair_slope[near], 1e-300)
        order = np.lexsort((pair_dist, pair_child))
        # the uncut polygons keep their remaining pairs (renumbered), then the pieces follow
        rest = ~mixed
        keep_pair = remaining & rest[cp]
        new_index = np.cumsum(rest) - 1
        n_rest = int(rest.sum())
        cp = np.concatenate([new_index[cp[keep_pair]], n_rest + pair_child[order]])
        cu = np.concatenate([cu[keep_pair], pair_unit[order]])
        cd = np.concatenate([cd[keep_pair], pair_dist[order]])
        polys = _Polygons.concat([polys.select(rest), pieces])
        origin = np.concatenate([origin[rest], child_origin])
        code = np.concatenate([code[rest], child_code])
    if not done:
        return polys, origin, code
    return (
        _Polygons.concat([d[0] for d in done]),
        np.concatenate([d[1] for d in done]),
        np.concatenate([d[2] for d in done]),
    )


def _window_winners(z0, du, dv, idx, d, radii, chunk_values: int = 1 << 22):
    """For every pooling window and polygon: the winning window position at the polygon's centre
    and whether another position may win somewhere inside (it comes within the slope of the
    difference x the polygon's radius of the winner).

    z0, du, dv (units + 1, P): unit-major maps, the last row a never-winning padding unit;
    idx (W, r) window positions; d (P, 2) centres minus the expansion point; radii (P,).
    Returns best (W, P) int and near (W, P) bool, computed ``chunk_values`` numbers at a time."""
    n_windows, r = idx.shape
    n = z0.shape[1]
    best = np.zeros((n_windows, n), np.int64)
    near = np.zeros((n_windows, n), bool)
    step = max(1, chunk_values // (r * max(n, 1)))
    for start in range(0, n_windows, step):
        cols = idx[start : start + step]
        gu, gv = du[cols], dv[cols]  # (w, r, P)
        value = z0[cols] + gu * d[:, 0] + gv * d[:, 1]
        top = value.argmax(1)[:, None]  # (w, 1, P); ties go to the first position
        reach = np.sqrt(
            (np.take_along_axis(gu, top, 1) - gu) ** 2 + (np.take_along_axis(gv, top, 1) - gv) ** 2
        )
        close = np.take_along_axis(value, top, 1) - value <= reach * radii * (1 + 1e-9) + 1e-300
        np.put_along_axis(close, top, False, 1)
        best[start : start + step] = top[:, 0]
        near[start : start + step] = close.any(1)
    return best, near


def _split_maxpool(polys, centre, z0, du, dv, idx, layer, max_regions, min_area):
    """Split every polygon, window by window, into the cells where one window position wins.
    Returns (polygons, origin, code) like :func:`_split_relu`; code (P, windows) uint8 (a wider
    integer type for windows of more than 256 positions)."""
    n_windows, r = idx.shape
    # padding positions never win: a constant -inf column
    z0 = np.concatenate([z0.T, np.full((1, len(z0)), -np.inf)])  # unit-major (units + 1, P0)
    du = np.concatenate([du.T, np.zeros((1, len(du)))])
    dv = np.concatenate([dv.T, np.zeros((1, len(dv)))])
    idx = np.where(idx < 0, z0.shape[0] - 1, idx)
    origin = np.arange(polys.n)
    centres = polys.vertex_means()
    radii = polys.radii(centres)
    with np.errstate(invalid="ignore"):
        # every window on every layer-start polygon at once: the winner at its centre (the code
        # of the polygon's pieces unless the window splits it) and whether a rival position
        # comes within (slope of the difference x radius) of it, i.e. may win somewhere inside
        best0, near0 = _window_winners(z0, du, dv, idx, centres - centre, radii)
        code_dtype = (
            np.uint8 if r <= 256 else np.int16 if r <= 1 << 15 else np.int32
        )  # as codes.window_dtype
        code = np.ascontiguousarray(best0.T, dtype=code_dtype)  # (P0, windows)
        for w in near0.any(1).nonzero()[0]:
            cols = idx[w]
            cand = near0[w][origin].nonzero()[0]  # pieces of those layer-start polygons
            # the same test on the pieces themselves
            o = origin[cand]
            d = centres[cand] - centre
            gu, gv = du[cols][:, o].T, dv[cols][:, o].T  # (candidates, r)
            centre_value = z0[cols][:, o].T + gu * d[:, :1] + gv * d[:, 1:]
            best = centre_value.argmax(1)  # ties go to the first position, as in the recorded codes
            code[cand, w] = best
            rows = np.arange(len(cand))
            gap = centre_value[rows, best][:, None] - centre_value
            reach = np.sqrt(
                (gu[rows, best][:, None] - gu) ** 2 + (gv[rows, best][:, None] - gv) ** 2
            )
            near = gap <= reach * radii[cand][:, None] * (1 + 1e-9) + 1e-300
            near[rows, best] = False
            cand = cand[near.any(1)]
            if not len(cand):
                continue
            is_cand = np.zeros(polys.n, bool)
            is_cand[cand] = True
            sub = polys.select(is_cand)
            vals = np.stack([_values(sub, origin[cand], centre, z0, du, dv, c) for c in cols], 1)
            best_v = vals.argmax(1)
            mixed_sub = np.minimum.reduceat(best_v, sub.offsets[:-1]) != np.maximum.reduceat(
                best_v, sub.offsets[:-1]
            )
            if not mixed_sub.any():
                continue
            mixed = np.zeros(polys.n, bool)
            mixed[cand[mixed_sub]] = True
            parent = np.nonzero(mixed)[0]
            pieces, piece_parent, piece_code = [], [], []
            for p in range(r):
                if cols[p] == z0.shape[0] - 1:
                    continue  # a padding position
                cell, owner = polys.select(mixed), parent.copy()
                for q in range(r):
                    if q == p or cols[q] == z0.shape[0] - 1:
                        continue
                    s = _values(cell, origin[owner], centre, z0, du, dv, cols[p]) - _values(
                        cell, origin[owner], centre, z0, du, dv, cols[q]
                    )
                    s = _snap(s, cell)
                    if (
                        q < p
                    ):  # a tie goes to the earlier position: drop cells where z_p == z_q throughout
                        tied = np.maximum.reduceat(np.abs(s), cell.offsets[:-1]) == 0
                    cell = _clip(cell, s, (layer << 32) + w)
                    alive = cell.counts >= 3
                    if q < p:
                        alive &= ~tied
                    cell, owner = cell.select(alive), owner[alive]
                    if not cell.n:
                        break
                if not cell.n:
                    continue
                big = cell.areas() > min_area
                pieces.append(cell.select(big))
                piece_parent.append(owner[big])
                piece_code.append(np.full(int(big.sum()), p, code_dtype))
            rest = ~mixed
            n_new = sum(len(pp) for pp in piece_parent)
            _budget(int(rest.sum()) + n_new, max_regions, layer, f"window {w}")
            polys = _Polygons.concat([polys.select(rest)] + pieces)
            order = np.concatenate([np.nonzero(rest)[0]] + piece_parent)
            new_code = np.concatenate([code[rest, w]] + piece_code)
            new_centres = [centres[rest]] + [piece.vertex_means() for piece in pieces]
            radii = np.concatenate(
                [radii[rest]] + [piece.radii(c) for piece, c in zip(pieces, new_centres[1:])]
            )
            centres = np.concatenate(new_centres)
            origin, code = origin[order], code[order]
            code[:, w] = new_code
    return polys, origin, code


# --------------------------------------------------------------------------- input checks
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
    area = _polygon_area(arr)
    if abs(area) <= 1e-12 * max(1.0, np.abs(arr).max() ** 2):
        raise ValueError("the domain polygon is degenerate (zero area)")
    if area < 0:
        arr = arr[::-1].copy()
    edges = np.roll(arr, -1, axis=0) - arr
    turns = (
        edges[:, 0] * np.roll(edges, -1, axis=0)[:, 1]
        - edges[:, 1] * np.roll(edges, -1, axis=0)[:, 0]
    )
    if (turns < -1e-12 * np.abs(turns).max()).any():
        raise ValueError("the domain polygon is not convex")
    return arr


def _input_message(plane: PlaneSlice | None, exc: Exception) -> str:
    where = (
        f"the slice's input shape {plane.input_shape}"
        if plane is not None
        else "2-D inputs of shape (N, 2)"
    )
    return f"the model cannot be evaluated on {where}: {exc}"


def _code_calls(model: nn.Module, plane: PlaneSlice | None, domain: np.ndarray):
    """(name, module, input shape without batch) of every code-layer call, in forward order,
    from one pass of a probe point (``ValueError`` if the model cannot take the input)."""
    calls = []
    names = {m: n for n, m in code_modules(model)}

    def hook(module, inputs):
        calls.append((names[module] or type(module).__name__, module, tuple(inputs[0].shape[1:])))

    handles = [m.register_forward_pre_hook(hook) for m in names]
    try:
        with torch.no_grad():
            model(_to_input(torch.as_tensor(domain[:1]), plane))
    except RuntimeError as exc:  # e.g. a slice of the wrong input shape
        raise ValueError(_input_message(plane, exc)) from exc
    finally:
        for h in handles:
            h.remove()
    return _number_calls(calls)


def _number_calls(calls):
    """Name repeated calls of one module ``name#2``, ``name#3``, ..."""
    counts: dict[str, int] = {}
    labelled = []
    for name, module, shape in calls:
        counts[name] = counts.get(name, 0) + 1
        labelled.append((name if counts[name] == 1 else f"{name}#{counts[name]}", module, shape))
    return labelled
