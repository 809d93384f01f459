"""Pruning in the spline view (Chapters 2, 3 and 5).

* :mod:`.masks`    -- the masks ``Q_W``, ``q_b`` of unit and weight pruning, applied to model copies;
* :mod:`.criteria` -- channel criteria as scores, one registry, layerwise / global selection;
* :mod:`.merging`  -- node pruning of MLP layers by spline redundancy: deleting or *merging* units;
* :mod:`.physical` -- physical removal of pruned units (a genuinely smaller model);
* :mod:`.costs`    -- parameters, FLOPs and measured throughput.
"""

from .costs import count_flops, count_parameters, throughput, training_flops
from .criteria import CRITERIA, round_widths, select_units, slimming_units, unit_scores
from .masks import (
    PruningMask,
    apply_mask,
    enforce_mask_,
    full_mask,
    magnitude_weight_mask,
    unit_mask,
    weight_mask,
)
from .merging import (
    UnitPruning,
    input_radius,
    merge_bound,
    merge_units,
    prune_units,
    redundancy_bounds,
    remove_pruned_units,
)
from .physical import remove_units

__all__ = [
    "apply_mask",
    "count_flops",
    "count_parameters",
    "CRITERIA",
    "enforce_mask_",
    "full_mask",
    "input_radius",
    "magnitude_weight_mask",
    "merge_bound",
    "merge_units",
    "prune_units",
    "PruningMask",
    "redundancy_bounds",
    "remove_pruned_units",
    "remove_units",
    "round_widths",
    "select_units",
    "slimming_units",
    "throughput",
    "training_flops",
    "unit_mask",
    "unit_scores",
    "UnitPruning",
    "weight_mask",
]
