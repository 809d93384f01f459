"""Physical removal of pruned units: a genuinely smaller model, equal to the masked one.

Pruning with masks (:mod:`spline_utils.pruning.masks`) keeps the model's shapes, so it saves nothing at
run time. :func:`remove_units` builds a copy in which every pruned unit (output channel / row) of
a Linear or Conv2d is gone, together with its BatchNorm entries and the matching input channels
(or columns) of the layer that reads it. Supported, written out by hand:

* plain ``nn.Sequential`` models: MLPs, the digits ConvNet, VGG (ReLU, pooling and BatchNorm
  between layers; a ``Flatten`` maps a channel to its block of columns);
* :class:`~spline_utils.networks.models.PreResNet`: the internal convolutions of each block (``conv1``, and
  ``conv2`` in bottlenecks); the residual stream keeps its full width, as in network slimming.

Grouped and depthwise convolutions (``groups > 1``) are refused with a ``ValueError``, as
producers and as consumers: in the masked model a pruned channel that passes through a depthwise
convolution becomes that convolution's bias (a constant map, not zero), which no removal of
channels reproduces exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from ..checks import check_mapping, check_tensor, check_unit_indices
from ..spline_view.model_walk import module_tensor, structure_of
from ..spline_view.structure import NetworkStructure
from .masks import PruningMask

__all__ = ["consumer_name", "pruned_widths", "remove_units"]

_CHANNELWISE = (
    nn.ReLU,
    nn.LeakyReLU,
    nn.MaxPool2d,
    nn.AvgPool2d,
    nn.AdaptiveAvgPool2d,
    nn.Dropout,
    nn.Identity,
)


def remove_units(
    model: nn.Module,
    pruned: Mapping[str, Sequence[int]] | PruningMask,
    example: torch.Tensor,
) -> nn.Module:
    """A smaller copy of ``model`` without the ``pruned`` units ``{layer name: unit indices}``
    (or the units a :class:`~.masks.PruningMask` prunes, as they are).

    The copy computes what the masked model (``apply_mask(model, unit_mask(model, pruned))``)
    computes. ``example``: one input batch (its shape locates ``Flatten`` boundaries).
    Raises ``ValueError`` for an architecture or a layer this function does not handle.

    Each pruned output feature / channel of a Linear / Conv2d is removed with its BatchNorm
    entries (weight, bias, running mean and variance) and the matching input features /
    channels of the layer that reads it (a block of ``H * W`` columns after a ``Flatten``).
    ``model`` itself is not modified.

    Args:
        model: a plain ``nn.Sequential`` (MLP, digits ConvNet, VGG) or a model that describes
            its pruning edges, such as a :class:`~spline_utils.networks.models.PreResNet` (see
            the module doc); or its
            :class:`~spline_utils.spline_view.structure.NetworkStructure`.
        pruned: ``{layer name: unit indices}``: qualified names of prunable layers, each with
            integer indices in ``[0, units)``; every layer keeps at least one unit. A
            :class:`~.masks.PruningMask` (e.g. an early-bird ticket's) is applied directly:
            its pruned units (:meth:`~.masks.PruningMask.pruned`) go, with no selection.
        example: an input batch of shape ``(N, *input_shape)``, N >= 1 (zeros will do), on the
            model's device; only its shape matters.

    Returns:
        The smaller copy, of the same class, train / eval mode, device and dtype; a layer with
        ``k`` pruned units has ``k`` fewer outputs, the layer after it ``k`` fewer inputs.

    Raises:
        ValueError: an unknown layer, an index outside ``[0, units)``, a layer that would lose
            all its units, a grouped convolution (``groups > 1``), a layer or parameter used
            at more than one place (tied), an unsupported architecture, or an ``example`` that
            is not a finite, non-empty batch.
        TypeError: ``pruned`` is not a mapping, holds indices that are not integers, or
            ``example`` is not a tensor of real numbers.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> net = su.make_mlp([2, 6, 6, 1])
        >>> small = remove_units(net, {"0": [1, 4]}, torch.zeros(1, 2))
        >>> small[0], small[2]
        (Linear(in_features=2, out_features=4, bias=True), Linear(in_features=4, out_features=6, bias=True))
        >>> x = torch.randn(50, 2)
        >>> masked = su.apply_mask(net, su.unit_mask(net, {"0": [1, 4]}))
        >>> torch.allclose(small(x), masked(x), atol=1e-6)
        True
    """
    structure = structure_of(model)
    layers = {name: layer.module for name, layer in structure.prunable.items()}
    if isinstance(pruned, PruningMask):
        pruned = pruned.pruned()
    check_mapping("pruned", pruned)
    _check_untied(structure)
    unknown = sorted(set(pruned) - set(layers), key=str)
    if unknown:
        raise ValueError(f"unknown layers {unknown}: prunable layers are {sorted(layers)}")
    checked = {}
    for name, idx in pruned.items():
        units = layers[name].weight.shape[0]
        idx = check_unit_indices(f"pruned[{name!r}]", idx)  # integers, not bools or 1.7
        if any(not 0 <= i < units for i in idx):
            raise ValueError(
                f"pruned[{name!r}] must be unit indices in [0, {units}): layer {name!r} has "
                f"{units} units; got indices {sorted(idx)}"
            )
        if len(set(idx)) >= units:
            raise ValueError(f"layer {name!r} would lose all its {units} units: keep at least one")
        if idx and getattr(layers[name], "groups", 1) != 1:
            raise ValueError(
                f"layer {name!r} is a grouped convolution (groups={layers[name].groups}): "
                "physical removal cannot remove its output channels"
            )
        checked[name] = idx
    pruned = checked
    check_tensor("example", example, min_dim=2, non_empty=True)
    if structure.edges is not None:
        small = structure.copy()
        _remove_along_edges(small, pruned)
    elif type(structure.model) is nn.Sequential:
        blocks = _flatten_blocks(structure, example)  # read off the unmodified model
        small = structure.copy()
        _remove_sequential(small, pruned, blocks)
    else:
        raise ValueError(
            f"physical removal supports plain nn.Sequential models (MLP, ConvNet, VGG) and models "
            f"that describe their pruning edges (a pruning_edges() method, as PreResNet), not "
            f"{type(structure.model).__name__}"
        )
    return small.model


def _check_untied(structure: NetworkStructure) -> None:
    """``ValueError`` if the model uses one module with parameters or buffers (or one
    parameter) at more than one place: removing a unit of a shared (tied) layer would change
    every use of it, and the copy could not run. Shared modules without state (one ``nn.ReLU``
    called everywhere) are harmless."""
    shared = structure.tied()
    if shared is not None:
        raise ValueError(
            f"model must not share (tie) layers for physical removal: {shared[0]!r} and "
            f"{shared[1]!r} are the same module or parameter, so removing its units would change "
            "every use at once and the smaller model could not run; give each use its own copy "
            "(copy.deepcopy) first"
        )


def _keep(units: int, pruned: Sequence[int]) -> torch.Tensor:
    drop = set(int(i) for i in pruned)
    return torch.tensor([i for i in range(units) if i not in drop], dtype=torch.long)


def _check_groups(layer: nn.Module, name: str, role: str) -> None:
    if getattr(layer, "groups", 1) != 1:
        raise ValueError(
            f"layer {name!r} is a grouped convolution (groups={layer.groups}) that {role}: "
            "physical removal supports only groups=1"
        )


def _slice_out(layer: nn.Module, keep: torch.Tensor) -> nn.Module:
    if isinstance(layer, nn.Linear):
        new = nn.Linear(layer.in_features, len(keep), bias=layer.bias is not None)
    else:
        new = nn.Conv2d(
            layer.in_channels,
            len(keep),
            layer.kernel_size,
            layer.stride,
            layer.padding,
            layer.dilation,
            1,
            bias=layer.bias is not None,
        )
    with torch.no_grad():
        new.weight.copy_(layer.weight[keep])
        if layer.bias is not None:
            new.bias.copy_(layer.bias[keep])
    return new.to(layer.weight.device, layer.weight.dtype).train(layer.training)


def _columns(keep: torch.Tensor, block: int) -> torch.Tensor:
    """The columns of channels ``keep`` after a Flatten that gives each channel ``block`` columns."""
    return (keep[:, None] * block + torch.arange(block)[None]).reshape(-1)


def _slice_in(layer: nn.Module, keep: torch.Tensor, block: int = 1) -> nn.Module:
    """Keep input channels ``keep``; a Linear after Flatten keeps blocks of ``block`` columns."""
    if isinstance(layer, nn.Linear):
        cols = _columns(keep, block)
        new = nn.Linear(len(cols), layer.out_features, bias=layer.bias is not None)
        weight = layer.weight[:, cols]
    else:
        cols = keep
        new = nn.Conv2d(
            len(keep),
            layer.out_channels,
            layer.kernel_size,
            layer.stride,
            layer.padding,
            layer.dilation,
            1,
            bias=layer.bias is not None,
        )
        weight = layer.weight[:, keep]
    with torch.no_grad():
        new.weight.copy_(weight)
        if layer.bias is not None:
            new.bias.copy_(layer.bias)
    return new.to(layer.weight.device, layer.weight.dtype).train(layer.training)


def _slice_bn(bn: nn.Module, keep: torch.Tensor) -> nn.Module:
    new = type(bn)(
        len(keep),
        eps=bn.eps,
        momentum=bn.momentum,
        affine=bn.affine,
        track_running_stats=bn.track_running_stats,
    )
    with torch.no_grad():
        if bn.affine:
            new.weight.copy_(bn.weight[keep])
            new.bias.copy_(bn.bias[keep])
        if bn.track_running_stats:
            new.running_mean.copy_(bn.running_mean[keep])
            new.running_var.copy_(bn.running_var[keep])
            new.num_batches_tracked.copy_(bn.num_batches_tracked)
    ref = bn.weight if bn.affine else bn.running_mean
    return (
        new.to(ref.device, ref.dtype).train(bn.training)
        if ref is not None
        else new.train(bn.training)
    )


def _set(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


def _flatten_blocks(structure: NetworkStructure, example: torch.Tensor) -> dict[str, int]:
    """Columns per channel after each Flatten of a sequential model, from its input shapes."""
    blocks = {}
    for n, m in structure.leaves:
        if isinstance(m, nn.Flatten):
            shape = module_tensor(structure, m, example, output=False).shape
            blocks[n] = int(torch.tensor(shape[2:]).prod()) if len(shape) > 2 else 1
    return blocks


def _remove_sequential(small: NetworkStructure, pruned, blocks: dict[str, int]) -> None:
    """Remove the pruned units from the copy ``small`` of a plain ``nn.Sequential``, walking
    each layer's leaves up to the next Linear / Conv2d, its consumer."""
    model = small.model
    for name, idx in pruned.items():
        if not idx:
            continue
        layer = small.prunable[name]
        current = model.get_submodule(name)  # its inputs may be sliced already
        keep = _keep(current.weight.shape[0], idx)
        block, consumer = 1, None
        for after_name, _ in (*layer.after, *([layer.next_layer] if layer.next_layer else [])):
            after = model.get_submodule(after_name)  # the current module (it may be sliced)
            if isinstance(after, (nn.BatchNorm1d, nn.BatchNorm2d)):
                # after a Flatten: the channels' columns
                if layer.batchnorm_name != after_name:
                    raise ValueError(
                        f"layer {name!r} is separated from the BatchNorm {after_name!r} by other "
                        "layers: the mask does not zero that BatchNorm, so a pruned unit still "
                        "emits its shift there and removing the unit would change the outputs"
                    )
                _set(model, after_name, _slice_bn(after, _columns(keep, block)))
            elif isinstance(after, nn.Flatten):
                block = blocks[after_name]
            elif isinstance(after, (nn.Linear, nn.Conv2d)):
                _check_groups(after, after_name, f"reads the pruned outputs of layer {name!r}")
                consumer = (after_name, after)
                break
            elif not isinstance(after, _CHANNELWISE):
                raise ValueError(
                    f"cannot remove units through a {type(after).__name__} ({after_name!r})"
                )
        if consumer is None:
            raise ValueError(
                f"layer {name!r} is the last layer: its outputs (the classes) cannot be removed"
            )
        _set(model, name, _slice_out(current, keep))
        _set(model, consumer[0], _slice_in(consumer[1], keep, block))


def _remove_along_edges(small: NetworkStructure, pruned) -> None:
    """Remove the pruned units from the copy ``small`` of a model that describes its pruning
    edges: each layer's outputs, its BatchNorm's entries, its consumer's input channels."""
    model = small.model
    kind = type(model).__name__
    for name in pruned:
        if name not in small.edges:
            raise ValueError(
                f"layer {name!r} writes to the residual stream (or is the classifier): {kind} "
                f"removal prunes only the layers its pruning_edges() names, "
                f"{sorted(small.edges)[:3]}..."
            )
    for name, idx in pruned.items():
        if not idx:
            continue
        bn_name, next_name = small.edges[name]
        _check_groups(
            model.get_submodule(next_name), next_name, f"reads the pruned outputs of layer {name!r}"
        )
        layer = model.get_submodule(name)
        keep = _keep(layer.weight.shape[0], idx)
        _set(model, name, _slice_out(layer, keep))
        _set(model, bn_name, _slice_bn(model.get_submodule(bn_name), keep))
        _set(model, next_name, _slice_in(model.get_submodule(next_name), keep))


def consumer_name(model: nn.Module, name: str) -> str:
    """Name of the layer that reads the outputs of prunable layer ``name``: the next Linear /
    Conv2d of a plain Sequential, or the consumer a model's ``pruning_edges()`` names (the next
    conv inside a PreResNet block); see
    :meth:`~spline_utils.spline_view.structure.NetworkStructure.consumer`."""
    return structure_of(model).consumer(name).name


def pruned_widths(model: nn.Module) -> dict[str, int]:
    """Output width of every Linear / Conv2d (for comparing architectures)."""
    return {n: layer.units for n, layer in structure_of(model).prunable.items()}
