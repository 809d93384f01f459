"""Exact partition of a 2-D slice of input space into convex polygons.

Grid sampling (:mod:`spline_utils.partition.grid`) misses regions smaller than a grid cell. This
sub-package computes the partition exactly, layer by layer, by forward evaluation only:

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

One module per job:

* ``labels``      -- edge labels (which spline made an edge) and their accessors;
* ``polygons``    -- the ragged polygon container; split, clip, snap, chords, segments;
* ``propagation`` -- the affine maps of a layer's input (forward AD or sequential);
* ``cuts``        -- the cuts of a ReLU layer (sweep or rounds) and of a max-pooling layer;
* ``result``      -- :class:`ExactPartition`, its analyses and checks;
* ``engine``      -- :func:`exact_partition`, the entry point, and its input checks.
"""

from .engine import exact_partition
from .labels import DOMAIN_EDGE, label_layer, label_unit, spline_label, split_labels
from .result import ExactPartition, PartitionCheckError, sampled_local_complexity

__all__ = [
    "DOMAIN_EDGE",
    "label_layer",
    "label_unit",
    "exact_partition",
    "ExactPartition",
    "PartitionCheckError",
    "sampled_local_complexity",
    "spline_label",
    "split_labels",
]
