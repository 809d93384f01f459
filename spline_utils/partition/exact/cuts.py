"""Cutting polygons by one code layer: ReLU zero lines and max-pooling cells.

Every cut function takes the P0 *layer-start* polygons (a :class:`~.polygons.Polygons`) and the
layer input's maps on them (a :class:`~.propagation.LayerMaps`: ``z0``, ``du``, ``dv`` each
(P0, units), expanded at ``centre`` (2,)), plus keyword arguments ``layer`` (index of the code
layer, for edge labels ``layer << 32 | unit``), ``max_regions`` (a ``RuntimeError`` beyond it)
and ``min_area`` / ``min_width`` (pieces at most ``min_area`` large *and* at most ``min_width``
wide are numerical slivers and dropped, :func:`~.polygons.slivers`). Each returns
``(polygons, origin, code)``: the P pieces, ``origin`` (P,) the layer-start polygon of each
piece, and ``code`` (P, units) its activation pattern (bool), or for max-pooling (P, windows)
the winning position of every window (uint8, wider for windows of more than 256 positions).

* :func:`sweep_relu`: unit by unit over all polygons (narrow layers);
* :func:`rounds_relu`: in rounds over the few units whose lines pass near each polygon;
* :func:`split_maxpool`: window by window into the cells where one window position wins.

The two ReLU strategies give the same partition; the engine picks one per layer.
"""

from __future__ import annotations

import numpy as np

from .labels import spline_label
from .polygons import Polygons, clip, slivers, snap, split
from .propagation import LayerMaps


def _budget(n: int, max_regions: int, layer: int, what: str) -> None:
    if n > max_regions:
        raise RuntimeError(
            f"the partition exceeds max_regions={max_regions} at layer {layer}, {what}: "
            "use a smaller domain or raise max_regions"
        )


def sweep_relu(
    polys: Polygons,
    maps: LayerMaps,
    *,
    layer: int,
    max_regions: int,
    min_area: float,
    min_width: float = 0.0,
) -> tuple[Polygons, np.ndarray, np.ndarray]:
    """Cut all polygons by unit 0's line, then all pieces by unit 1's, and so on.

    Every vertex carries its coordinates and the values of all the layer's units in one row of
    ``x`` (V, 2 + units); a new vertex on a cut edge gets its row by interpolation. So a unit's
    values are a column read, and a cut costs a handful of NumPy calls whatever the number of
    polygons it splits. The copies of ``x`` make the cost grow with units^2 x vertices."""
    z0, du, dv, centre = maps.z0, maps.du, maps.dv, maps.centre
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
        tol = 1e-11 * np.maximum(hi, -lo)  # as snap: |values| <= tol count as zero
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
        new_x, new_labels, new_counts = split(
            x.take(take_v, 0), labels.take(take_v), cm, sm, spline_label(layer, k)
        )
        x = np.concatenate([x.take(keep_v, 0), new_x])
        labels = np.concatenate([labels.take(keep_v), new_labels])
        counts = np.concatenate([counts.take(rest), new_counts])
        child_origin, child_code = origin.take(mixed), code.take(mixed, 0)
        origin = np.concatenate([origin.take(rest), child_origin, child_origin])
        code = np.concatenate([code.take(rest, 0), child_code, child_code])
        code[len(rest) : len(rest) + len(mixed), k] = True
        starts = counts.cumsum() - counts
    polys = Polygons(
        np.ascontiguousarray(x[:, :2]), labels, np.concatenate([[0], np.cumsum(counts)])
    )
    # numerical slivers are dropped once, here: later cuts of a sliver give slivers only
    big = ~slivers(polys, min_area, min_width)
    if not big.all():
        polys, origin, code = polys.select(big), origin[big], code[big]
    return polys, origin, code


def rounds_relu(
    polys: Polygons,
    maps: LayerMaps,
    *,
    layer: int,
    max_regions: int,
    min_area: float,
    min_width: float = 0.0,
) -> tuple[Polygons, np.ndarray, np.ndarray]:
    """Cut every polygon by the zero lines of the layer's units, in rounds.

    The cuts run in rounds, vectorised over polygons. Each polygon keeps a short list of
    *candidate* units, whose lines pass within its bounding circle (a few of them, typically);
    every other unit has one sign on it, read at its centre. In each round every polygon with
    candidates is tested against the candidate line nearest its centre and, if that line
    crosses it, cut in two; the pieces keep those of the parent's candidates that are still near
    them. A polygon without candidates is final. The partition does not depend on the order of
    the cuts (it is an arrangement of lines), and cutting near the centre keeps the rounds few.
    Maps are read by flat index ``polygon * units + unit``.
    """
    z0, du, dv, centre = maps.z0, maps.du, maps.dv, maps.centre
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
    done: list[tuple[Polygons, np.ndarray, np.ndarray]] = []
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
        starts = np.searchsorted(cp, np.arange(polys.n + 1))  # each polygon's run of pairs
        first = starts[:-1]
        unit = cu[first]
        rows = np.arange(polys.n)
        pv = polys.poly_of_vertex()
        f = origin[pv] * n_units + unit[pv]
        d = polys.verts - centre
        s = snap(z0.take(f) + du.take(f) * d[:, 0] + dv.take(f) * d[:, 1], polys)
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
        data, labels, counts = split(
            cut.verts,
            cut.labels,
            cut.counts,
            s[np.repeat(mixed, polys.counts)],
            spline_label(layer, unit[parent]),
        )
        pieces = Polygons(data, labels, np.concatenate([[0], np.cumsum(counts)]))
        side = np.repeat([True, False], len(parent))
        parent = np.concatenate([parent, parent])
        keep = ~slivers(pieces, min_area, min_width)
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
        polys = Polygons.concat([polys.select(rest), pieces])
        origin = np.concatenate([origin[rest], child_origin])
        code = np.concatenate([code[rest], child_code])
    if not done:
        return polys, origin, code
    return (
        Polygons.concat([d[0] for d in done]),
        np.concatenate([d[1] for d in done]),
        np.concatenate([d[2] for d in done]),
    )


# --------------------------------------------------------------------------- max-pooling
def _values(polys: Polygons, origin: np.ndarray, centre, z0t, dut, dvt, column: int) -> np.ndarray:
    """Value at every vertex of unit ``column`` of the layer input, whose affine map on each
    polygon is that of its layer-start ancestor ``origin[polygon]``, expanded at ``centre``.
    ``z0t``, ``dut``, ``dvt``: the maps unit-major, (units, P0), so one unit's row is contiguous."""
    row = origin[polys.poly_of_vertex()]
    d = polys.verts - centre
    return z0t[column][row] + dut[column][row] * d[:, 0] + dvt[column][row] * d[:, 1]


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


def split_maxpool(
    polys: Polygons,
    maps: LayerMaps,
    windows: np.ndarray,
    *,
    layer: int,
    max_regions: int,
    min_area: float,
    min_width: float = 0.0,
) -> tuple[Polygons, np.ndarray, np.ndarray]:
    """Split every polygon, window by window, into the cells where one window position wins.
    ``windows`` (W, r): flat input index of every window position, -1 for padding (see
    :func:`~.propagation.pool_windows`)."""
    centre, idx = maps.centre, windows
    n_windows, r = idx.shape
    # padding positions never win: a constant -inf column
    z0 = np.concatenate([maps.z0.T, np.full((1, len(maps.z0)), -np.inf)])  # (units + 1, P0)
    du = np.concatenate([maps.du.T, np.zeros((1, len(maps.du)))])
    dv = np.concatenate([maps.dv.T, np.zeros((1, len(maps.dv)))])
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
        )  # as code_recording.window_dtype
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
                    s = snap(s, cell)
                    if (
                        q < p
                    ):  # a tie goes to the earlier position: drop cells where z_p == z_q throughout
                        tied = np.maximum.reduceat(np.abs(s), cell.offsets[:-1]) == 0
                    cell = clip(cell, s, spline_label(layer, w))
                    alive = cell.counts >= 3
                    if q < p:
                        alive &= ~tied
                    cell, owner = cell.select(alive), owner[alive]
                    if not cell.n:
                        break
                if not cell.n:
                    continue
                big = ~slivers(cell, min_area, min_width)
                pieces.append(cell.select(big))
                piece_parent.append(owner[big])
                piece_code.append(np.full(int(big.sum()), p, code_dtype))
            rest = ~mixed
            n_new = sum(len(pp) for pp in piece_parent)
            _budget(int(rest.sum()) + n_new, max_regions, layer, f"window {w}")
            polys = Polygons.concat([polys.select(rest)] + pieces)
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
