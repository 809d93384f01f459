"""Pruning masks in the paper's notation, applied to a copy of a model.

Pruning layer ``l`` multiplies its weights and biases by binary masks:
``W~ = Q_W * W`` and ``b~ = q_b * b`` (entries in {0, 1}, elementwise). *Unit* (node / channel,
structured) pruning zeroes a whole row of ``Q_W`` -- for a ``Conv2d`` a whole output filter -- and
the unit's bias; *weight* (unstructured) pruning zeroes single entries.

A unit followed by a BatchNorm would still emit the constant ``beta - gamma * mu / sigma`` after its
row is zeroed, so :func:`apply_mask` also zeroes that BatchNorm's ``gamma`` and ``beta`` for a
pruned unit (a BatchNorm without them, ``affine=False``, gets a zero running mean ``mu`` for the
unit instead): the unit then outputs exactly zero, as if it had been removed. The dense model is
never modified.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..checks import (
    check_finite,
    check_fraction,
    check_mapping,
    check_unit_indices,
)
from ..spline_view.model_walk import structure_of

__all__ = [
    "PruningMask",
    "apply_mask",
    "check_mask",
    "check_ratio",
    "enforce_mask_",
    "full_mask",
    "magnitude_weight_mask",
    "unit_mask",
    "weight_mask",
]


@dataclass
class PruningMask:
    """Masks per prunable layer (qualified module name -> tensor).

    weight: ``Q_W``, bool, the shape of the layer's weight, e.g. (out, in) or (out, in, kh, kw).
    bias: ``q_b``, bool (out,), or ``None`` for a layer without bias.
    """

    weight: dict[str, torch.Tensor]
    bias: dict[str, torch.Tensor | None]

    def _name(self, name) -> str:
        if name not in self.weight:
            raise ValueError(
                f"name must be a masked layer, one of {sorted(self.weight)}; got {name!r}"
            )
        return name

    def pruned_units(self, name: str) -> list[int]:
        """Units (rows / output channels) of layer ``name`` whose weights and bias are all zero."""
        self._name(name)
        q_w = self.weight[name].reshape(self.weight[name].shape[0], -1)
        dead = ~q_w.any(1)
        if self.bias.get(name) is not None:
            dead &= ~self.bias[name]
        return torch.nonzero(dead).flatten().tolist()

    def pruned(self) -> dict[str, list[int]]:
        """``{layer name: pruned units}`` of every masked layer (:meth:`pruned_units`): the
        mask's units as :func:`~spline_utils.pruning.physical.remove_units` takes them, so a
        mask drawn earlier (an early-bird ticket) is applied as it is, with no selection by a
        ratio."""
        return {name: self.pruned_units(name) for name in self.weight}

    def sparsity(self, name: str | None = None) -> float:
        """Fraction of zeroed weight entries, of one layer or of all masked layers together."""
        masks = [self.weight[self._name(name)]] if name is not None else list(self.weight.values())
        total = sum(m.numel() for m in masks)
        return 1.0 - sum(int(m.sum()) for m in masks) / total


def full_mask(model: nn.Module) -> PruningMask:
    """All-ones masks (nothing pruned) for every prunable layer."""
    weight, bias = {}, {}
    for name, layer in ((n, p.module) for n, p in structure_of(model).prunable.items()):
        weight[name] = torch.ones_like(layer.weight, dtype=torch.bool)
        bias[name] = None if layer.bias is None else torch.ones_like(layer.bias, dtype=torch.bool)
    return PruningMask(weight, bias)


def unit_mask(model: nn.Module, units: Mapping[str, Sequence[int]]) -> PruningMask:
    """Node / channel pruning: zero the rows of ``Q_W`` and the entries of ``q_b`` of the listed
    units, e.g. ``unit_mask(net, {"0": [2, 5]})`` prunes units 2 and 5 of layer ``"0"``.

    Only the mask is built; :func:`apply_mask` applies it to a copy of the model. A Conv2d
    unit is a whole output filter: its row of ``Q_W`` is every entry ``[k, :, :, :]``.

    Args:
        model: the network whose prunable layers (Linear / Conv2d) the mask covers.
        units: ``{layer name: unit indices}``: qualified names of prunable layers, each with a
            sequence of integer indices in ``[0, units)`` (output features / channels;
            repeats are harmless). Unlisted layers are kept whole.

    Returns:
        A :class:`PruningMask` with an entry for every prunable layer, ``weight[name]`` bool of
        the weight's shape ((out, in) or (out, in, kh, kw)) and ``bias[name]`` bool (out,) or
        ``None`` for a layer without bias; ``False`` marks a pruned entry.

    Raises:
        ValueError: an unknown layer, or an index outside ``[0, units)``.
        TypeError: ``units`` is not a mapping, or holds indices that are not integers.

    Example:
        >>> net = su.make_mlp([2, 6, 6, 1])
        >>> mask = unit_mask(net, {"0": [2, 5]})
        >>> mask.pruned_units("0"), mask.pruned_units("2"), tuple(mask.weight["0"].shape)
        ([2, 5], [], (6, 2))
    """
    check_mapping("units", units)
    structure = structure_of(model)
    mask = full_mask(structure)
    for name, idx in units.items():
        out = structure.layer(name).units
        idx = check_unit_indices(f"units[{name!r}]", idx)  # ints (not bools, not 1.7)
        bad = sorted({i for i in idx if not 0 <= i < out})
        if bad:
            raise ValueError(
                f"units[{name!r}] must be unit indices in [0, {out}): layer {name!r} has {out} "
                f"units; cannot prune unit(s) {bad}"
            )
        mask.weight[name][idx] = False
        if mask.bias[name] is not None:
            mask.bias[name][idx] = False
    return mask


def magnitude_weight_mask(
    model: nn.Module, ratio: float, layers: Sequence[str] | None = None
) -> PruningMask:
    """Weight (unstructured) pruning: in each listed layer (default: every prunable layer but the
    last) zero the fraction ``ratio`` of weight entries with the smallest magnitude. Biases stay."""
    check_ratio(ratio)
    structure = structure_of(model)
    mask = full_mask(structure)
    if isinstance(layers, str):
        raise TypeError(f"layers must be a sequence of layer names, got the string {layers!r}")
    names = list(structure.prunable)[:-1] if layers is None else list(layers)
    for name in names:
        weight = structure.layer(name).module.weight.detach()
        check_finite(f"weight of layer {name!r}", weight)  # NaN would sort last: never pruned
        w = weight.abs().flatten()
        n_prune = int(round(ratio * w.numel()))
        if n_prune:
            order = torch.argsort(w, stable=True)
            flat = mask.weight[name].flatten()
            flat[order[:n_prune]] = False
            mask.weight[name] = flat.reshape(mask.weight[name].shape)
    return mask


def weight_mask(
    model: nn.Module,
    weight: Mapping[str, torch.Tensor],
    bias: Mapping[str, torch.Tensor] | None = None,
) -> PruningMask:
    """Masks given explicitly (bool tensors of each weight's / bias's shape); unlisted layers are
    kept whole."""
    check_mapping("weight", weight)
    if bias is not None:
        check_mapping("bias", bias)
    structure = structure_of(model)
    mask = full_mask(structure)
    for name in list(weight) + list(bias or {}):
        structure.layer(name)
    for name, q in weight.items():
        mask.weight[name] = _checked(q, mask.weight[name], f"weight mask of layer {name!r}")
    for name, q in (bias or {}).items():
        if mask.bias[name] is None:
            raise ValueError(f"layer {name!r} has no bias to mask")
        mask.bias[name] = _checked(q, mask.bias[name], f"bias mask of layer {name!r}")
    return mask


def _checked(q, like: torch.Tensor, what: str) -> torch.Tensor:
    try:
        q = torch.as_tensor(q)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"{what} must be a bool tensor, got {type(q).__name__}") from None
    if q.shape != like.shape:
        raise ValueError(f"{what} has shape {tuple(q.shape)}, expected {tuple(like.shape)}")
    if q.dtype != torch.bool and not ((q == 0) | (q == 1)).all():
        raise ValueError(f"{what} must hold only 0 and 1")
    return q.to(torch.bool)


def apply_mask(model: nn.Module, mask: PruningMask) -> nn.Module:
    """A copy of ``model`` with ``W * Q_W`` and ``b * q_b`` in every masked layer; a fully pruned
    unit also gets ``gamma = beta = 0`` in the BatchNorm that follows it (or, in a BatchNorm
    without ``gamma`` and ``beta``, a zero running mean), so it outputs 0.

    The shapes stay (nothing is removed: :func:`~spline_utils.pruning.physical.remove_units`
    builds the smaller network) and ``model`` itself is not modified (:func:`enforce_mask_`
    masks in place).

    Args:
        model: the network the mask was built for.
        mask: a :class:`PruningMask` that fits ``model`` (known layers, bool masks of the
            weights' and biases' shapes), e.g. from :func:`unit_mask`.

    Returns:
        The masked copy, a deep copy of ``model`` (same class, train / eval mode, device and
        dtype).

    Raises:
        TypeError: ``mask`` is not a :class:`PruningMask`, or a weight mask is not bool.
        ValueError: the mask names layers the model does not have, a weight mask has the
            wrong shape, or a bias mask is not a bool tensor of the bias's shape.

    Example:
        >>> net = su.make_mlp([2, 6, 6, 1])
        >>> pruned = apply_mask(net, unit_mask(net, {"0": [2, 5]}))
        >>> pruned[0].weight[[2, 5]].abs().sum().item(), pruned[0].bias[[2, 5]].abs().sum().item()
        (0.0, 0.0)
        >>> bool(net[0].weight[[2, 5]].any())  # the dense model is unchanged
        True
    """
    structure = structure_of(model)
    check_mask(structure, mask)
    return _enforce(structure.copy(), mask)


def check_mask(model: nn.Module, mask: PruningMask) -> None:
    """``mask`` fits ``model``: known layers, the weights' and biases' shapes, bool entries
    (a float mask of 0.5 would scale weights instead of pruning them). Shapes and dtypes only:
    cheap enough for every optimiser step."""
    if not isinstance(mask, PruningMask):
        raise TypeError(f"mask must be a PruningMask, got {type(mask).__name__}")
    layers = {name: layer.module for name, layer in structure_of(model).prunable.items()}
    unknown = sorted(set(mask.weight) - set(layers)) + sorted(set(mask.bias) - set(layers))
    if unknown:
        raise ValueError(f"the mask names layers the model does not have: {unknown}")
    for name, q in mask.weight.items():
        if not isinstance(q, torch.Tensor) or q.shape != layers[name].weight.shape:
            raise ValueError(
                f"mask of layer {name!r} has shape {tuple(getattr(q, 'shape', ()))}, "
                f"the weight has {tuple(layers[name].weight.shape)}"
            )
        if q.dtype != torch.bool:
            raise TypeError(f"mask of layer {name!r} must be a bool tensor, got dtype {q.dtype}")
    for name, q in mask.bias.items():
        if q is None:
            continue
        bias = layers[name].bias
        if (
            bias is None
            or not isinstance(q, torch.Tensor)
            or q.shape != bias.shape
            or q.dtype != torch.bool
        ):
            raise ValueError(
                f"bias mask of layer {name!r} must be a bool tensor of the bias's shape "
                f"{None if bias is None else tuple(bias.shape)}, got {getattr(q, 'dtype', type(q).__name__)} "
                f"{tuple(getattr(q, 'shape', ()))}"
            )


def enforce_mask_(model: nn.Module, mask: PruningMask) -> nn.Module:
    """Apply ``mask`` to ``model`` in place (as :func:`apply_mask` does to a copy) and return it;
    used after every optimiser step of a fine-tuning run so that pruned weights stay zero."""
    structure = structure_of(model)
    check_mask(structure, mask)
    return _enforce(structure, mask)


def _enforce(structure, mask: PruningMask) -> nn.Module:
    """Mask the model of ``structure`` in place (a checked mask) and return the model."""
    bns = structure.batchnorms()
    with torch.no_grad():
        for name, q in mask.weight.items():
            layer = structure.prunable[name].module
            layer.weight.mul_(q.to(layer.weight.dtype))
            if layer.bias is not None and mask.bias.get(name) is not None:
                layer.bias.mul_(mask.bias[name].to(layer.bias.dtype))
            dead = mask.pruned_units(name)
            if dead and name in bns:
                bn = bns[name]
                if bn.weight is not None:
                    bn.weight[dead] = 0.0
                if bn.bias is not None:
                    bn.bias[dead] = 0.0
                if bn.weight is None and bn.running_mean is not None:
                    # no gamma to zero (affine=False): the unit's input is exactly 0, so a zero
                    # running mean makes its normalised output (0 - mean) / sd exactly 0 too
                    bn.running_mean[dead] = 0.0
    return structure.model


def check_ratio(ratio: float) -> float:
    """``ratio`` as a float, if it is a pruning ratio in [0, 1); ``ValueError`` otherwise."""
    return check_fraction("pruning ratio", ratio)
