"""Ragged convex polygons and their cuts by lines: the geometry of the exact engine.

Many convex polygons are stored back to back in one :class:`Polygons`: vertices ``verts``
(V, 2) float64 in counter-clockwise order, edge labels ``labels`` (V,) int64 (the label of the
edge from vertex ``i`` to the next vertex of its polygon) and ``offsets`` (P + 1,): polygon ``p``
owns the vertices ``offsets[p]:offsets[p + 1]``. An affine function on the polygons is given by
its values ``s`` (V,) at the vertices; :func:`split` and :func:`clip` cut every polygon along its
zero line at once, vectorised over all polygons. Segments are arrays (S, 2, 2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Polygons:
    """Convex polygons back to back (see the module docstring).

    :func:`split` and :func:`clip` may leave polygons with fewer than 3 vertices (empty sides);
    ``counts``, ``areas``, ``next_index``, ``select`` and ``concat`` take them, the other methods,
    :func:`snap` and the cuts expect vertices in every polygon: keep the pieces with
    ``counts >= 3`` first.
    """

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
        """Index (V,) of every vertex's successor in its polygon."""
        nxt = np.arange(1, len(self.verts) + 1)
        first, ends, counts = self.offsets[:-1], self.offsets[1:], self.counts
        if np.count_nonzero(counts) == len(counts):
            nxt[ends - 1] = first
        else:  # an empty polygon has no last vertex
            full = counts > 0
            nxt[ends[full] - 1] = first[full]
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

    def select(self, mask: np.ndarray) -> Polygons:
        counts = self.counts[mask]
        vmask = np.repeat(mask, self.counts)
        return Polygons(
            self.verts[vmask], self.labels[vmask], np.concatenate([[0], np.cumsum(counts)])
        )

    @staticmethod
    def concat(parts: list[Polygons]) -> Polygons:
        parts = [p for p in parts if p.n]
        if not parts:
            return Polygons(np.zeros((0, 2)), np.zeros(0, np.int64), np.zeros(1, np.int64))
        counts = np.concatenate([p.counts for p in parts])
        return Polygons(
            np.concatenate([p.verts for p in parts]),
            np.concatenate([p.labels for p in parts]),
            np.concatenate([[0], np.cumsum(counts)]),
        )


def split(data: np.ndarray, labels: np.ndarray, counts: np.ndarray, s: np.ndarray, cut):
    """Cut polygons in two along the zero line of an affine function.

    data (V, D): per-vertex rows, affine on each polygon: the coordinates first, then possibly
        unit values. A new vertex where an edge crosses the line gets its row by linear
        interpolation, which is exact.
    labels (V,), counts (P,): edge labels and vertex counts of the (counter-clockwise) polygons,
        each with at least one vertex (drop empty pieces of an earlier cut first).
    s (V,): the function's values at the vertices, snapped (see :func:`snap`).
    cut: label of the new edges, an int or one per polygon (P,).
    Returns (data, labels, counts) of the 2P pieces: the sides ``s >= 0`` of all polygons in
    order, then their sides ``s <= 0``. A piece has at least 3 vertices when its polygon has a
    positive and a negative value; a side the polygon does not reach has fewer.
    """
    n_v = len(s)
    ends = counts.cumsum()
    first = ends - counts
    nxt = np.arange(1, n_v + 1)  # (inline: this runs once per cut, and without empty polygons)
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


def slivers(polys: Polygons, min_area: float, min_width: float = 0.0) -> np.ndarray:
    """(P,) bool: the numerical slivers among the polygons, those at most ``min_area`` large
    *and* at most ``min_width`` wide (the width of a convex polygon: the smallest, over its
    edges, of the largest distance of a vertex from the edge's line). The width is computed from
    coordinate differences only, so it stays accurate far from the origin, where the shoelace
    area of a small polygon is lost to rounding; it is measured only for the few polygons
    below ``min_area``. ``min_width=0`` keeps the area test alone (a polygon of zero width is
    a sliver either way)."""
    small = np.flatnonzero(polys.areas() <= min_area)
    out = np.zeros(polys.n, bool)
    for p in small:
        poly = polys.verts[polys.offsets[p] : polys.offsets[p + 1]]
        if len(poly) < 3:
            out[p] = True
            continue
        edges = np.roll(poly, -1, axis=0) - poly
        lengths = np.hypot(edges[:, 0], edges[:, 1])
        rel = poly[None, :, :] - poly[:, None, :]  # vertex j relative to the start of edge i
        cross = np.abs(edges[:, None, 0] * rel[..., 1] - edges[:, None, 1] * rel[..., 0])
        if not (lengths > 0).any():  # every vertex at one point
            out[p] = True
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            height = np.where(lengths > 0, cross.max(1) / lengths, np.inf)
        out[p] = not height.min() > min_width
    return out


def clip(polys: Polygons, s: np.ndarray, new_label: np.ndarray | int) -> Polygons:
    """Keep the side ``s >= 0`` of every polygon (s: (V,) values of an affine function at the
    vertices). Returns one polygon per input polygon, possibly with fewer than 3 vertices
    (empty); the cut edge gets ``new_label`` (scalar or (P,) per polygon). The first half of
    :func:`split`."""
    verts, labels, counts = split(polys.verts, polys.labels, polys.counts, s, new_label)
    counts = counts[: polys.n]
    n_verts = int(counts.sum())
    return Polygons(verts[:n_verts], labels[:n_verts], np.concatenate([[0], counts.cumsum()]))


def snap(s: np.ndarray, polys: Polygons, rel_tol: float = 1e-11) -> np.ndarray:
    """Set values within ``rel_tol`` of the polygon's largest |value| to exactly zero."""
    scale = np.maximum.reduceat(np.abs(s), polys.offsets[:-1]) if polys.n else np.zeros(0)
    tol = rel_tol * scale[polys.poly_of_vertex()]
    return np.where(np.abs(s) <= tol, 0.0, s)


def chords(polys: Polygons, s: np.ndarray) -> np.ndarray:
    """The segment (S, 2, 2) where the affine function (values s at vertices) vanishes inside
    each polygon it crosses."""
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


def unique_segments(segs: np.ndarray, decimals: int = 9, return_index: bool = False) -> np.ndarray:
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


def polygon_area(poly: np.ndarray) -> float:
    """Signed area of one polygon (M, 2): positive when counter-clockwise."""
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def inside_convex(poly: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Points (N, 2) inside or on a counter-clockwise convex polygon (M, 2): (N,) bool."""
    a, b = poly, np.roll(poly, -1, axis=0)
    cross = (b[:, 0] - a[:, 0])[None] * (points[:, 1:2] - a[:, 1][None]) - (b[:, 1] - a[:, 1])[
        None
    ] * (points[:, 0:1] - a[:, 0][None])
    return (cross >= -1e-12).all(1)


def point_segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance (S,) from the point ``p`` (2,) to each segment from ``a`` (S, 2) to ``b`` (S, 2)."""
    ab = b - a
    t = np.clip(((p - a) * ab).sum(1) / np.maximum((ab * ab).sum(1), 1e-300), 0.0, 1.0)
    return np.linalg.norm(a + t[:, None] * ab - p, axis=1)
