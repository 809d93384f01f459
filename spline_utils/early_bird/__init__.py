"""Early-bird tickets (Chapter 4): the spline detector and the mask-distance baseline.

* :mod:`.spline_detector` -- codes of a probe "canvas" drawn every epoch, their distances;
* :mod:`.mask_detector`   -- the BatchNorm channel masks of "Drawing Early-Bird Tickets".
"""

from .mask_detector import MaskEBDetector, bn_channel_mask, mask_distance
from .spline_detector import (
    CodeRecorder,
    SplineEBDetector,
    canvas,
    code_set_distance,
    distance_matrix,
    load_code_sets,
    probe_codes,
)

__all__ = [
    "bn_channel_mask",
    "canvas",
    "code_set_distance",
    "CodeRecorder",
    "distance_matrix",
    "load_code_sets",
    "mask_distance",
    "MaskEBDetector",
    "probe_codes",
    "SplineEBDetector",
]
