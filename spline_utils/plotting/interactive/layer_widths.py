"""Chapter 5, interactive: the width each layer keeps under each pruning rule, at any ratio.

From the results files of one experiment (one data set, architecture and seed):

* network slimming (one global threshold on ``|gamma|``), at *any* ratio, from the dense run's
  recorded BatchNorm scales (``bn_gammas``, last epoch): the dense architecture is rebuilt from
  the run's config, given those scales, and pruned by the slimming rule itself
  (:func:`~spline_utils.pruning.criteria.slimming_units`, the rule the experiments prune by);
* every rule whose pruned runs recorded their ``widths`` (results files written since the
  widths were added), at the ratios it was run at;
* the layerwise reference: any layerwise criterion prunes ``round(ratio * units)`` units of
  every layer (:func:`~spline_utils.pruning.selection.select_units`, at least one kept).

Rules with the same widths share one line. :func:`layer_widths_data` computes one ratio,
:func:`layer_widths_figure` draws it (the frozen figure), :func:`layer_widths_widget` redraws
it live, :func:`layer_widths_scrubber` precomputes the ratios.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from ...checks import check_int
from ...experiments.config import ExperimentConfig
from ...experiments.protocols import build_model
from ...pruning.criteria import default_layers, slimming_units
from ...pruning.masks import check_ratio
from ...pruning.selection import select_units
from ...spline_view.model_walk import prunable_layers
from ..style import OKABE_ITO
from .shared import Scrubber, frames_of, live_figure

__all__ = [
    "LayerWidths",
    "WIDTH_RATIOS",
    "layer_widths_data",
    "layer_widths_figure",
    "layer_widths_scrubber",
    "layer_widths_widget",
    "recorded_widths",
    "slimming_widths",
]

#: the ratios of the slider (recorded ratios are added)
WIDTH_RATIOS = tuple(round(0.1 * k, 1) for k in range(1, 10))
REFERENCE = "layerwise rule"
SLIMMING = r"slimming (from the dense run's $|\gamma|$)"


@dataclass
class LayerWidths:
    """What :func:`layer_widths_figure` draws at one ratio.

    Attributes:
        ratio: the pruning ratio.
        layers: the prunable layers' names (those a BatchNorm follows), in order.
        units: their unpruned widths.
        reference: the width each keeps under a layerwise rule.
        widths: ``{rule: [width per layer]}`` for every rule known at this ratio: slimming
            (computed) and each rule with recorded widths at this ratio.
        recorded_ratios: ``{rule: [ratios]}`` of the recorded runs, every ratio.
        dataset, arch, seed: the experiment.
    """

    ratio: float
    layers: list
    units: list
    reference: list
    widths: dict
    recorded_ratios: dict
    dataset: str
    arch: str
    seed: int

    def groups(self) -> list[tuple[list[str], list[int]]]:
        """The rules with identical widths, merged: ``[(names, widths)]``, the layerwise
        reference first."""
        out = [([REFERENCE], list(self.reference))]
        for name, widths in self.widths.items():
            for names, same in out:
                if same == list(widths):
                    names.append(name)
                    break
            else:
                out.append(([name], list(widths)))
        return out

    def summary(self) -> str:
        kept = {n: sum(w) for n, w in self.widths.items()}
        parts = ", ".join(f"{n.split(' ')[0]} {k}" for n, k in kept.items())
        return (
            f"{self.ratio:.0%} pruned: channels kept of {sum(self.units)}: layerwise "
            f"{sum(self.reference)}, {parts}"
        )


def _dense_record(records: Sequence[dict], seed: int | None) -> dict:
    if isinstance(records, dict):
        records = [records]
    dense = [
        r
        for r in records
        if isinstance(r, dict) and r.get("run") == "dense" and (seed is None or r["seed"] == seed)
    ]
    if not dense:
        raise ValueError("records must hold a dense run's record (run 'dense', with bn_gammas)")
    if len(dense) > 1:
        seeds = sorted(r["seed"] for r in dense)
        raise ValueError(f"records hold dense runs of seeds {seeds}: pick one with seed=")
    if "bn_gammas" not in dense[0] or "config" not in dense[0]:
        raise ValueError("the dense record has no bn_gammas or config: it is not a results file")
    return dense[0]


def _dense_model(dense: dict):
    """The dense architecture of the run's config, with the recorded last-epoch ``|gamma|`` as
    its BatchNorm scales (the global random state is left as it was)."""

    state = random.getstate(), np.random.get_state(), torch.random.get_rng_state()  # noqa: NPY002
    try:
        # the class count shapes only the classifier, which no rule prunes
        model = build_model(ExperimentConfig(**dense["config"]), num_classes=10)
    finally:
        random.setstate(state[0])
        np.random.set_state(state[1])  # noqa: NPY002
        torch.random.set_rng_state(state[2])
    gammas = dense["bn_gammas"]
    last = int(np.argmax(gammas["epochs"]))
    values = np.asarray(gammas["values"][last], np.float32)
    bns = [
        (n, m) for n, m in model.named_modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))
    ]
    described = [(str(n), str(k), int(c)) for n, k, c in gammas["layers"]]
    if [(n, type(m).__name__, m.num_features) for n, m in bns] != described:
        raise ValueError(
            "the recorded BatchNorm layers do not match the architecture of the run's config"
        )
    start = 0
    with torch.no_grad():
        for _, bn in bns:
            bn.weight.copy_(torch.from_numpy(values[start : start + bn.num_features]))
            start += bn.num_features
    return model


def _slimming(model, ratio: float) -> dict:

    units = {n: m.weight.shape[0] for n, m in prunable_layers(model)}
    layers = default_layers(model)
    pruned = slimming_units(model, ratio, layers)
    return {n: units[n] - len(pruned[n]) for n in layers}


def slimming_widths(dense: dict, ratios: Sequence[float]) -> dict:
    """Network slimming's kept widths ``{ratio: {layer: width}}`` from a dense run's record,
    by :func:`~spline_utils.pruning.criteria.slimming_units` on its last recorded scales."""
    model = _dense_model(dense)
    return {float(r): _slimming(model, r) for r in ratios}


def recorded_widths(records: Sequence[dict], seed: int | None = None) -> dict:
    """The widths pruned runs recorded: ``{method: {ratio: {layer: width}}}`` (protocol-1
    runs, ``prune-<method>-p<NN>``, with a ``widths`` entry)."""
    out: dict = {}
    for r in records:
        if r.get("protocol") != "prune-finetune" or "widths" not in r:
            continue
        if seed is not None and r.get("seed") != seed:
            continue
        out.setdefault(r["method"], {})[round(float(r["ratio"]), 6)] = dict(r["widths"])
    return out


def layer_widths_data(
    records: Sequence[dict],
    ratio: float = 0.5,
    seed: int | None = None,
    cache: dict | None = None,
) -> LayerWidths:
    """Each layer's kept width at ``ratio`` under every rule available for one experiment.

    Args:
        records: the results records of one experiment (``load_records`` of its folder): its
            dense run (required) and any pruned runs.
        ratio: the pruning ratio, in (0, 1).
        seed: which experiment, when ``records`` hold several seeds.
        cache: a dict that keeps the rebuilt dense network and slimming's widths between
            calls with the same ``records`` (the widget's and the scrubber's).

    Returns:
        A :class:`LayerWidths`.

    Example:
        >>> from spline_utils.experiments.results_files import committed_results, load_records
        >>> from spline_utils.plotting.interactive import layer_widths_data
        >>> run = committed_results() / "cpu" / "fashion-mnist-vgg16-w0.125-seed0"
        >>> data = layer_widths_data(load_records(run), 0.5)
        >>> data.units[:4], data.reference[:4]  # unpruned, and kept by a layerwise rule
        ([8, 8, 16, 16], [4, 4, 8, 8])
        >>> sum(data.units) - sum(data.widths[SLIMMING])  # slimming: int(528 * 0.5) + 1 pruned
        265
    """

    ratio = round(check_ratio(ratio), 6)
    dense = _dense_record(records, seed)
    cache = {} if cache is None else cache
    if "model" not in cache:
        cache["model"] = _dense_model(dense)
        cache["units"] = {n: m.weight.shape[0] for n, m in prunable_layers(cache["model"])}
    if ratio not in cache:
        cache[ratio] = _slimming(cache["model"], ratio)
    slim = cache[ratio]
    layers = list(slim)
    units = [cache["units"][n] for n in layers]
    reference = select_units({n: np.zeros(u) for n, u in zip(layers, units)}, ratio)
    recorded = recorded_widths(records, dense["seed"])
    widths = {SLIMMING: [slim[n] for n in layers]}
    for method, by_ratio in recorded.items():
        if ratio in by_ratio and all(n in by_ratio[ratio] for n in layers):
            widths[f"{method} (recorded)"] = [int(by_ratio[ratio][n]) for n in layers]
    return LayerWidths(
        ratio=ratio,
        layers=layers,
        units=units,
        reference=[u - len(reference[n]) for n, u in zip(layers, units)],
        widths=widths,
        recorded_ratios={m: sorted(r) for m, r in recorded.items()},
        dataset=dense.get("dataset", ""),
        arch=dense.get("arch", ""),
        seed=int(dense["seed"]),
    )


def layer_widths_figure(
    records: Sequence[dict] | None = None,
    ratio: float = 0.5,
    data: LayerWidths | None = None,
    seed: int | None = None,
):
    """Per layer, the unpruned width (grey bars) and the width kept at ``ratio`` under each
    rule (lines), for one experiment's ``records`` (or ``data`` of :func:`layer_widths_data`).
    Returns the figure."""

    data = layer_widths_data(records, ratio, seed) if data is None else data
    fig, ax = plt.subplots(figsize=(7.6, 4.8), constrained_layout=True)
    x = np.arange(1, len(data.layers) + 1)
    ax.bar(x, data.units, width=0.75, color="#d9d9d9", label="unpruned width")
    colors = [
        OKABE_ITO[c]
        for c in ("blue", "vermillion", "bluish_green", "reddish_purple", "orange", "sky_blue")
    ]
    markers = "osD^vPX"
    for i, (names, widths) in enumerate(data.groups()):
        if i == 0:
            style = dict(color="black", ls="--", marker="_", ms=12, lw=1.4)
        else:
            style = dict(
                color=colors[(i - 1) % len(colors)],
                marker=markers[(i - 1) % 7],
                lw=1.6,
                ms=5,
                ls="-",
            )
        label = names[0] if i else f"{REFERENCE}: round(ratio x units) pruned per layer"
        if len(names) > 1:
            label += " = " + ", ".join(names[1:])
        ax.plot(x, widths, label=label, **style)
    ax.set(
        xticks=x,
        xlabel="prunable layer (1 = first convolution)",
        ylabel="channels kept",
        ylim=(0, max(data.units) * 1.08),
    )
    recorded = ", ".join(
        f"{m} at {', '.join(f'{r:.0%}' for r in rs)}" for m, rs in data.recorded_ratios.items()
    )
    ax.set_title(
        f"{data.arch}, {data.dataset}, seed {data.seed}: channels kept per layer at "
        f"{data.ratio:.0%} pruned\nrecorded widths: {recorded or 'none in these results files'}",
        fontsize=9,
    )
    fig.legend(loc="outside lower center", fontsize=8, frameon=False, ncol=1)
    return fig


def _ratios(records, seed, ratios) -> list[float]:
    recorded = recorded_widths(records, _dense_record(records, seed)["seed"])
    extra = {r for by_ratio in recorded.values() for r in by_ratio}
    return sorted({round(float(r), 6) for r in ratios} | extra)


def layer_widths_widget(
    records: Sequence[dict], seed: int | None = None, ratios: Sequence[float] = WIDTH_RATIOS
):
    """A ratio slider redrawing :func:`layer_widths_figure`. Returns an ``ipywidgets.VBox``
    (see :func:`~.shared.live_figure`; ``box.data`` is the :class:`LayerWidths` shown)."""
    import ipywidgets as widgets  # optional: only a live kernel draws widgets

    options = _ratios(records, seed, ratios)
    ratio = widgets.SelectionSlider(
        options=[(f"{r:.0%}", r) for r in options],
        value=min(options, key=lambda r: abs(r - 0.5)),
        description="pruned",
        continuous_update=False,
    )
    cache: dict = {}

    def compute(ratio: float) -> LayerWidths:
        return layer_widths_data(records, ratio, seed, cache=cache)

    def draw(data: LayerWidths):
        return layer_widths_figure(data=data), data.summary()

    return live_figure({"ratio": ratio}, [ratio], compute, draw)


def layer_widths_scrubber(
    records: Sequence[dict],
    seed: int | None = None,
    ratios: Sequence[float] = WIDTH_RATIOS,
    dpi: int = 90,
) -> Scrubber:
    """The static page's version: one frame per ratio (``ratios`` and every recorded one),
    starting at 50 % when present."""
    options = _ratios(records, seed, ratios)
    cache: dict = {}
    frames = frames_of(
        lambda r: layer_widths_figure(data=layer_widths_data(records, r, seed, cache=cache)),
        options,
        dpi=check_int("dpi", dpi, 10),
    )
    return Scrubber(
        frames,
        [f"{r:.0%} of the channels pruned" for r in options],
        title="Channels each layer keeps, by pruning rule",
        start=min(range(len(options)), key=lambda i: abs(options[i] - 0.5)),
        alt="channels kept per layer under each pruning rule",
    )
