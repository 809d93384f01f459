"""Early-bird tickets (Chapter 4): the spline detector and the mask-distance baseline.

* :mod:`.spline_detector` -- codes of a probe "canvas" drawn every epoch (once, for the detector
  and the code recorder together), their distances;
* :mod:`.mask_detector`   -- the BatchNorm channel masks of "Drawing Early-Bird Tickets";
* :mod:`.replay`          -- both detectors replayed from one training's records, for any
  window, threshold or variant;
* :mod:`.analysis`        -- detection as a controlled experiment over seeds, windows and
  thresholds, from the records of dense runs;
* :mod:`.payoff`          -- firing summaries at equal windows, training-FLOPs savings and
  tickets against pruning after training (paired, Holm-corrected);
* :mod:`.trajectory`      -- first-layer splines and region counts on the canvas, epoch by
  epoch (the paper's Fig. 4).
"""

from .analysis import (
    consecutive_distances,
    detection_epochs,
    normalised_matrix,
    training_record,
)
from .mask_detector import MaskEBDetector, bn_channel_mask, mask_distance
from .payoff import (
    firing_comparisons,
    firing_summary,
    payoff_table,
    rule_comparisons,
    ticket_comparisons,
)
from .replay import (
    GammaRecorder,
    earliest_possible_epoch,
    replay_mask_detector,
    replay_spline_detector,
)
from .spline_detector import (
    CodeRecorder,
    ProbeCodes,
    SplineEBDetector,
    canvas,
    code_set_distance,
    distance_matrix,
    load_code_sets,
    probe_codes,
)
from .trajectory import code_trajectory, unit_masks

__all__ = [
    "consecutive_distances",
    "detection_epochs",
    "normalised_matrix",
    "training_record",
    "GammaRecorder",
    "earliest_possible_epoch",
    "replay_mask_detector",
    "replay_spline_detector",
    "bn_channel_mask",
    "canvas",
    "code_set_distance",
    "CodeRecorder",
    "distance_matrix",
    "load_code_sets",
    "mask_distance",
    "MaskEBDetector",
    "probe_codes",
    "ProbeCodes",
    "SplineEBDetector",
    "code_trajectory",
    "unit_masks",
    "firing_comparisons",
    "firing_summary",
    "payoff_table",
    "rule_comparisons",
    "ticket_comparisons",
]
