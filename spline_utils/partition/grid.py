"""Partition of a 2-D domain (or a 2-D slice of input space) by sampling a grid.

Grid sampling is the quick, approximate way to look at a partition: every grid point gets its
activation code, and points with equal codes share a region. Regions smaller than a grid cell
can be missed, so region counts from a grid are *lower bounds*; every figure made from a
:class:`GridPartition` says "grid sampling" and the resolution in its title.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..checks import check_bool, check_domain, check_int, is_int
from ..spline_view.code_recording import prepare_input
from ..spline_view.codes import PackedCodes, record_codes
from ..spline_view.model_walk import check_batch_independent, structure_of
from .slices import PlaneSlice, check_slice


@dataclass
class GridPartition:
    """A partition sampled on an ``H x W`` grid of slice coordinates (see :func:`grid_partition`).

    Attributes:
        u: (W,) grid coordinates; point ``[i, j]`` is ``(u[j], v[i])``.
        v: (H,) grid coordinates.
        codes: packed codes of the ``H * W`` points (row-major), a
            :class:`~spline_utils.spline_view.codes.PackedCodes`.
        outputs: float (H, W, K) network outputs.
        preactivations: per code layer, float32 (H, W, units) for ReLU-type layers, ``None``
            for max-pooling layers (or when not kept).
        slice: the :class:`~spline_utils.partition.slices.PlaneSlice` sampled, or ``None``
            (2-D inputs).
    """

    u: np.ndarray
    v: np.ndarray
    codes: PackedCodes
    outputs: np.ndarray
    preactivations: list[np.ndarray | None] = field(repr=False)
    slice: PlaneSlice | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.v), len(self.u))

    @property
    def extent(self) -> tuple[float, float, float, float]:
        return (float(self.u[0]), float(self.u[-1]), float(self.v[0]), float(self.v[-1]))

    @property
    def layer_names(self) -> list[str]:
        return self.codes.names

    @property
    def n_layers(self) -> int:
        return len(self.codes.names)

    @property
    def method(self) -> str:
        h, w = self.shape
        return f"grid sampling, {w}x{h} points"

    def region_ids(self, upto: int | None = None) -> np.ndarray:
        """Region index per grid point, (H, W), for the partition of layers ``[0, upto)``."""
        return self.codes.region_ids(upto).reshape(self.shape)

    def n_regions(self, upto: int | None = None) -> int:
        """Number of distinct regions the grid finds (a lower bound on the true count)."""
        return int(self.region_ids(upto).max()) + 1

    def region_counts(self) -> list[int]:
        """Regions found after each layer: ``[n_regions(1), ..., n_regions(L)]``."""
        return [self.n_regions(upto) for upto in range(1, self.n_layers + 1)]

    def _layer(self, layer) -> int:
        return check_int("layer", layer, 0, self.n_layers - 1)

    def layer_code_grid(self, layer: int) -> np.ndarray:
        """Bool code of one layer on the grid, (H, W, n_bits)."""
        layer = self._layer(layer)
        return self.codes.unpack(layer).reshape(*self.shape, -1)

    def spline_mask(self, layer: int) -> np.ndarray:
        """(H, W) bool: grid points whose layer code differs from the right or lower neighbour,
        i.e. points next to one of that layer's splines."""
        code = self.layer_code_grid(layer)
        mask = np.zeros(self.shape, dtype=bool)
        mask[:, :-1] |= (code[:, :-1] != code[:, 1:]).any(-1)
        mask[:-1, :] |= (code[:-1, :] != code[1:, :]).any(-1)
        return mask

    def crossing_units(self, layer: int) -> np.ndarray:
        """Indices of the units of a ReLU-type layer whose spline crosses the domain, i.e. whose
        pre-activation takes both signs on the grid. Raises for layers without kept
        pre-activations (max-pooling layers, or ``keep_preactivations=False``)."""
        layer = self._layer(layer)
        pre = self.preactivations[layer]
        if pre is None:
            raise ValueError(
                f"layer {layer} ({self.layer_names[layer]}) has no kept pre-activations: it is a "
                "max-pooling layer or the grid was built with keep_preactivations=False"
            )
        flat = pre.reshape(-1, pre.shape[-1])
        return np.nonzero((flat.min(0) < 0) & (flat.max(0) > 0))[0]

    def predicted_class(self) -> np.ndarray:
        """(H, W) int: argmax class (K >= 2) or ``output > 0`` (a single output)."""
        if self.outputs.shape[-1] == 1:
            return (self.outputs[..., 0] > 0).astype(np.int64)
        return self.outputs.argmax(-1)

    def decision_fields(self) -> list[np.ndarray]:
        """Fields whose zero level sets are the decision boundary, each (H, W).

        One output: ``f``. Two classes: ``f_1 - f_0``. ``K > 2`` classes: for each class c,
        ``f_c - max_{c' != c} f_c'``, whose zero set bounds the region where c wins, so the
        union is exactly where the argmax changes.
        """
        out = self.outputs
        k = out.shape[-1]
        if k == 1:
            return [out[..., 0]]
        if k == 2:
            return [out[..., 1] - out[..., 0]]
        fields = []
        for c in range(k):
            others = np.delete(out, c, axis=-1).max(-1)
            fields.append(out[..., c] - others)
        return fields


def _check_domain(domain) -> tuple[float, float, float, float]:
    return check_domain("domain", domain)


def _check_resolution(resolution) -> tuple[int, int]:
    """(W, H) from one int or a pair, each >= 2."""
    if is_int(resolution):
        w = h = check_int("resolution", resolution, 2)
        return w, h
    if isinstance(resolution, (tuple, list)) and len(resolution) == 2:
        return check_int("resolution[0]", resolution[0], 2), check_int(
            "resolution[1]", resolution[1], 2
        )
    raise TypeError(
        f"resolution must be an integer >= 2 or a pair (W, H) of them, got {resolution!r}"
    )


def grid_partition(
    model: nn.Module,
    domain=(-1.0, 1.0, -1.0, 1.0),
    resolution: int | tuple[int, int] = 200,
    slice: PlaneSlice | None = None,
    batch_size: int = 4096,
    keep_preactivations: bool = True,
) -> GridPartition:
    """Sample the partition of ``model`` on a grid over ``domain``.

    A quick preview: regions smaller than a grid cell can be missed, so region counts are lower
    bounds (exact partitions: :mod:`spline_utils.partition.exact`).

    Args:
        model: a supported network (see
            :func:`~spline_utils.spline_view.model_walk.check_supported`).
        domain: (u_min, u_max, v_min, v_max) in input coordinates (2-D input models) or slice
            coordinates (when ``slice`` is given).
        resolution: points per axis (one int >= 2, or (W, H)).
        slice: a :class:`~spline_utils.partition.slices.PlaneSlice`; without it the model must
            take inputs of shape (N, 2).
        batch_size: grid points per forward pass.
        keep_preactivations: keep each ReLU-type layer's pre-activations on the grid (needed
            by :meth:`GridPartition.crossing_units` and to draw splines as level sets).

    Returns:
        A :class:`GridPartition`; codes and outputs are computed in eval mode.

    Raises:
        ValueError: the model is not supported, mixes the inputs of a batch or cannot take
            the grid's inputs, or
            ``domain``, ``slice``, ``batch_size`` is invalid.
        TypeError: ``resolution`` is neither an int nor a pair of ints.

    Example:
        >>> net = su.load_network("toy_mlp")
        >>> part = su.grid_partition(net, (-5, 5, -5, 5), resolution=100)
        >>> part.shape, part.layer_names, part.method
        ((100, 100), ['1', '3'], 'grid sampling, 100x100 points')
        >>> part.outputs.shape, [p.shape for p in part.preactivations]
        ((100, 100, 1), [(100, 100, 6), (100, 100, 6)])
    """
    structure = structure_of(model)
    structure.check_supported()
    u_min, u_max, v_min, v_max = _check_domain(domain)
    w, h = _check_resolution(resolution)
    check_slice(slice)
    batch_size = check_int("batch_size", batch_size, 1)
    keep_preactivations = check_bool("keep_preactivations", keep_preactivations)
    u = np.linspace(u_min, u_max, int(w))
    v = np.linspace(v_min, v_max, int(h))
    uu, vv = np.meshgrid(u, v)
    uv = torch.as_tensor(np.stack([uu.ravel(), vv.ravel()], axis=1))
    if slice is None:
        inputs = uv
    else:
        inputs = slice.to_input(uv)
    packed_parts, outputs, pre_parts = [], [], []
    for start in range(0, inputs.shape[0], batch_size):
        xb = inputs[start : start + batch_size]
        try:
            codes = record_codes(structure, prepare_input(structure, xb), keep_preactivations)
        except ValueError as exc:
            where = "the slice's input shape" if slice is not None else "2-D inputs of shape (N, 2)"
            raise ValueError(f"cannot evaluate the model on {where}: {exc}") from exc
        packed_parts.append(codes.packed())
        outputs.append(codes.outputs.reshape(xb.shape[0], -1).double().cpu().numpy())
        pre_parts.append(
            [
                None
                if layer.preactivation is None
                else layer.preactivation.reshape(xb.shape[0], -1).float().cpu().numpy()
                for layer in codes.layers
            ]
        )
    spread = inputs[[0, inputs.shape[0] // 2, inputs.shape[0] - 1]]  # corner, centre, corner
    check_batch_independent(structure, prepare_input(structure, spread))  # (the inputs fit)
    first = packed_parts[0]
    packed = PackedCodes(
        names=first.names,
        kinds=first.kinds,
        n_bits=first.n_bits,
        data=[np.concatenate([p.data[i] for p in packed_parts]) for i in range(len(first.names))],
    )
    preactivations = [
        None
        if pre_parts[0][i] is None
        else np.concatenate([p[i] for p in pre_parts]).reshape(int(h), int(w), -1)
        for i in range(len(first.names))
    ]
    return GridPartition(
        u=u,
        v=v,
        codes=packed,
        outputs=np.concatenate(outputs).reshape(int(h), int(w), -1),
        preactivations=preactivations,
        slice=slice,
    )
