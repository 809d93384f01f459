"""The result of the exact engine: :class:`ExactPartition`, its analyses and its checks.

An :class:`ExactPartition` of a convex 2-D domain holds P convex regions back to back:
``vertices`` (V, 2), ``vertex_labels`` (V,) int64 and ``offsets`` (P + 1,) (as in
:mod:`.polygons`), ``codes`` (one (P, units) array per code layer), ``output_map`` (P, K, 2) and
``output_offset`` (P, K) (the network's affine output on every region). Its methods derive
segments (S, 2, 2) of splines and of the decision boundary, region counts and local complexity,
and check the partition against the network (:class:`PartitionCheckError` on failure).
:func:`sampled_local_complexity` is the sampled estimate that the exact count is compared with.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ...checks import check_array, check_int, check_real, is_int
from ...spline_view.codes import activation_codes
from ...spline_view.model_walk import structure_of
from ..grid import GridPartition, grid_partition
from ..slices import PlaneSlice, check_slice
from .labels import DOMAIN_EDGE, label_layer, label_unit
from .polygons import (
    Polygons,
    chords,
    clip,
    inside_convex,
    point_segment_distance,
    polygon_area,
    snap,
    unique_segments,
)
from .propagation import float64_structure, to_input


class PartitionCheckError(AssertionError):
    """A built-in consistency check of an :class:`ExactPartition` failed (:meth:`~ExactPartition.check`,
    :meth:`~ExactPartition.check_decision_boundary`, :meth:`~ExactPartition.grid_coverage`).
    An ``AssertionError``, raised explicitly so that ``python -O`` cannot skip it."""


@dataclass
class ExactPartition:
    """The exact partition of a convex 2-D domain, made by :func:`exact_partition`.

    Attributes:
        vertices: (V, 2) the regions' polygons back to back, counter-clockwise, in slice
            coordinates: region ``r`` has the vertices ``vertices[offsets[r]:offsets[r + 1]]``.
        vertex_labels: (V,) int64: the edge from vertex ``j`` of region ``r`` to its vertex
            ``j + 1`` has the label ``vertex_labels[offsets[r] + j]``: ``-1`` for the domain
            boundary, else ``layer * 2**32 + unit`` (see :meth:`edge_source`).
        offsets: (P + 1,) where each region's vertices start.
        codes: per code layer, an array (P, units) -- bool for ReLU layers, window position
            (uint8) for max-pooling layers.
        layer_names: the code layers' names (``name#2`` for a module's second call).
        layer_kinds: ``"relu"`` or ``"maxpool"`` per code layer.
        output_map: (P, K, 2) slopes; on region ``r`` the network output is
            ``output_map[r] @ (u, v) + output_offset[r]``.
        output_offset: (P, K) offsets of the same maps.
        domain: (M, 2) the domain polygon, counter-clockwise.
        layer_windows: window positions per code layer (2 for ReLU layers).
        slice: the plane of the slice coordinates, or ``None`` (2-D inputs).
        method: ``"exact polygons"``.

    :attr:`polygons` and :attr:`edge_labels` give the same per region, as lists of (n_r, 2) and
    (n_r,) arrays.
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

    def _ragged(self) -> Polygons:
        return Polygons(self.vertices, self.vertex_labels, self.offsets)

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

    def _centre(self) -> np.ndarray:
        """The centre (2,) of the domain's bounding box: areas are computed about it, so that
        the offset of a domain far from the origin does not enter their rounding."""
        return (self.domain.min(0) + self.domain.max(0)) / 2

    @property
    def areas(self) -> np.ndarray:
        """The area of every region (P,), in squared slice units."""
        if "areas" not in self._cache:
            centred = Polygons(self.vertices - self._centre(), self.vertex_labels, self.offsets)
            self._cache["areas"] = centred.areas()
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
        return None if label < 0 else (label_layer(int(label)), label_unit(int(label)))

    def _layer(self, layer, name: str = "layer") -> int:
        return check_int(name, layer, 0, len(self.codes) - 1)

    def spline_units(self, layer: int) -> np.ndarray:
        """Sorted indices of the units (max-pooling: windows) of one code layer whose splines
        cut the domain, i.e. that label at least one edge.

        Identical (duplicate) units of a ReLU-type layer, and units whose spline is the same
        line with the opposite sign, share one spline: the domain is cut along it once, so only
        one of them labels its edges. Each of them cuts the domain all the same (as
        :meth:`~spline_utils.partition.grid.GridPartition.crossing_units` finds), so a unit
        whose code, region by region, equals or complements that of a listed unit (with both
        signs present) is listed too."""
        layer = self._layer(layer)
        labels = self.vertex_labels
        own = np.unique(label_unit(labels[(labels >= 0) & (label_layer(labels) == layer)]))
        if self.layer_kinds[layer] != "relu" or not len(own):
            return own
        code = self.codes[layer].astype(bool)  # (regions, units)
        both = own[code[:, own].any(0) & ~code[:, own].all(0)]  # listed, with both signs
        if not len(both):
            return own
        others = np.setdiff1d(np.arange(code.shape[1]), own)
        packed = np.packbits(code, axis=0).T  # one row of bytes per unit
        flipped = np.packbits(~code, axis=0).T
        columns = {packed[k].tobytes() for k in both} | {flipped[k].tobytes() for k in both}
        twins = [k for k in others if packed[k].tobytes() in columns]
        return np.union1d(own, np.asarray(twins, own.dtype)) if twins else own

    def grid_coverage(self, grid) -> float:
        """Fraction of the exact regions that a :class:`~spline_utils.partition.grid.GridPartition`
        of the same model and domain samples. Raises ``AssertionError`` if the grid finds a code
        that no exact region has (which would make one of the two wrong)."""
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
            own &= np.isin(label_layer(lab), layers)
        idx = np.flatnonzero(own)
        if not len(idx):
            return np.zeros((0, 2, 2)), np.zeros(0, np.int64)
        segs = np.stack([self.vertices[idx], self.vertices[self._ragged().next_index()[idx]]], 1)
        keep = unique_segments(segs, return_index=True)
        return segs[keep], lab[idx][keep]

    def layer_segments(self, layer: int) -> np.ndarray:
        """Segments (S, 2, 2) of the splines of one code layer (each edge once)."""
        return self.labelled_segments([self._layer(layer)])[0]

    def code_bits(self) -> list[int]:
        """Bits per code layer in :meth:`code_rows` (and
        :class:`~spline_utils.spline_view.codes.PackedCodes`)."""
        return [
            layer.shape[1] * max(1, (window - 1).bit_length())
            for layer, window in zip(self.codes, self.layer_windows)
        ]

    def code_rows(self, upto: int | None = None) -> np.ndarray:
        """Region codes of layers ``[0, upto)`` as packed byte rows (P, bytes), laid out like
        :class:`~spline_utils.spline_view.codes.PackedCodes` data of those layers side by side."""
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
        polys = Polygons(
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
                        cell = clip(cell, snap(s, cell), DOMAIN_EDGE)
                        alive = cell.counts >= 3
                        cell, owner = cell.select(alive), owner[alive]
            if not cell.n:
                continue
            pv_cell = cell.poly_of_vertex()
            s = np.einsum("vi,vi->v", cell.verts, slope[owner][pv_cell]) + offset[owner][pv_cell]
            segs.append(chords(cell, snap(s, cell)))
            pairs.append(np.tile(pair or (0, 0), (len(segs[-1]), 1)))
        segs = np.concatenate(segs) if segs else np.zeros((0, 2, 2))
        pairs = np.concatenate(pairs) if pairs else np.zeros((0, 2), np.int64)
        idx = unique_segments(segs, return_index=True)
        return (segs[idx], pairs[idx]) if with_pairs else segs[idx]

    # ------------------------------------------------------------------ checks
    def check(self, model: nn.Module, n_points: int = 3, tol: float = 1e-8, seed: int = 0) -> dict:
        """Built-in consistency checks; raises ``AssertionError`` on failure, returns the figures.

        * region areas sum to the domain area (relative error <= 1e-9);
        * at ``n_points`` interior points of every region (the centroid and points between it and
          the vertices) the network's codes equal the region's code and its output equals the
          region's affine map (absolute error <= ``tol``).
        """
        n_points = check_int("n_points", n_points, 1)
        tol = check_real("tol", tol, 0.0)
        seed = check_int("seed", seed, 0)
        domain_area = polygon_area(self.domain - self._centre())
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
        model64 = float64_structure(model)
        codes = activation_codes(model64, to_input(torch.as_tensor(points), self.slice))
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
        from scipy.spatial import cKDTree  # scipy.spatial takes 0.2 s to import: on first use

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
        inside = inside_convex(self.domain, np.stack([uu.ravel(), vv.ravel()], 1)).reshape(
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
            d = point_segment_distance(point, a, b)
            if inside_convex(poly, point[None])[0] or (d <= radius).any():
                regions += 1
                near = labels[(d <= radius) & (labels >= 0)]
                splines.update(
                    int(x) for x in near if self.layer_kinds[label_layer(int(x))] == "relu"
                )
        return regions, len(splines)


def sampled_local_complexity(
    model: nn.Module, point, radius: float, slice: PlaneSlice | None = None
) -> int:
    """The sampled estimate of local complexity: the number of ReLU units whose pre-activation
    sign is not the same at the four vertices ``point +- radius * e_i`` of the cross-polytope
    (a diamond in the slice). It counts a spline only if it separates those vertices, so it
    undercounts splines that cut the neighbourhood but not its vertices."""
    structure = structure_of(model)
    structure.check_supported()
    p = check_array("point", point, shape=(2,))
    radius = check_real("radius", radius, 0.0)
    check_slice(slice)
    vertices = p + radius * np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    codes = activation_codes(
        float64_structure(structure), to_input(torch.as_tensor(vertices), slice)
    )
    count = 0
    for layer in codes.layers:
        if layer.kind == "relu":
            bits = layer.values.reshape(4, -1)
            count += int((bits.any(0) & ~bits.all(0)).sum())
    return count
