"""Pruning in the spline view (Chapters 2, 3 and 5).

* :mod:`.masks`    -- the masks ``Q_W``, ``q_b`` of unit and weight pruning, applied to model copies;
* :mod:`.criteria` -- the pruning criteria: score objects in one registry (its module doc
  tabulates every name), and network slimming's global selection;
* :mod:`.selection` -- from scores to pruned units, layerwise or global; widths rounded to a
  multiple;
* :mod:`.spline_policy` -- the score of the spline policy (Chapter 5), the ``spline`` criterion;
* :mod:`.merging`  -- node pruning of one MLP layer: ``spline-merge`` / ``spline-delete`` by the
  spline redundancy bounds (Chapter 3), or deletion by any registry criterion;
* :mod:`.physical` -- physical removal of pruned units (a genuinely smaller model);
* :mod:`.costs`    -- parameters, FLOPs and measured throughput.
"""

from .costs import count_flops, count_parameters, throughput, training_flops
from .criteria import (
    CRITERIA,
    Criterion,
    get_criterion,
    register_criterion,
    round_widths,
    select_units,
    slimming_units,
    unit_scores,
)
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
    SPLINE_RULES,
    UnitPruning,
    delete_units,
    input_radius,
    merge_bound,
    merge_units,
    node_criteria,
    prune_units,
    redundancy_bounds,
    remove_pruned_units,
    spline_merge_pruning,
)
from .physical import remove_units

__all__ = [
    "apply_mask",
    "count_flops",
    "count_parameters",
    "CRITERIA",
    "Criterion",
    "delete_units",
    "enforce_mask_",
    "full_mask",
    "get_criterion",
    "input_radius",
    "magnitude_weight_mask",
    "merge_bound",
    "merge_units",
    "node_criteria",
    "prune_units",
    "PruningMask",
    "redundancy_bounds",
    "register_criterion",
    "remove_pruned_units",
    "remove_units",
    "round_widths",
    "select_units",
    "slimming_units",
    "SPLINE_RULES",
    "spline_merge_pruning",
    "throughput",
    "training_flops",
    "unit_mask",
    "unit_scores",
    "UnitPruning",
    "weight_mask",
]
