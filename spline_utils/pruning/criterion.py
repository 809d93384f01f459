"""What a pruning criterion is, and the book's own criteria.

A *criterion* scores every unit (neuron, channel) of the layers it is given,
``{layer name: (units,) float64}``, higher = more important = kept longer. It is a small object
of a :class:`Criterion` subclass, after the pattern of Torch-Pruning's ``Importance`` objects and
``torch.nn.utils.prune``'s pruning methods, in two steps:

* :meth:`Criterion.prepare` -- the work one call shares between its layers (a random stream, a
  dependency graph, a checked mask), done once per call and *returned* as the call's state:
  one registered criterion object serves every call, so it stores nothing per call;
* :meth:`Criterion.layer_scores` -- the scores (units,) of one layer, given as a
  :class:`~spline_utils.spline_view.structure.PrunableLayer` (the module, the BatchNorm after it,
  the layer that reads it) and the call's state.

:meth:`Criterion.scores` checks the arguments and runs both. The criteria are named in the one
registry of pruning methods, :mod:`spline_utils.pruning.methods` (its table lists them all);
scores become pruned units in :mod:`.selection`.
"""

from __future__ import annotations

import abc
import inspect
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ..checks import check_choice, check_int
from ..spline_view.model_walk import structure_of
from ..spline_view.structure import NetworkStructure, PrunableLayer
from .masks import PruningMask
from .spline_policy import layer_spline_scores

__all__ = [
    "Criterion",
    "FromMask",
    "Magnitude",
    "Random",
    "Slimming",
    "SplinePolicy",
    "checked_layers",
    "default_layers",
]


class Criterion(abc.ABC):
    """A pruning criterion: scores the units of the layers it is given (higher = kept longer).

    A subclass sets ``name`` (its registry key), ``paper_name`` (its name in the literature,
    with a reference) and a docstring, implements :meth:`layer_scores`, and overrides
    :meth:`prepare` when its layers share work. ``needs_batchnorm``: it reads the BatchNorm
    after each layer; ``needs_mask``: it scores a given :class:`~.masks.PruningMask`;
    ``needs_data``: it reads a batch of training data.
    """

    name: str = ""
    paper_name: str = ""
    needs_batchnorm: bool = False
    needs_mask: bool = False
    needs_data: bool = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("layer_scores")
        if own is not None and {"model", "rng"} & set(inspect.signature(own).parameters):
            raise TypeError(
                f"{cls.__name__}.layer_scores has the old signature (model, name, layer, *, rng, "
                "mask): a criterion now scores layer_scores(self, layer, state), with layer a "
                "PrunableLayer (layer.name, layer.module, layer.batchnorm) and state what "
                "prepare(model, data, seed=..., mask=...) returned (a random stream: override "
                "prepare)"
            )

    def prepare(
        self,
        model: nn.Module,
        data: tuple[torch.Tensor, torch.Tensor] | None = None,
        *,
        seed: int = 0,
        mask: PruningMask | None = None,
    ):
        """The state one call of :meth:`scores` needs before scoring its layers, computed once
        per call and returned, never stored on the criterion. ``data``: a batch ``(x, y)`` of
        training inputs, shape ``(N, *input_shape)``, and labels ``(N,)``, or ``None``;
        ``seed``: an integer >= 0; ``mask``: the mask to score, or ``None``. Default: no state
        (``None``)."""
        return None

    @abc.abstractmethod
    def layer_scores(self, layer: PrunableLayer, state) -> np.ndarray:
        """Scores (units,) of one prunable layer (``layer.module``, its ``layer.batchnorm``,
        ``layer.consumer()``); ``state`` is what :meth:`prepare` returned for this call."""

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
        ``data``, a batch ``(x, y)`` of training inputs and labels, when ``needs_data``.
        ``model`` may be a :class:`~spline_utils.spline_view.structure.NetworkStructure`."""
        if self.needs_data and data is None:
            raise ValueError(
                f"criterion {self.name!r} needs data=(x, y): a batch of training inputs and labels"
            )
        if self.needs_mask != (mask is not None):
            raise ValueError(
                f"pass mask=... exactly when the criterion scores a given mask; criterion "
                f"{self.name!r} {'needs a mask' if self.needs_mask else 'takes none'}"
            )
        if mask is not None and not isinstance(mask, PruningMask):
            raise TypeError(f"mask must be a PruningMask, got {type(mask).__name__}")
        seed = check_int("seed", seed, 0)
        structure = structure_of(model)
        layers = checked_layers(structure, layers)
        structure.check_finite()  # NaN weights or BN statistics would give NaN scores
        state = self.prepare(structure.model, data, seed=seed, mask=mask)
        return {
            name: np.asarray(self.layer_scores(structure.prunable[name], state), np.float64)
            for name in layers
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}: {self.paper_name})"


def default_layers(model: nn.Module) -> list[str]:
    """The layers pruning may shrink: every Linear / Conv2d followed by a BatchNorm in its own
    block (so the last classifier, and PreResNet convs that write to the residual stream, are
    left alone), or, in a model without BatchNorm, every Linear / Conv2d but the last.
    ``model`` may be a :class:`~spline_utils.spline_view.structure.NetworkStructure`."""
    structure = structure_of(model)
    names = list(structure.prunable)
    bns = structure.batchnorms()
    if bns:
        return [n for n in names if n in bns]
    return names[:-1]


def checked_layers(structure: NetworkStructure, layers) -> list[str]:
    """``layers`` (names of prunable layers; ``None``: :func:`default_layers`) as a checked,
    non-empty list."""
    if isinstance(layers, str):
        raise TypeError(f"layers must be a sequence of layer names, got the string {layers!r}")
    layers = default_layers(structure) if layers is None else list(layers)
    unknown = [n for n in layers if not isinstance(n, str) or n not in structure.prunable]
    if unknown:
        raise ValueError(
            f"unknown layers {unknown}: prunable layers are {sorted(structure.prunable)}"
        )
    if not layers:
        raise ValueError("layers must name at least one prunable layer, got none")
    return layers


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

    def prepare(self, model, data=None, *, seed=0, mask=None):
        """The random stream shared by the call's layers, in order."""
        if self.generator == "torch":
            return torch.Generator().manual_seed(seed)
        return np.random.default_rng(seed)

    def layer_scores(self, layer, state):
        units = layer.units
        if self.generator == "numpy":
            return state.random(units)
        scores = np.empty(units)
        scores[torch.randperm(units, generator=state).numpy()] = np.arange(units) / units
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

    def layer_scores(self, layer, state):
        weight = layer.module.weight.detach().to(torch.float64)
        rows = weight.reshape(weight.shape[0], -1)
        return (rows.abs().sum(1) if self.ord == 1 else rows.norm(dim=1)).cpu().numpy()


class Slimming(Criterion):
    """``|gamma_k|`` of the BatchNorm after the layer: network slimming's score, and the
    early-bird ticket's (:func:`~spline_utils.pruning.criteria.slimming_units` is its global
    selection)."""

    name = "slimming"
    paper_name = "network slimming (Liu et al., 2017)"
    needs_batchnorm = True

    def layer_scores(self, layer, state):
        bn, name = layer.batchnorm, layer.name
        if bn is None:
            raise ValueError(f"network slimming needs a BatchNorm after layer {name!r}")
        if bn.weight is None:
            raise ValueError(
                f"network slimming ranks the scales gamma of the BatchNorm after layer {name!r}, "
                "but that BatchNorm has no learnable scale (affine=False): there is no gamma to rank"
            )
        return bn.weight.detach().abs().to(torch.float64).cpu().numpy()


class SplinePolicy(Criterion):
    """This book's spline policy (Chapter 5; :mod:`.spline_policy`): how far the data reach
    beyond each unit's spline, times how strongly the next layer reads the unit, discounted for
    near duplicates. Needs an affine BatchNorm after the layer
    (:func:`~.spline_policy.spline_scores`)."""

    name = "spline"
    paper_name = "the spline pruning policy of this book's Chapter 5, after You et al., 2022"
    needs_batchnorm = True

    def __init__(self, near: float = 0.1):
        self.near = float(near)  # the redundancy discount's reach (spline_scores)

    def layer_scores(self, layer, state):
        return layer_spline_scores(layer, self.near)


class FromMask(Criterion):
    """Score 1 for the units a given mask keeps, 0 for those it prunes: a mask drawn earlier
    (an early-bird ticket, Chapter 4) as scores. To prune a model by a mask, apply the mask
    itself (:meth:`~.masks.PruningMask.pruned` gives its units for
    :func:`~.physical.remove_units`): these scores only rank the units."""

    name = "mask"
    paper_name = "an early-bird ticket's mask (You et al., 2020), or any mask drawn earlier"
    needs_mask = True

    def prepare(self, model, data=None, *, seed=0, mask=None):
        """The mask itself."""
        return mask

    def layer_scores(self, layer, state):
        shape, name = layer.module.weight.shape, layer.name
        if name not in state.weight or state.weight[name].shape != shape:
            raise ValueError(f"the mask has no entry of shape {tuple(shape)} for layer {name!r}")
        scores = np.ones(shape[0])
        scores[state.pruned_units(name)] = 0.0
        return scores
