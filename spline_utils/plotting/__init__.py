"""Figures (imports matplotlib): partitions, decision boundaries, results; the interactive explorer.

* :mod:`.style`           -- palettes (Okabe-Ito, class and layer colours), region colours, legend;
* :mod:`.grid_figures`    -- grid partitions: Fig. 1a-style splines, regions, decision boundaries;
* :mod:`.exact_figures`   -- exact partitions: regions as polygons coloured by region, class, slope;
* :mod:`.figures`         -- layer-by-layer panels and one-call slices, for either kind of partition
  (and every name of the modules above);
* :mod:`.results_figures` -- pruning results (accuracy vs ratio and cost), code distances (Fig. 5);
* :mod:`.explorer`        -- the widget that redraws a partition for any width and depth;
* ``interactive``         -- figures the reader can move (Chapters 2-5): a live widget, the
  frozen figure and a static scrubber each (imported on first use: ``plotting.interactive``).
"""

from .exact_figures import plot_exact, region_values
from .figures import plot_layer_by_layer, plot_slice
from .grid_figures import draw_decision_boundary, draw_layer_splines, plot_decision, plot_partition
from .results_figures import plot_code_distances, plot_pruning_results
from .style import (
    CLASS_COLORS,
    DECISION_COLOR,
    EARLIER_COLOR,
    FIG3_LAYER_COLORS,
    NEW_COLOR,
    OKABE_ITO,
    class_legend,
    region_colormap,
)

__all__ = [
    "explorer",
    "interactive",
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
