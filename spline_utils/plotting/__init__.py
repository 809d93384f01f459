"""Figures (imports matplotlib): partitions, decision boundaries, results; the interactive explorer.

* :mod:`.figures`  -- Fig. 1a-style partitions, exact polygons, pruning results, code distances;
* :mod:`.explorer` -- the widget that redraws a partition for any width and depth.
"""

from .figures import (
    CLASS_COLORS,
    DECISION_COLOR,
    EARLIER_COLOR,
    FIG3_LAYER_COLORS,
    NEW_COLOR,
    OKABE_ITO,
    class_legend,
    draw_decision_boundary,
    draw_layer_splines,
    plot_code_distances,
    plot_decision,
    plot_exact,
    plot_layer_by_layer,
    plot_partition,
    plot_pruning_results,
    plot_slice,
    region_colormap,
    region_values,
)

__all__ = [
    "CLASS_COLORS",
    "class_legend",
    "DECISION_COLOR",
    "draw_decision_boundary",
    "draw_layer_splines",
    "EARLIER_COLOR",
    "FIG3_LAYER_COLORS",
    "NEW_COLOR",
    "OKABE_ITO",
    "plot_code_distances",
    "plot_decision",
    "plot_exact",
    "plot_layer_by_layer",
    "plot_partition",
    "plot_pruning_results",
    "plot_slice",
    "region_colormap",
    "region_values",
]
