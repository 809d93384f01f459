"""Edge labels: which spline made each edge of an exact partition.

Every edge of a region polygon carries one int64 label: :data:`DOMAIN_EDGE` (-1) on the domain's
boundary, otherwise the spline that cut it, packed as ``layer << 32 | unit`` -- the index of the
code layer in forward order, and the unit in that layer's flattened code (for a max-pooling
layer, the pooling window). :func:`spline_label` packs a label, :func:`label_layer`,
:func:`label_unit` and :func:`split_labels` read one back (scalars or arrays alike); nothing
else in the package decodes the bits.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DOMAIN_EDGE", "label_layer", "label_unit", "spline_label", "split_labels"]

#: the edge label of the domain boundary
DOMAIN_EDGE = -1
#: bits of a label that hold the unit (the layer index sits above them)
UNIT_BITS = 32
_UNIT_MASK = (1 << UNIT_BITS) - 1


def spline_label(layer, unit):
    """The label ``layer << 32 | unit`` of unit ``unit`` of code layer ``layer`` (ints or
    integer arrays, broadcast)."""
    return (layer << UNIT_BITS) + unit


def label_layer(labels):
    """The code-layer index of spline labels (an int for an int, else an int64 array)."""
    return labels >> UNIT_BITS


def label_unit(labels):
    """The unit index, in its code layer, of spline labels (an int for an int, else an int64
    array)."""
    return labels & _UNIT_MASK


def split_labels(labels) -> tuple[np.ndarray, np.ndarray]:
    """Spline labels (``layer << 32 | unit``, as
    :func:`~spline_utils.partition.turning_points.spline_segments` and
    :func:`~spline_utils.partition.turning_points.supplying_splines` return them) split into
    code-layer indices and unit indices, two int64 arrays of the labels' shape.

    Raises:
        ValueError: a label is negative (the domain edge) or not an integer.

    Example:
        >>> su.split_labels([(1 << 32) | 5, 3])
        (array([1, 0]), array([5, 3]))
    """
    labels = np.asarray(labels)
    if labels.size and (labels.dtype.kind not in "iu" or (labels < 0).any()):
        raise ValueError(f"labels must be non-negative integer spline labels, got {labels!r}")
    labels = labels.astype(np.int64)
    return label_layer(labels), label_unit(labels)
