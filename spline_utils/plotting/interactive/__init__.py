"""Figures the reader can move: live widgets for a kernel, scrubbers for the static page.

Each figure comes three ways: a widget (ipywidgets: controls and an output that redraws; needs a
running kernel, e.g. Jupyter or Colab), the frozen figure of one setting (for print and for the
notebook's checked output), and a :class:`~.shared.Scrubber` -- the figure precomputed over a
set of settings, with a slider that works in the static HTML page without kernel or network.

* :mod:`.shared`            -- :func:`~.shared.scrubber` (frames -> self-contained HTML with a
  slider) and the widgets' plumbing;
* :mod:`.toy_pruning`       -- Chapter 2: prune first-layer units of the toy network; the
  partition, the changed per-region maps and the layer-2 splines that lost or gained bends;
* :mod:`.fcnet_pruning`     -- Chapter 3: the FCNet pruned at a ratio by a node-pruning rule;
  decision boundary, turning points, supplying splines, accuracy without fine-tuning;
* :mod:`.early_bird_epochs` -- Chapter 4: a recorded run epoch by epoch; first-layer splines on
  the canvas and the code distance matrix with both early-bird rules' windows and firing epochs;
* :mod:`.layer_widths`      -- Chapter 5: the width each layer keeps under each pruning rule.

Importing this package needs matplotlib only; ipywidgets is imported when a widget is built.
"""

from .early_bird_epochs import (
    EarlyBirdEpoch,
    early_bird_data,
    early_bird_figure,
    early_bird_scrubber,
    early_bird_widget,
)
from .fcnet_pruning import (
    FCNET_CRITERIA,
    FCNET_RATIOS,
    FCNetPruning,
    fcnet_accuracy_curves,
    fcnet_pruning_data,
    fcnet_pruning_figure,
    fcnet_pruning_scrubber,
    fcnet_pruning_widget,
)
from .layer_widths import (
    WIDTH_RATIOS,
    LayerWidths,
    layer_widths_data,
    layer_widths_figure,
    layer_widths_scrubber,
    layer_widths_widget,
    recorded_widths,
    slimming_widths,
)
from .shared import Scrubber, figure_image, live_figure, scrubber
from .toy_pruning import (
    ToyPruning,
    toy_pruning_data,
    toy_pruning_figure,
    toy_pruning_scrubber,
    toy_pruning_widget,
)

__all__ = [
    "EarlyBirdEpoch",
    "FCNET_CRITERIA",
    "FCNET_RATIOS",
    "FCNetPruning",
    "LayerWidths",
    "Scrubber",
    "ToyPruning",
    "WIDTH_RATIOS",
    "early_bird_data",
    "early_bird_figure",
    "early_bird_scrubber",
    "early_bird_widget",
    "fcnet_accuracy_curves",
    "fcnet_pruning_data",
    "fcnet_pruning_figure",
    "fcnet_pruning_scrubber",
    "fcnet_pruning_widget",
    "figure_image",
    "layer_widths_data",
    "layer_widths_figure",
    "layer_widths_scrubber",
    "layer_widths_widget",
    "live_figure",
    "recorded_widths",
    "scrubber",
    "slimming_widths",
    "toy_pruning_data",
    "toy_pruning_figure",
    "toy_pruning_scrubber",
    "toy_pruning_widget",
]
