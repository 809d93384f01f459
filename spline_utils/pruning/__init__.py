"""Pruning in the spline view (Chapters 2, 3 and 5).

* :mod:`.masks`    -- the masks ``Q_W``, ``q_b`` of unit and weight pruning, applied to model copies;
* :mod:`.methods`  -- the one registry of pruning methods: every criterion, selection, merge rule
  and early-bird detector by name, kind and chapter (its table lists them all);
* :mod:`.criterion` -- what a criterion is (``prepare``, ``layer_scores``) and the book's own;
  :mod:`.library_criteria` -- Torch-Pruning's, through the same protocol;
* :mod:`.criteria` -- scores of units by a criterion's name, and network slimming's global
  selection;
* :mod:`.selection` -- from scores to pruned units, layerwise or global; widths rounded to a
  multiple;
* :mod:`.spline_policy` -- the score of the spline policy (Chapter 5), the ``spline`` criterion;
* :mod:`.merging`  -- node pruning of one MLP layer: ``spline-merge`` / ``spline-delete`` by the
  spline redundancy bounds (Chapter 3), or deletion by any registry criterion;
* :mod:`.physical` -- physical removal of pruned units (a genuinely smaller model);
* :mod:`.costs`    -- parameters, FLOPs and measured throughput.

Each takes a model or its :class:`~spline_utils.spline_view.structure.NetworkStructure`, whose
layers, BatchNorms and pruning edges every step reads (no step knows an architecture's class).
"""

from . import costs, criteria, masks, methods, physical
from .costs import count_flops, count_parameters, throughput, training_flops
from .criteria import slimming_units, unit_scores
from .criterion import Criterion, default_layers
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
    prune_units,
    redundancy_bounds,
    remove_pruned_units,
    spline_merge_pruning,
)
from .methods import (
    CRITERIA,
    DETECTORS,
    EB_RULES,
    MERGE_RULES,
    METHODS,
    PruningMethod,
    get_criterion,
    get_method,
    methods_of,
    node_criteria,
    register_criterion,
)
from .physical import remove_units
from .selection import round_widths, select_units

__all__ = [
    "costs",
    "criteria",
    "masks",
    "methods",
    "physical",
    "apply_mask",
    "count_flops",
    "count_parameters",
    "CRITERIA",
    "Criterion",
    "default_layers",
    "delete_units",
    "DETECTORS",
    "EB_RULES",
    "enforce_mask_",
    "full_mask",
    "get_criterion",
    "get_method",
    "input_radius",
    "magnitude_weight_mask",
    "MERGE_RULES",
    "merge_bound",
    "merge_units",
    "METHODS",
    "methods_of",
    "node_criteria",
    "prune_units",
    "PruningMask",
    "PruningMethod",
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
