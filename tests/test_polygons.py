"""Direct tests of the exact engine's polygon geometry: split, clip, snap, chords, segments."""

import numpy as np
import pytest

from spline_utils.partition.exact.polygons import (
    Polygons,
    chords,
    clip,
    inside_convex,
    point_segment_distance,
    polygon_area,
    snap,
    split,
    unique_segments,
)

NEW = 99  # label of the cut edges

SQUARE = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])  # counter-clockwise


def ragged(polygons, labels=None) -> Polygons:
    """Polygons from a list of (n_i, 2) vertex arrays; edge labels default to 10 * i + j."""
    if labels is None:
        labels = [10 * i + np.arange(len(p)) for i, p in enumerate(polygons)]
    counts = [len(p) for p in polygons]
    return Polygons(
        np.concatenate(polygons).astype(float),
        np.concatenate(labels).astype(np.int64),
        np.concatenate([[0], np.cumsum(counts)]),
    )


def pieces_of(verts, labels, counts):
    """The pieces returned by :func:`split` as a list of (vertices, labels)."""
    offsets = np.concatenate([[0], np.cumsum(counts)])
    return [
        (verts[offsets[i] : offsets[i + 1], :2], labels[offsets[i] : offsets[i + 1]])
        for i in range(len(counts))
    ]


def line_values(polys: Polygons, normal, offset) -> np.ndarray:
    """Values (V,) of ``normal . x + offset`` at every vertex."""
    return polys.verts @ np.asarray(normal, float) + offset


def assert_counter_clockwise_convex(poly: np.ndarray) -> None:
    edges = np.roll(poly, -1, axis=0) - poly
    turns = (
        edges[:, 0] * np.roll(edges, -1, axis=0)[:, 1] - edges[:, 1] * np.roll(edges, -1, 0)[:, 0]
    )
    assert polygon_area(poly) > 0
    assert (turns >= -1e-12).all()


def assert_edges_keep_their_labels(piece, labels, parent, parent_labels, normal, offset):
    """Every edge of a piece either carries the cut label and lies on the cut line, or lies on
    the parent's edge whose label it keeps."""
    nxt = np.roll(piece, -1, axis=0)
    for a, b, label in zip(piece, nxt, labels):
        if label == NEW:
            assert abs(a @ normal + offset) < 1e-12 and abs(b @ normal + offset) < 1e-12
        else:
            j = int(np.flatnonzero(parent_labels == label)[0])
            p, q = parent[j], parent[(j + 1) % len(parent)]
            for point in (a, b):
                assert point_segment_distance(point, p[None], q[None])[0] < 1e-12


def test_square_cut_through_the_middle():
    polys = ragged([SQUARE])
    normal, offset = np.array([1.0, 0.0]), -0.3  # the line u = 0.3
    s = line_values(polys, normal, offset)
    verts, labels, counts = split(polys.verts, polys.labels, polys.counts, s, NEW)
    assert counts.tolist() == [4, 4]
    (pos, pos_labels), (neg, neg_labels) = pieces_of(verts, labels, counts)
    np.testing.assert_allclose(pos, [[0.3, 0], [1, 0], [1, 1], [0.3, 1]])
    assert pos_labels.tolist() == [0, 1, 2, NEW]
    np.testing.assert_allclose(neg, [[0, 0], [0.3, 0], [0.3, 1], [0, 1]])
    assert neg_labels.tolist() == [0, NEW, 2, 3]
    assert polygon_area(pos) + polygon_area(neg) == pytest.approx(1.0, abs=1e-15)
    assert polygon_area(pos) == pytest.approx(0.7)
    for piece, piece_labels in ((pos, pos_labels), (neg, neg_labels)):
        assert_counter_clockwise_convex(piece)
        assert_edges_keep_their_labels(piece, piece_labels, SQUARE, polys.labels, normal, offset)


def test_oblique_cut_of_a_hexagon_conserves_area_and_labels():
    angles = np.linspace(0, 2 * np.pi, 7)[:-1] + 0.1
    hexagon = np.stack([np.cos(angles), np.sin(angles)], 1)
    polys = ragged([hexagon])
    normal, offset = np.array([0.6, -0.8]), 0.25
    s = line_values(polys, normal, offset)
    verts, labels, counts = split(polys.verts, polys.labels, polys.counts, s, NEW)
    pieces = pieces_of(verts, labels, counts)
    assert sum(polygon_area(p) for p, _ in pieces) == pytest.approx(polygon_area(hexagon))
    assert sum((lab == NEW).sum() for _, lab in pieces) == 2  # one cut edge per piece
    for piece, piece_labels in pieces:
        assert len(piece) >= 3
        assert_counter_clockwise_convex(piece)
        assert_edges_keep_their_labels(piece, piece_labels, hexagon, polys.labels, normal, offset)
    # the positive piece is the side s >= 0
    assert (pieces[0][0] @ normal + offset >= -1e-12).all()
    assert (pieces[1][0] @ normal + offset <= 1e-12).all()


def test_a_line_missing_the_polygon_leaves_it_whole():
    polys = ragged([SQUARE])
    for sign in (1.0, -1.0):
        s = sign * line_values(polys, [1.0, 1.0], 5.0)  # u + v = -5: far away
        verts, labels, counts = split(polys.verts, polys.labels, polys.counts, s, NEW)
        whole, empty = (0, 1) if sign > 0 else (1, 0)
        assert counts[whole] == 4 and counts[empty] == 0
        (piece, piece_labels) = pieces_of(verts, labels, counts)[whole]
        np.testing.assert_array_equal(piece, SQUARE)
        np.testing.assert_array_equal(piece_labels, polys.labels)


def test_a_line_through_two_opposite_vertices_gives_two_triangles():
    polys = ragged([SQUARE])
    normal, offset = np.array([1.0, -1.0]), 0.0  # the diagonal u = v
    s = line_values(polys, normal, offset)
    verts, labels, counts = split(polys.verts, polys.labels, polys.counts, s, NEW)
    assert counts.tolist() == [3, 3]  # no new vertices: the line meets the square at vertices
    (lower, lower_labels), (upper, upper_labels) = pieces_of(verts, labels, counts)
    np.testing.assert_array_equal(lower, [[0, 0], [1, 0], [1, 1]])
    assert lower_labels.tolist() == [0, 1, NEW]
    np.testing.assert_array_equal(upper, [[0, 0], [1, 1], [0, 1]])
    assert upper_labels.tolist() == [NEW, 2, 3]
    assert polygon_area(lower) == polygon_area(upper) == 0.5


def test_a_line_touching_one_vertex_does_not_cut():
    polys = ragged([SQUARE])
    s = line_values(polys, [1.0, 1.0], 0.0)  # u + v = 0 touches the corner (0, 0) only
    verts, labels, counts = split(polys.verts, polys.labels, polys.counts, s, NEW)
    assert counts[0] == 4 and counts[1] < 3
    piece, piece_labels = pieces_of(verts, labels, counts)[0]
    np.testing.assert_array_equal(piece, SQUARE)
    assert NEW not in piece_labels


def test_a_line_along_an_edge_keeps_the_edge_label():
    polys = ragged([SQUARE])
    s = line_values(polys, [1.0, 0.0], 0.0)  # u = 0, the left edge (label 3)
    verts, labels, counts = split(polys.verts, polys.labels, polys.counts, s, NEW)
    assert counts[0] == 4 and counts[1] < 3  # the other side is degenerate (the edge only)
    piece, piece_labels = pieces_of(verts, labels, counts)[0]
    np.testing.assert_array_equal(piece, SQUARE)
    np.testing.assert_array_equal(piece_labels, [0, 1, 2, 3])


def test_a_batch_of_polygons_cut_at_once_with_one_label_each():
    triangle = np.array([[2.0, 0.0], [3.0, 0.0], [2.0, 1.0]])
    far = SQUARE + [5.0, 5.0]
    big = 2 * SQUARE - 0.5
    polys = ragged([SQUARE, triangle, far, big])
    normal, offset = np.array([0.0, 1.0]), -0.4  # the line v = 0.4
    s = line_values(polys, normal, offset)
    cut = np.array([100, 101, 102, 103])
    verts, labels, counts = split(polys.verts, polys.labels, polys.counts, s, cut)
    assert len(counts) == 8  # the s >= 0 sides of the 4 polygons, then their s <= 0 sides
    pieces = pieces_of(verts, labels, counts)
    parents = [SQUARE, triangle, far, big]
    for i, parent in enumerate(parents):
        upper, lower = pieces[i], pieces[4 + i]
        kept = [p for p in (upper, lower) if len(p[0]) >= 3]
        assert sum(polygon_area(p) for p, _ in kept) == pytest.approx(polygon_area(parent))
        for piece, piece_labels in kept:
            assert_counter_clockwise_convex(piece)
            assert set(piece_labels) <= set(10 * i + np.arange(len(parent))) | {cut[i]}
    assert counts[2] == 4 and counts[6] < 3  # the far square lies above the line
    assert polygon_area(pieces[0][0]) == pytest.approx(0.6)
    assert polygon_area(pieces[1][0]) == pytest.approx(0.18)  # the triangle above v = 0.4
    assert (pieces[0][1] == 100).sum() == 1 and (pieces[3][1] == 103).sum() == 1


def test_split_interpolates_extra_columns_exactly():
    """Rows may carry more affine values after the coordinates; new vertices get them by
    interpolation, and the cut column vanishes there."""
    polys = ragged([SQUARE, SQUARE + [0.5, 0.5]])
    f = polys.verts @ [2.0, -3.0] + 0.7  # another affine function
    s = polys.verts @ [1.0, 1.0] - 1.2
    data = np.column_stack([polys.verts, s, f])
    new, _, counts = split(data, polys.labels, polys.counts, s, NEW)
    np.testing.assert_allclose(new[:, 2], new[:, :2] @ [1.0, 1.0] - 1.2, atol=1e-15)
    np.testing.assert_allclose(new[:, 3], new[:, :2] @ [2.0, -3.0] + 0.7, atol=1e-15)
    assert len(new) == counts.sum()


def test_clip_keeps_the_nonnegative_side_of_every_polygon():
    polys = ragged([SQUARE, SQUARE + [2.0, 0.0], SQUARE - [2.0, 0.0]])
    s = line_values(polys, [-1.0, 0.0], 0.5)  # s >= 0 where u <= 0.5
    clipped = clip(polys, s, np.array([7, 8, 9]))
    assert clipped.n == 3
    assert clipped.counts.tolist() == [4, 0, 4]  # the middle square is gone, the left one whole
    np.testing.assert_allclose(clipped.areas(), [0.5, 0.0, 1.0])
    first = clipped.verts[: clipped.offsets[1]]
    assert (first[:, 0] <= 0.5 + 1e-15).all()
    assert (clipped.labels[: clipped.offsets[1]] == 7).sum() == 1
    np.testing.assert_array_equal(clipped.labels[clipped.offsets[2] :], [20, 21, 22, 23])


def test_snap_zeroes_values_tiny_relative_to_their_polygon():
    polys = ragged([SQUARE, SQUARE])
    s = np.array([1e-12, 2.0, -1.0, 3e-11, 1e-13, 1e-12, -2e-12, 5e-14])
    snapped = snap(s, polys)
    # polygon 0: scale 2, tolerance 2e-11; polygon 1: scale 2e-12, tolerance 2e-23
    np.testing.assert_array_equal(snapped, [0.0, 2.0, -1.0, 3e-11, 1e-13, 1e-12, -2e-12, 5e-14])
    assert snap(np.zeros(4), ragged([SQUARE])).tolist() == [0.0] * 4


def test_snapped_near_vertex_values_avoid_sliver_pieces():
    polys = ragged([SQUARE])
    s = line_values(polys, [1.0, -1.0], 0.0) + np.array([1e-13, 0, -1e-13, 0])
    verts, _, counts = split(polys.verts, polys.labels, polys.counts, snap(s, polys), NEW)
    assert counts.tolist() == [3, 3]  # without snapping: two extra vertices 1e-13 from corners
    assert (np.abs(verts - np.round(verts)) == 0).all()


def test_polygon_container_helpers():
    triangle = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]])
    polys = ragged([SQUARE, triangle])
    np.testing.assert_allclose(polys.areas(), [1.0, 2.0])
    np.testing.assert_allclose(polys.vertex_means(), [[0.5, 0.5], [2 / 3, 2 / 3]])
    np.testing.assert_allclose(polys.radii(polys.vertex_means())[0], np.sqrt(0.5))
    assert polys.next_index().tolist() == [1, 2, 3, 0, 5, 6, 4]
    only = polys.select(np.array([False, True]))
    np.testing.assert_array_equal(only.verts, triangle)
    both = Polygons.concat([only, ragged([SQUARE])])
    assert both.counts.tolist() == [3, 4]
    assert Polygons.concat([]).n == 0


def test_empty_polygons_have_zero_area_and_leave_their_neighbours_alone():
    """Clip may leave empty polygons; areas and successors must skip them."""
    empty = np.zeros((0, 2))
    labels = [[], [0, 1, 2, 3], [], [4, 5, 6, 7], []]
    polys = ragged([empty, SQUARE, empty, 2 * SQUARE + [0.5, 0.0], empty], labels)
    assert polys.counts.tolist() == [0, 4, 0, 4, 0]
    np.testing.assert_allclose(polys.areas(), [0, 1, 0, 4, 0])
    assert polys.next_index().tolist() == [1, 2, 3, 0, 5, 6, 7, 4]
    nothing = Polygons(np.zeros((0, 2)), np.zeros(0, np.int64), np.array([0, 0]))
    assert nothing.areas().tolist() == [0.0] and len(nothing.next_index()) == 0
    # clip, then the kept pieces clipped again: the realistic way to meet empty polygons
    square_pair = ragged([SQUARE, SQUARE + [2.0, 0.0]])
    clipped = clip(square_pair, line_values(square_pair, [-1.0, 0.0], 0.5), NEW)
    np.testing.assert_allclose(clipped.areas(), [0.5, 0.0])
    kept = clipped.select(clipped.counts >= 3)
    again = clip(kept, line_values(kept, [0.0, 1.0], -0.5), NEW)
    np.testing.assert_allclose(again.areas(), [0.25])


def test_chords_and_unique_segments():
    polys = ragged([SQUARE, SQUARE + [1.0, 0.0], SQUARE + [5.0, 0.0]])
    s = line_values(polys, [0.0, 1.0], -0.5)
    segs = chords(polys, s)  # v = 0.5 crosses all three squares
    assert segs.shape == (3, 2, 2)
    np.testing.assert_allclose(segs[:, :, 1], 0.5)
    np.testing.assert_allclose(np.sort(segs[:, :, 0], 1), [[0, 1], [1, 2], [5, 6]])
    segs = chords(polys, line_values(polys, [1.0, 0.0], -1.5))  # u = 1.5: the second square only
    np.testing.assert_allclose(segs, [[[1.5, 0.0], [1.5, 1.0]]])
    dup = np.array([[[0, 0], [1, 1]], [[1, 1], [0, 0]], [[2, 2], [2, 2]], [[0, 1], [1, 0]]], float)
    np.testing.assert_array_equal(unique_segments(dup, return_index=True), [0, 3])


def test_inside_convex_and_point_segment_distance():
    points = np.array([[0.5, 0.5], [1.0, 0.5], [1.5, 0.5], [0.0, 0.0]])
    assert inside_convex(SQUARE, points).tolist() == [True, True, False, True]
    a, b = np.array([[0.0, 0.0], [0.0, 0.0]]), np.array([[1.0, 0.0], [0.0, 0.0]])
    np.testing.assert_allclose(point_segment_distance(np.array([2.0, 1.0]), a, b), [2**0.5, 5**0.5])
    np.testing.assert_allclose(point_segment_distance(np.array([0.5, -2.0]), a, b)[0], 2.0)


def test_random_cuts_conserve_area_and_orientation():
    rng = np.random.default_rng(0)
    polys = []
    for _ in range(20):  # random convex polygons: sorted angles on an ellipse
        angles = np.sort(rng.uniform(0, 2 * np.pi, rng.integers(3, 9)))
        polys.append(np.stack([np.cos(angles) * rng.uniform(0.5, 2), np.sin(angles)], 1))
    polys = ragged(polys)
    for _ in range(10):
        normal = rng.normal(size=2)
        s = snap(line_values(polys, normal, rng.normal() * 0.5), polys)
        verts, labels, counts = split(polys.verts, polys.labels, polys.counts, s, NEW)
        pieces = Polygons(verts, labels, np.concatenate([[0], np.cumsum(counts)]))
        areas = np.where(counts >= 3, pieces.areas(), 0.0)
        np.testing.assert_allclose(areas[: polys.n] + areas[polys.n :], polys.areas(), rtol=1e-12)
        for piece, _ in pieces_of(verts, labels, counts):
            if len(piece) >= 3:
                assert_counter_clockwise_convex(piece)
