"""An interactive partition explorer (ipywidgets): width, depth and the layer shown.

Widgets need a running kernel; in the static HTML book, pair it with
:func:`explorer_figure` at the setting worth showing.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from ..checks import check_choice, check_int
from ..networks.models import he_init_, make_mlp
from ..partition.exact import exact_partition
from ..partition.grid import grid_partition
from .figures import plot_exact, plot_partition


def explorer_figure(
    width: int = 8,
    depth: int = 3,
    layer: int = 3,
    seed: int = 0,
    domain=(-2.0, 2.0, -2.0, 2.0),
    method: str = "exact",
    resolution: int = 250,
    ax=None,
):
    """Partition of a He-initialised ReLU MLP ``2 -> width x depth -> 1`` after layers 1..layer.

    Biases are drawn from N(0, 0.5^2) so splines do not all pass through the origin.
    ``method`` is ``"exact"`` (polygons) or ``"grid"`` (``resolution`` points per axis). Draws
    into ``ax`` (a new figure when ``None``) and returns the axes.
    """
    width, depth = check_int("width", width, 1), check_int("depth", depth, 1)
    layer = check_int("layer", layer)
    if not 1 <= layer <= depth:
        raise ValueError(f"layer must be in [1, depth={depth}], got {layer}")
    seed = check_int("seed", seed, 0)
    check_choice("method", method, ("exact", "grid"))
    resolution = check_int("resolution", resolution, 2)
    model = make_mlp([2] + [width] * depth + [1])
    he_init_(model, bias_std=0.5, generator=torch.Generator().manual_seed(seed))
    if ax is None:
        _, ax = plt.subplots(figsize=(4.8, 4.8))
    name = f"2-{'-'.join([str(width)] * depth)}-1, layers 1-{layer}"
    if method == "exact":
        part = exact_partition(model, domain)
        count = len({r.tobytes() for r in part.code_rows(layer)})
        plot_exact(
            part, ax, upto=layer, show_decision=layer == depth, title=f"{name}: {count} regions"
        )
    elif method == "grid":
        part = grid_partition(model, domain, resolution)
        plot_partition(
            part,
            ax,
            upto=layer,
            show_decision=layer == depth,
            title=f"{name}: {part.n_regions(layer)} regions",
        )
    else:
        raise ValueError(f"method must be 'exact' or 'grid', got {method!r}")
    return ax


def partition_explorer(max_width: int = 32, max_depth: int = 5, seed: int = 0):
    """Sliders for width, depth and layer shown; redraws :func:`explorer_figure`."""
    import ipywidgets as widgets  # optional: only a live kernel draws widgets

    max_width, max_depth = (
        check_int("max_width", max_width, 1),
        check_int("max_depth", max_depth, 1),
    )
    seed = check_int("seed", seed, 0)
    width = widgets.IntSlider(value=8, min=1, max=max_width, description="width")
    depth = widgets.IntSlider(value=3, min=1, max=max_depth, description="depth")
    layer = widgets.IntSlider(value=3, min=1, max=3, description="layer shown")

    def follow_depth(change):
        layer.max = change["new"]
        layer.value = min(layer.value, change["new"])

    depth.observe(follow_depth, names="value")

    def draw(width, depth, layer):
        explorer_figure(width, depth, min(layer, depth), seed)
        plt.show()

    return widgets.interactive(draw, width=width, depth=depth, layer=layer)
