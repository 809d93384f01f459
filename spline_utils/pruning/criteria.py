"""Pruning criteria: one registry of small objects that score units, and the selection step.

A *criterion* scores every unit (neuron, channel) of the layers it is given,
``{layer name: (units,) float64}``, higher = more important = kept longer; :func:`select_units`
turns scores into the units to prune, layerwise (the same ratio in every layer) or globally (one
threshold over scores normalised per layer), always keeping at least one unit per layer. Every
criterion is an object of a :class:`Criterion` subclass in the registry :data:`CRITERIA` (look
one up with :func:`get_criterion`, add one with :func:`register_criterion`), after the pattern
of Torch-Pruning's ``Importance`` objects and ``torch.nn.utils.prune``'s pruning methods.

=================  ================================  =================================  =======
name               scores unit ``k`` by              name in the literature             chapter
=================  ================================  =================================  =======
``random``         a seeded uniform number           random pruning (the control)       3, 5
``magnitude``      ``||w_k||_1``, its weights (the   L1-norm filter pruning (Li et      5, 6
                   whole filter of a conv)           al., 2017)
``magnitude-l2``   ``||w_k||_2``, its incoming row   neuron magnitude pruning of the    3, 5
                                                     authors' FCNet lottery-ticket
                                                     code (You et al., 2022)
``slimming``       ``|gamma_k|`` of the BatchNorm    network slimming (Liu et al.,      4, 5, 6
                   after the layer                   2017)
``spline``         the data's mean distance beyond   the spline pruning policy of this  5, 6
                   the unit's spline, times          book's Chapter 5, after You et
                   ``||v_k||``, discounted when a    al., 2022
                   more important unit's spline
                   nearly coincides
                   (:mod:`.spline_policy`)
``mask``           1 if a given mask keeps it, 0 if  a mask drawn earlier, e.g. an      --
                   it prunes it                      early-bird ticket (You et al.,
                                                     2020; Chapter 4)
=================  ================================  =================================  =======

All of these *delete* units: the selected units get zero masks (:mod:`.masks`) or are removed
(:mod:`.physical`), and nothing else in the network changes. *Merging*, which rewrites the next
layer's weights so that a kept unit takes over a deleted one's output, is not a score: it is the
node-pruning rule ``spline-merge`` of :mod:`.merging` (Chapter 3), beside ``spline-delete``.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .._validate import (
    check_choice,
    check_int,
    check_model_finite,
)
from ..spline_view.model_walk import following_batchnorm, prunable_layers
from .masks import PruningMask, check_ratio
from .selection import eb_threshold, round_widths, select_units
from .spline_policy import outgoing_norms, spline_scores

__all__ = [
    "CRITERIA",
    "Criterion",
    "FromMask",
    "Magnitude",
    "Random",
    "RESERVED_NAMES",
    "Slimming",
    "SplinePolicy",
    "default_layers",
    "get_criterion",
    "outgoing_norms",  # the spline policy's pieces, defined in spline_policy.py
    "register_criterion",
    "round_widths",  # the selection step, defined in selection.py
    "select_units",
    "slimming_units",
    "spline_scores",
    "unit_scores",
]

#: the names of :mod:`.merging`'s node-pruning rules (its ``SPLINE_RULES``): no registered
#: criterion may take them
RESERVED_NAMES = ("spline-merge", "spline-delete", "spline-merge-picks")


class Criterion(abc.ABC):
    """A pruning criterion: scores the units of the layers it is given (higher = kept longer).

    A subclass sets ``name`` (its registry key), ``paper_name`` (its name in the literature,
    with a reference) and a docstring, and implements :meth:`layer_scores`; :meth:`scores`
    checks the arguments and calls it for every layer. ``needs_batchnorm``: it reads the
    BatchNorm after each layer; ``needs_mask``: it scores a given :class:`~.masks.PruningMask`.
    """

    name: str = ""
    paper_name: str = ""
    needs_batchnorm: bool = False
    needs_mask: bool = False
    needs_data: bool = False

    def scores(
        self,
        model: nn.Module,
        layers: Sequence[str] | None = None,
        *,
        seed: int = 0,
        mask: PruningMask | None = None,
        data: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> dict[str, np.ndarray]:
        """``{layer: (units,) float64}`` for ``layers`` (default: :func:`default_layers`).
        ``seed`` seeds random criteria; ``mask`` is given exactly when ``needs_mask``;
        ``data``, a batch ``(x, y)`` of training inputs and labels, when ``needs_data``."""
        if self.needs_data and data is None:
            raise ValueError(
                f"criterion {self.name!r} needs data=(x, y): a batch of training inputs and labels"
            )
        if self.needs_mask != (mask is not None):
            names = " or ".join(repr(n) for n, c in CRITERIA.items() if c.needs_mask)
            raise ValueError(
                f"pass mask=... exactly when the criterion is {names}; "
                f"criterion {self.name!r} {'needs a mask' if self.needs_mask else 'takes none'}"
            )
        if mask is not None and not isinstance(mask, PruningMask):
            raise TypeError(f"mask must be a PruningMask, got {type(mask).__name__}")
        seed = check_int("seed", seed, 0)
        layers = _checked_layers(model, layers)
        check_model_finite(model)  # NaN weights or BN statistics would give NaN scores
        modules = dict(prunable_layers(model))
        rng = self.random_state(seed)
        return {
            name: np.asarray(
                self.layer_scores(model, name, modules[name], rng=rng, mask=mask), np.float64
            )
            for name in layers
        }

    def random_state(self, seed: int):
        """The random state shared by one call's layers (``None`` for deterministic criteria)."""
        return None

    @abc.abstractmethod
    def layer_scores(self, model: nn.Module, name: str, layer: nn.Module, *, rng, mask):
        """Scores (units,) of prunable layer ``name`` (the module ``layer``) of ``model``."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}: {self.paper_name})"


class Random(Criterion):
    """A seeded uniformly random score per unit: the control every criterion must beat.

    ``generator="numpy"`` (the registry's): ``numpy.random.default_rng(seed).random(units)``,
    one stream over the layers in order. ``generator="torch"``: the rank of each unit in
    ``torch.randperm(units)`` drawn from ``torch.Generator().manual_seed(seed)``, divided by
    ``units``, so the lowest ``n`` scores are ``randperm[:n]``: the node-pruning draw of the
    FCNet study (:func:`~spline_utils.pruning.merging.delete_units`)."""

    name = "random"
    paper_name = "random pruning (a seeded uniform choice; the control baseline)"

    def __init__(self, generator: str = "numpy"):
        self.generator = check_choice("generator", generator, ("numpy", "torch"))

    def random_state(self, seed: int):
        if self.generator == "torch":
            return torch.Generator().manual_seed(seed)
        return np.random.default_rng(seed)

    def layer_scores(self, model, name, layer, *, rng, mask):
        units = layer.weight.shape[0]
        if self.generator == "numpy":
            return rng.random(units)
        scores = np.empty(units)
        scores[torch.randperm(units, generator=rng).numpy()] = np.arange(units) / units
        return scores


class Magnitude(Criterion):
    """The norm of each unit's weights: its row of a Linear, its whole filter of a Conv2d
    (``ord=1``: L1, the registry's ``magnitude``; ``ord=2``: L2, ``magnitude-l2``)."""

    def __init__(self, ord: int = 1):
        if isinstance(ord, bool) or ord not in (1, 2):
            raise ValueError(f"ord must be 1 or 2, got {ord!r}")
        self.ord = int(ord)
        self.name = "magnitude" if self.ord == 1 else "magnitude-l2"
        self.paper_name = (
            "L1-norm filter pruning (Li et al., 2017)"
            if self.ord == 1
            else "neuron magnitude pruning by the L2 norm of incoming weights, as in the "
            "authors' FCNet lottery-ticket code (You et al., 2022)"
        )

    def layer_scores(self, model, name, layer, *, rng, mask):
        weight = layer.weight.detach().to(torch.float64)
        rows = weight.reshape(weight.shape[0], -1)
        return (rows.abs().sum(1) if self.ord == 1 else rows.norm(dim=1)).cpu().numpy()


class Slimming(Criterion):
    """``|gamma_k|`` of the BatchNorm after the layer: network slimming's score, and the early-bird
    ticket's (:func:`slimming_units` is its global selection)."""

    name = "slimming"
    paper_name = "network slimming (Liu et al., 2017)"
    needs_batchnorm = True

    def layer_scores(self, model, name, layer, *, rng, mask):
        bn = following_batchnorm(model).get(name)
        if bn is None:
            raise ValueError(f"network slimming needs a BatchNorm after layer {name!r}")
        if bn.weight is None:
            raise ValueError(
                f"network slimming ranks the scales gamma of the BatchNorm after layer {name!r}, "
                "but that BatchNorm has no learnable scale (affine=False): there is no gamma to rank"
            )
        return bn.weight.detach().abs().to(torch.float64).cpu().numpy()


class SplinePolicy(Criterion):
    """This book's spline policy (Chapter 5; module doc): how far the data reach beyond each
    unit's spline, times how strongly the next layer reads the unit, discounted for near
    duplicates. Needs an affine BatchNorm after the layer (:func:`spline_scores`)."""

    name = "spline"
    paper_name = "the spline pruning policy of this book's Chapter 5, after You et al., 2022"
    needs_batchnorm = True

    def __init__(self, near: float = 0.1):
        self.near = float(near)  # the redundancy discount's reach (:func:`spline_scores`)

    def layer_scores(self, model, name, layer, *, rng, mask):
        return spline_scores(model, name, self.near)


class FromMask(Criterion):
    """Score 1 for the units a given mask keeps, 0 for those it prunes: applies a mask drawn
    earlier (an early-bird ticket, Chapter 4) to this model."""

    name = "mask"
    paper_name = "an early-bird ticket's mask (You et al., 2020), or any mask drawn earlier"
    needs_mask = True

    def layer_scores(self, model, name, layer, *, rng, mask):
        shape = layer.weight.shape
        if name not in mask.weight or mask.weight[name].shape != shape:
            raise ValueError(f"the mask has no entry of shape {tuple(shape)} for layer {name!r}")
        scores = np.ones(shape[0])
        scores[mask.pruned_units(name)] = 0.0
        return scores


#: The registry of criteria, name -> criterion (the table of the module doc).
CRITERIA: dict[str, Criterion] = {}


def register_criterion(criterion: Criterion, replace: bool = False) -> Criterion:
    """Add ``criterion`` to :data:`CRITERIA` under ``criterion.name`` and return it; a name
    already taken is refused unless ``replace=True``."""
    if not isinstance(criterion, Criterion):
        raise TypeError(f"criterion must be a Criterion instance, got {type(criterion).__name__}")
    name = criterion.name
    if not isinstance(name, str) or not name or name in RESERVED_NAMES:
        raise ValueError(
            f"a criterion's name must be a non-empty string other than {RESERVED_NAMES} "
            f"(node-pruning rules of merging.py), got {name!r}"
        )
    if name in CRITERIA and not replace:
        raise ValueError(f"criterion {name!r} is registered already: pass replace=True")
    CRITERIA[name] = criterion
    return criterion


for _criterion in (Random(), Magnitude(1), Magnitude(2), Slimming(), SplinePolicy(), FromMask()):
    register_criterion(_criterion)


def get_criterion(criterion: str | Criterion) -> Criterion:
    """The registered criterion of that name (a :class:`Criterion` is returned as it is)."""
    if isinstance(criterion, Criterion):
        return criterion
    return CRITERIA[check_choice("criterion", criterion, tuple(CRITERIA))]


def default_layers(model: nn.Module) -> list[str]:
    """The layers pruning may shrink: every Linear / Conv2d followed by a BatchNorm in its own
    block (so the last classifier, and PreResNet convs that write to the residual stream, are
    left alone), or, in a model without BatchNorm, every Linear / Conv2d but the last."""
    bns = following_batchnorm(model)
    names = [n for n, _ in prunable_layers(model)]
    if bns:
        return [n for n in names if n in bns]
    return names[:-1]


def _checked_layers(model: nn.Module, layers) -> list[str]:
    if isinstance(layers, str):
        raise TypeError(f"layers must be a sequence of layer names, got the string {layers!r}")
    layers = default_layers(model) if layers is None else list(layers)
    modules = dict(prunable_layers(model))
    unknown = [n for n in layers if not isinstance(n, str) or n not in modules]
    if unknown:
        raise ValueError(f"unknown layers {unknown}: prunable layers are {sorted(modules)}")
    if not layers:
        raise ValueError("layers must name at least one prunable layer, got none")
    return layers


def unit_scores(
    model: nn.Module,
    criterion: str | Criterion,
    layers: Sequence[str] | None = None,
    seed: int = 0,
    mask: PruningMask | None = None,
    data: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> dict[str, np.ndarray]:
    """Importance scores of the units of ``layers`` by one criterion (higher = kept longer).

    A unit is an output feature of a Linear or an output channel of a Conv2d. The model is not
    changed (the criteria that read data work on a copy).

    Args:
        model: the network; its parameters and BatchNorm statistics must be finite.
        criterion: a name of :data:`CRITERIA` (the module doc's table) or a :class:`Criterion`.
        layers: qualified names of prunable layers (Linear / Conv2d) to score; default:
            :func:`default_layers` (each layer with a BatchNorm after it in its block, or, in a
            model without BatchNorm, every Linear / Conv2d but the last).
        seed: seeds the random criteria (``"random"``), an integer >= 0; the others ignore it.
        mask: the :class:`~spline_utils.pruning.masks.PruningMask` the ``"mask"`` criterion
            scores; given exactly when the criterion needs one.
        data: a batch ``(x, y)`` of training inputs, shape ``(N, *input_shape)``, and class
            labels, shape ``(N,)``, for the criteria that read data (the Torch-Pruning
            criteria of :mod:`.library_criteria`); the others ignore it.

    Returns:
        ``{layer name: scores}`` in the order of ``layers``, each a float64 array of shape
        ``(units,)``. Scores are unitless and on each criterion's own scale (an L1 norm of
        weights, a ``|gamma|``, a 0 / 1 flag, ...): compare them within one criterion only.

    Raises:
        ValueError: an unknown criterion or layer, no layers, ``mask`` given to a criterion
            that takes none (or missing for ``"mask"``), ``data`` missing for a criterion that
            needs it, no BatchNorm after a layer for a criterion that reads one, or parameters
            that are not finite.
        TypeError: ``layers`` is a single string, or ``mask`` is not a ``PruningMask``.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> net = su.make_mlp([2, 6, 6, 1])
        >>> scores = unit_scores(net, "magnitude")  # layers "0" and "2": all Linears but the last
        >>> {name: (s.shape, s.dtype) for name, s in scores.items()}
        {'0': ((6,), dtype('float64')), '2': ((6,), dtype('float64'))}
        >>> np.allclose(scores["0"], net[0].weight.detach().abs().sum(1).numpy())  # L1 of rows
        True
    """
    return get_criterion(criterion).scores(model, layers, seed=seed, mask=mask, data=data)


def slimming_units(
    model: nn.Module, ratio: float, layers: Sequence[str] | None = None
) -> dict[str, list[int]]:
    """Network slimming's selection (also the EB paper's mask): one global threshold on the raw
    ``|gamma|`` of the BatchNorms after ``layers`` (default: :func:`default_layers`), the value at
    index ``int(total * ratio)`` of the ascending sort; channels with ``|gamma|`` strictly above
    it are kept. Every layer keeps at least one channel (its largest ``|gamma|``); ``ratio=0``
    prunes nothing. Returns ``{layer name: pruned channel indices}``.

    The early-bird paper's rule is kept deliberately, ties included
    (:func:`~spline_utils.pruning.selection.eb_threshold`): with distinct ``|gamma|`` it prunes
    ``int(total * ratio) + 1`` channels, but every channel tied at the threshold is pruned too,
    so tied scales (an untrained network's are all 1) can prune far more than ``ratio``; a
    :class:`~spline_utils.pruning.selection.TiedThresholdWarning` says so when the ties add
    more than one channel per layer. For an exact count use
    :func:`~spline_utils.pruning.selection.select_units`."""
    ratio = check_ratio(ratio)
    scores = unit_scores(model, "slimming", layers)
    if ratio == 0.0:
        return {name: [] for name in scores}
    flat = np.concatenate(list(scores.values()))
    threshold = eb_threshold(flat, ratio, len(scores), "|gamma|")
    pruned = {}
    for name, s in scores.items():
        below = np.nonzero(s <= threshold)[0]
        if len(below) >= len(s):
            below = np.delete(np.arange(len(s)), int(np.argmax(s)))
        pruned[name] = sorted(int(i) for i in below)
    return pruned


from . import library_criteria  # noqa: E402, F401  (registers the Torch-Pruning criteria)
