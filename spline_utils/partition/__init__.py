"""Partitions of input space into regions, on 2-D slices (Chapters 1-3).

* :mod:`.slices`         -- 2-D planes through anchor points of input space;
* :mod:`.grid`           -- partitions sampled on a grid (quick previews);
* :mod:`.exact`          -- exact partitions into convex polygons, exact decision boundaries;
  edge labels (``layer << 32 | unit``) read with :func:`~.exact.labels.split_labels`;
* :mod:`.turning_points` -- where splines and decision boundaries bend, and which spline supplies the bend;
* :mod:`.boundary_trace` -- the decision boundary traced from forward passes alone, and the check,
  independent of the exact engine, that each of its bends crosses a spline.
"""

from .boundary_trace import (
    BendCheck,
    TracedBoundary,
    check_bends_on_splines,
    crossed_splines,
    null_crossing_rate,
    trace_decision_boundary,
)
from .exact import (
    ExactPartition,
    PartitionCheckError,
    exact_partition,
    label_layer,
    label_unit,
    sampled_local_complexity,
    spline_label,
)
from .grid import GridPartition, grid_partition
from .slices import PlaneSlice
from .turning_points import (
    bends,
    decision_turning_points,
    spline_segments,
    spline_turning_points,
    splines_through,
    split_labels,
    supplying_splines,
    unit_preactivations,
)

__all__ = [
    "BendCheck",
    "bends",
    "check_bends_on_splines",
    "crossed_splines",
    "null_crossing_rate",
    "decision_turning_points",
    "exact_partition",
    "ExactPartition",
    "grid_partition",
    "GridPartition",
    "label_layer",
    "label_unit",
    "PartitionCheckError",
    "PlaneSlice",
    "sampled_local_complexity",
    "spline_label",
    "spline_segments",
    "spline_turning_points",
    "splines_through",
    "split_labels",
    "supplying_splines",
    "trace_decision_boundary",
    "TracedBoundary",
    "unit_preactivations",
]
