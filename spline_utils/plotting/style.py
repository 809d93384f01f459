"""The figures' shared style: colour palettes, region colours, the class legend, axes labels.

Colours come from the Okabe-Ito palette (``OKABE_ITO``), class colours from Paul Tol's "muted"
one (:data:`CLASS_COLORS`); both stay distinguishable under the common colour-vision
deficiencies. In the style of the paper's Fig. 1a, the splines a layer adds are drawn dark
(``NEW_COLOR``) over the splines of earlier layers in grey (``EARLIER_COLOR``), the decision
boundary in vermillion (``DECISION_COLOR``); :data:`FIG3_LAYER_COLORS` gives each layer its own
colour instead (the paper's Fig. 3).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap

from ..checks import check_int


def check_part(part, kinds, name: str = "part"):
    """``part`` when it is an instance of ``kinds`` (a class or a tuple of classes); a
    ``TypeError`` naming them otherwise."""
    if not isinstance(part, kinds):
        names = " or ".join(k.__name__ for k in (kinds if isinstance(kinds, tuple) else (kinds,)))
        raise TypeError(f"{name} must be a {names}, got {type(part).__name__}")
    return part


OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
DECISION_COLOR = OKABE_ITO["vermillion"]
EARLIER_COLOR = "#9a9a9a"
NEW_COLOR = "#1a1a1a"
#: Class colours, Paul Tol's colour-blind-safe "muted" palette (9 hues) and his light orange
CLASS_COLORS = (
    "#88CCEE",
    "#DDCC77",
    "#117733",
    "#CC6677",
    "#332288",
    "#AA4499",
    "#44AA99",
    "#999933",
    "#882255",
    "#EE8866",  # Tol's light orange: not the grey of the splines (his muted palette has 9 hues)
)
#: layer colours of the paper's Fig. 3 (blue, green; decision boundary red), colour-blind safe
FIG3_LAYER_COLORS = (
    OKABE_ITO["blue"],
    OKABE_ITO["bluish_green"],
    OKABE_ITO["reddish_purple"],
    OKABE_ITO["orange"],
)


def region_colormap(n_regions: int, seed: int = 0) -> ListedColormap:
    """A light qualitative colormap with ``n_regions`` entries, shuffled so that neighbouring
    region indices rarely share a colour."""
    n_regions = check_int("n_regions", n_regions, 0)
    seed = check_int("seed", seed, 0)
    base = plt.get_cmap("tab20")(np.arange(20))
    base[:, :3] = 0.55 * base[:, :3] + 0.45  # lighten so lines stay readable
    order = np.random.default_rng(seed).permutation(max(n_regions, 1))
    return ListedColormap(base[order % 20])


def class_legend(ax, classes, class_names=None, loc: str = "upper left") -> None:
    """A legend of the predicted classes present (``classes``: class indices), in the colours
    that :func:`~spline_utils.plotting.grid_figures.plot_decision` and
    ``plot_exact(color_by="class")`` tint them with."""
    classes = [int(c) for c in np.unique(np.asarray(classes))]
    handles = [
        plt.Rectangle((0, 0), 1, 1, color=CLASS_COLORS[c % len(CLASS_COLORS)], alpha=0.6)
        for c in classes
    ]
    names = [str(c) if class_names is None else str(class_names[c]) for c in classes]
    ax.legend(handles, [f"class {n}" for n in names], fontsize=7, loc=loc, framealpha=0.8)


def finish_axes(ax, part, extent, heading: str, show_anchors: bool) -> None:
    """Anchor stars (slices), limits, coordinate labels and a title that names the method."""
    if show_anchors and part.slice is not None:
        anchors = part.slice.anchors.numpy()
        ax.scatter(
            anchors[:, 0],
            anchors[:, 1],
            marker="*",
            s=120,
            c=OKABE_ITO["yellow"],
            edgecolors="k",
            zorder=5,
        )
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_aspect("equal", adjustable="box")  # angles between splines are drawn true
    coord = ("$u$", "$v$") if part.slice is not None else ("$x_1$", "$x_2$")
    ax.set_xlabel(coord[0])
    ax.set_ylabel(coord[1])
    ax.set_title(f"{heading}\n({part.method})", fontsize=9)
