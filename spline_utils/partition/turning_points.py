"""Where splines and decision boundaries bend, and which earlier spline makes them bend.

Inside a region of layers ``1..l-1`` a layer-``l`` spline is a straight segment, so it can only
bend where it crosses an earlier spline; the same holds for the decision boundary (a spline of the
output layer). These helpers find the bends of an :class:`~spline_utils.partition.exact.ExactPartition`
and name the earlier spline under each, so that claim can be checked and pruning's effect on it
counted.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from torch import nn

from ..checks import check_array, check_int, check_real
from ..spline_view.codes import activation_codes
from ..spline_view.model_walk import structure_of
from .exact import ExactPartition
from .exact.labels import label_layer, label_unit, spline_label, split_labels
from .exact.polygons import point_segment_distance
from .exact.propagation import float64_structure, to_input

__all__ = [
    "bends",
    "decision_turning_points",
    "point_segment_distance",
    "spline_segments",
    "spline_turning_points",
    "splines_through",
    "split_labels",
    "supplying_splines",
    "unit_preactivations",
]


def _check_part(part) -> ExactPartition:
    if not isinstance(part, ExactPartition):
        raise TypeError(f"part must be an ExactPartition, got {type(part).__name__}")
    return part


def spline_segments(part: ExactPartition, layers=None) -> tuple[np.ndarray, np.ndarray]:
    """Every spline edge of the partition once, with its label (see
    :meth:`~spline_utils.partition.exact.ExactPartition.labelled_segments`).

    Args:
        part: an exact partition.
        layers: code-layer indices to keep (default: all).

    Returns:
        ``(segments, labels)``: segments (S, 2, 2) in slice coordinates, and int64 labels (S,)
        ``layer << 32 | unit``.

    Example:
        >>> part = su.exact_partition(su.load_network("fcnet"), (-5, 5, -5, 5))
        >>> segments, labels = su.spline_segments(part, [0])
        >>> layers, units = su.split_labels(labels)
        >>> segments.shape[1:], sorted(set(layers.tolist()))
        ((2, 2), [0])
    """
    return _check_part(part).labelled_segments(layers)


def bends(segs: np.ndarray, groups: np.ndarray, tol: float = 1e-9, angle_tol: float = 1e-7):
    """Points where two or more segments of the same group meet other than in a straight line.

    segs: (S, 2, 2); groups: (S,) ints (one spline, or one class pair of a decision boundary);
    endpoints closer than ``tol`` times the drawing's extent are the same point.
    Returns ``(points (T, 2), group (T,))``.
    """
    segs = check_array("segs", segs)
    if segs.ndim != 3 or segs.shape[1:] != (2, 2):
        raise ValueError(f"segs must have shape (S, 2, 2), got {segs.shape}")
    groups = np.asarray(groups)
    if groups.shape != (len(segs),) or (len(groups) and groups.dtype.kind not in "iu"):
        raise ValueError(
            f"groups must be integers of shape ({len(segs)},) (one per segment), "
            f"got {groups.dtype} {groups.shape}"
        )
    tol = check_real("tol", tol, 0.0)
    angle_tol = check_real("angle_tol", angle_tol, 0.0)
    if len(segs) and not (np.linalg.norm(segs[:, 1] - segs[:, 0], axis=1) > 0).all():
        raise ValueError("segs must have non-zero length: a zero-length segment has no direction")
    if len(segs) < 2:
        return np.zeros((0, 2)), np.zeros(0, groups.dtype)
    ends = segs.reshape(-1, 2)
    end_group = np.repeat(groups, 2)
    away = np.concatenate([segs[:, 1] - segs[:, 0], segs[:, 0] - segs[:, 1]], 1).reshape(-1, 2)
    away /= np.linalg.norm(away, axis=1, keepdims=True)
    scale = max(1.0, float(np.abs(ends).max()))
    pairs = cKDTree(ends).query_pairs(tol * scale, output_type="ndarray")
    pairs = pairs[end_group[pairs[:, 0]] == end_group[pairs[:, 1]]]
    graph = coo_matrix(
        (np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(ends), len(ends))
    )
    _, cluster = connected_components(graph, directed=False)
    points, point_group = [], []
    order = np.argsort(cluster, kind="stable")
    starts = np.searchsorted(cluster[order], np.arange(cluster.max() + 2))
    for c in range(cluster.max() + 1):
        members = order[starts[c] : starts[c + 1]]
        if len(members) < 2:
            continue
        d = away[members]
        straight = (
            len(members) == 2
            and abs(d[0, 0] * d[1, 1] - d[0, 1] * d[1, 0]) <= angle_tol
            and d[0] @ d[1] < 0
        )
        if not straight:
            points.append(ends[members].mean(0))
            point_group.append(end_group[members[0]])
    if not points:
        return np.zeros((0, 2)), np.zeros(0, groups.dtype)
    return np.array(points), np.array(point_group)


def decision_turning_points(part: ExactPartition) -> np.ndarray:
    """Where the exact decision boundary bends.

    For ``K >= 2`` classes, a turning point is a point where the boundary between one pair of
    classes is not straight: two of its segments meet there at an angle. A junction of three
    classes is not a turning point of any pair's boundary.

    Args:
        part: an exact partition of a network's input slice.

    Returns:
        Points (T, 2) in slice coordinates.

    Example:
        >>> part = su.exact_partition(su.load_network("fcnet"), (-5, 5, -5, 5))
        >>> su.decision_turning_points(part).shape
        (35, 2)
    """
    segs, pairs = _check_part(part).decision_segments(with_pairs=True)
    groups = pairs[:, 0] * 10_000 + pairs[:, 1]
    return bends(segs, groups)[0]


def spline_turning_points(part: ExactPartition, layer: int) -> tuple[np.ndarray, np.ndarray]:
    """Where the splines of code layer ``layer`` bend.

    Args:
        part: an exact partition.
        layer: a code-layer index (0 = the first ReLU layer).

    Returns:
        ``(points (T, 2), unit (T,))``: each bend and the unit whose spline bends there.

    Example:
        >>> part = su.exact_partition(su.load_network("toy_mlp"), (-5, 5, -5, 5))
        >>> points, units = su.spline_turning_points(part, 1)
        >>> len(points) > 0, len(su.spline_turning_points(part, 0)[0])  # layer-1 lines never bend
        (True, 0)
    """
    layer = check_int("layer", layer, 0, len(_check_part(part).codes) - 1)
    segs, labels = spline_segments(part, [layer])
    points, group = bends(segs, labels)
    return points, label_unit(group)


def supplying_splines(part: ExactPartition, points: np.ndarray, before_layer: int | None = None):
    """The spline that supplies each turning point: the nearest spline of the earlier layers.

    Args:
        part: an exact partition.
        points: turning points (T, 2) in slice coordinates.
        before_layer: look at code layers ``< before_layer`` only (default: all).

    Returns:
        ``(labels (T,), distances (T,))``: the nearest spline's label (``layer << 32 | unit``,
        see :meth:`~spline_utils.partition.exact.ExactPartition.edge_source`) and the distance
        to it (zero to rounding when the point lies on it).

    Raises:
        ValueError: the partition has no spline in those layers, or bad ``points``.

    Example:
        >>> part = su.exact_partition(su.load_network("fcnet"), (-5, 5, -5, 5))
        >>> labels, distances = su.supplying_splines(part, su.decision_turning_points(part))
        >>> bool(distances.max() < 1e-9), len(set(labels.tolist()))
        (True, 18)
    """
    n_layers = len(_check_part(part).codes)
    before_layer = (
        n_layers if before_layer is None else check_int("before_layer", before_layer, 0, n_layers)
    )
    segs, labels = spline_segments(part, range(before_layer))
    points = _check_points(points)
    if not len(points):
        return np.zeros(0, np.int64), np.zeros(0)
    if not len(segs):
        raise ValueError("the partition has no splines in those layers")
    dist = np.stack([point_segment_distance(p, segs[:, 0], segs[:, 1]) for p in points])
    nearest = dist.argmin(1)
    return labels[nearest], dist[np.arange(len(points)), nearest]


@torch.no_grad()
def splines_through(
    model: nn.Module, points: np.ndarray, slice=None, radius: float = 1e-6, n_probe: int = 16
) -> list[np.ndarray]:
    """Every spline through each point -- all the units that *supply* it (Chapter 3's
    definition), where :func:`supplying_splines` names only the nearest edge of the exact
    partition (which keeps one label for coincident splines).

    A unit's spline passes through ``p`` when the unit's code is not constant near ``p``: here,
    when it differs among ``n_probe`` points on the circle of radius ``radius`` around ``p``,
    evaluated by the network itself in float64 (ReLU units: the sign of the pre-activation;
    max-pooling windows: the position of the maximum).

    Args:
        model: the network (copied to float64).
        points: (T, 2) in slice coordinates (input coordinates for 2-D inputs).
        slice: the :class:`~spline_utils.partition.slices.PlaneSlice` of the points, or None.
        radius: of the probe circle (> 0), in slice units: small against the distance between
            splines that do not pass through the point.
        n_probe: points on the circle (>= 3).

    Returns:
        One sorted array of spline labels (``layer << 32 | unit``) per point.

    Example:
        >>> net = su.load_network("fcnet")
        >>> part = su.exact_partition(net, (-5, 5, -5, 5))
        >>> through = su.splines_through(net, su.decision_turning_points(part))
        >>> min(len(t) for t in through) >= 1
        True
    """
    radius = check_real("radius", radius, 0.0, low_open=True)
    n_probe = check_int("n_probe", n_probe, 3)
    points = _check_points(points)
    if not len(points):
        return []
    model64 = float64_structure(model)
    plane = slice
    if plane is not None:
        plane = type(plane)(plane.origin.double(), plane.basis.double(), plane.anchors.double())
    angle = np.linspace(0, 2 * np.pi, n_probe, endpoint=False)
    ring = radius * np.stack([np.cos(angle), np.sin(angle)], 1)
    probes = (points[:, None, :] + ring[None]).reshape(-1, 2)
    codes = activation_codes(model64, to_input(torch.as_tensor(probes), plane))
    changing = []
    for layer, code in enumerate(codes):
        values = code.values.reshape(len(points), n_probe, -1)
        varies = (values != values[:, :1]).any(1).cpu().numpy()  # (T, units)
        changing.append((layer, varies))
    out = []
    for i in range(len(points)):
        labels = [
            spline_label(layer, int(u))
            for layer, varies in changing
            for u in np.nonzero(varies[i])[0]
        ]
        out.append(np.array(sorted(labels), dtype=np.int64))
    return out


@torch.no_grad()
def unit_preactivations(
    model: nn.Module, part: ExactPartition, points: np.ndarray, labels: np.ndarray
) -> np.ndarray:
    """The network's own value, at each point, of the pre-activation of the unit named by each
    label: zero (to rounding) where the point lies on that unit's spline.

    Args:
        model: the network that ``part`` partitions.
        part: its exact partition.
        points: points (T, 2) in slice coordinates.
        labels: one edge label per point (``layer << 32 | unit``, a ReLU layer's unit).

    Returns:
        Pre-activations (T,), float64, computed in float64 by the network itself.

    Raises:
        ValueError: a label names no unit, or a max-pooling window.

    Example:
        >>> net = su.load_network("fcnet")
        >>> part = su.exact_partition(net, (-5, 5, -5, 5))
        >>> turns = su.decision_turning_points(part)
        >>> labels, _ = su.supplying_splines(part, turns)
        >>> bool(abs(su.unit_preactivations(net, part, turns, labels)).max() < 1e-8)
        True
    """
    structure = structure_of(model)
    structure.check_supported()
    _check_part(part)
    points = _check_points(points)
    labels = np.asarray(labels)
    if labels.shape != (len(points),) or (len(labels) and labels.dtype.kind not in "iu"):
        raise ValueError(
            f"labels must be integer edge labels of shape ({len(points)},), one per point; "
            f"got {labels.dtype} {labels.shape}"
        )
    for label in labels.tolist():
        if (
            label < 0
            or label_layer(label) >= len(part.codes)
            or label_unit(label) >= part.codes[label_layer(label)].shape[1]
        ):
            raise ValueError(
                f"labels must name units of the partition's {len(part.codes)} code layers "
                f"(label = layer << 32 | unit, not the domain edge -1), got {label}"
            )
    model64 = float64_structure(structure)
    x = to_input(torch.as_tensor(points), part.slice)
    codes = activation_codes(model64, x, keep_preactivations=True)
    out = np.empty(len(labels))
    for i, label in enumerate(labels):
        layer, unit = ExactPartition.edge_source(int(label))
        if part.layer_kinds[layer] != "relu":
            raise ValueError(
                f"label {label} names a max-pooling window, which has no single pre-activation"
            )
        out[i] = float(codes[layer].preactivation.reshape(len(labels), -1)[i, unit])
    return out


def _check_points(points) -> np.ndarray:
    """Points in slice coordinates: finite, shape (T, 2) (a single point (2,) is one row)."""
    arr = check_array("points", points)
    if arr.ndim == 1 and arr.shape == (2,):
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 2:
        if arr.size == 0:
            return np.zeros((0, 2))
        raise ValueError(f"points must have shape (T, 2), got {arr.shape}")
    return arr
