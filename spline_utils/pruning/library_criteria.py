"""Two criteria of the Torch-Pruning library, used as a library, in the book's registry.

Torch-Pruning (Fang et al., 2023, "DepGraph") scores a channel by the whole *group* of parameters
that removing it would remove: the conv filter, its BatchNorm entries and the next layer's input
channel, found by tracing the network into a dependency graph. The book asks it for one score per
channel of each prunable layer and then selects and removes channels with its own
:func:`~spline_utils.pruning.criteria.select_units` and
:func:`~spline_utils.pruning.physical.remove_units`, exactly as for every other criterion, so a
comparison of criteria changes the score and nothing else.

=====================  =================================================================
name                   Torch-Pruning importance
=====================  =================================================================
``tp-group-l1``        ``GroupMagnitudeImportance(p=1)``: the L1 norm of the channel's
                       group, averaged over the group's layers
``tp-taylor``          ``GroupTaylorImportance``: first-order Taylor estimate ``|w * dL/dw|``
                       of the loss change, from the gradient on a batch of training data
                       (Molchanov et al., 2019)
=====================  =================================================================

Both need a batch of training data, ``data=(x, y)``: the example that traces the graph, and for
the Taylor criterion the batch whose loss is differentiated (in eval mode, on a copy of the model).
The graph is built by :meth:`TorchPruningCriterion.prepare`, once per call, and handed to the
layers as the call's state (the registered criterion keeps nothing between calls). Torch-Pruning
is imported only then: it is an optional dependency.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..checks import check_tensor
from .criterion import Criterion

__all__ = ["TorchPruningCriterion"]


class TorchPruningCriterion(Criterion):
    """A Torch-Pruning importance as a book criterion (module doc).

    Args:
        kind: ``"group-l1"`` or ``"taylor"``.
    """

    needs_data = True

    def __init__(self, kind: str):
        if kind not in ("group-l1", "taylor"):
            raise ValueError(f"kind must be 'group-l1' or 'taylor', got {kind!r}")
        self.kind = kind
        self.name = f"tp-{kind}"
        self.paper_name = (
            "group L1 magnitude of Torch-Pruning / DepGraph (Fang et al., 2023)"
            if kind == "group-l1"
            else "group first-order Taylor importance (Molchanov et al., 2019), by Torch-Pruning"
        )

    def prepare(self, model: nn.Module, data=None, *, seed=0, mask=None):
        """The dependency graph and importance of a copy of ``model``, and the copy's modules
        by name; for the Taylor criterion, the copy holds the loss gradient of ``data``."""
        try:
            import torch_pruning as tp  # an optional dependency: imported when used
        except ImportError as err:
            raise ImportError(
                f"criterion {self.name!r} uses the Torch-Pruning library: pip install torch-pruning"
            ) from err
        x, y = data
        x = check_tensor("data[0]", x)
        y = check_tensor("data[1]", y)
        if len(x) != len(y) or len(x) == 0:
            raise ValueError(
                f"data must be a non-empty batch (x, y) of equal lengths, got {len(x)}, {len(y)}"
            )
        work = copy.deepcopy(model).eval()
        device = next(work.parameters()).device
        x, y = x.to(device), y.to(device)
        graph = tp.DependencyGraph().build_dependency(work, example_inputs=x[:2])
        if self.kind == "taylor":
            work.zero_grad()
            F.cross_entropy(work(x), y).backward()
            importance = tp.importance.GroupTaylorImportance(normalizer=None)
        else:
            importance = tp.importance.GroupMagnitudeImportance(p=1, normalizer=None)
        return tp, graph, importance, dict(work.named_modules())

    def layer_scores(self, layer, state):
        tp, graph, importance, modules = state
        module = modules[layer.name]
        units = module.weight.shape[0]
        prune = (
            tp.prune_conv_out_channels
            if isinstance(module, nn.Conv2d)
            else tp.prune_linear_out_channels
        )
        group = graph.get_pruning_group(module, prune, idxs=list(range(units)))
        with torch.no_grad():
            scores = importance(group)
        if scores is None or scores.numel() != units:
            raise ValueError(f"Torch-Pruning gave no score per channel for layer {layer.name!r}")
        return np.asarray(scores.detach().double().cpu().numpy())
