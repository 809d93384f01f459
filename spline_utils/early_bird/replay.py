"""Early-bird detection replayed from one training's records, for any rule and setting.

A detector's decision at an epoch depends only on what it has seen of the network so far: the
spline detector on the distances between the probe codes of different epochs, the mask detector on
the BatchNorm scales ``|gamma|``. Record those once during training -- the code sets with
:class:`~spline_utils.early_bird.spline_detector.CodeRecorder` (their distance matrix), the scales
with :class:`GammaRecorder` -- and every window, threshold, FIFO length or layer subset can be
evaluated afterwards at no cost in training: that is how the book compares the two detectors at
equal windows and sweeps threshold x window over several seeds.

Conventions. The recorded *states* are the network after ``e`` epochs, for the recorded epochs
``e`` (``0`` is the untrained network). A rule with window ``w`` compares the newest state with
the ``w`` states before it; it can decide only once it has seen ``w + 1`` states, so over the
states ``1, 2, ...`` (checked after every epoch, as this book does) it cannot fire before epoch
``w + 1`` (:func:`earliest_possible_epoch`). Checking *before* every epoch, as the released code of
the early-bird paper does, adds the untrained state ``0`` to the sequence (``include_initial``) and
so allows firing at epoch ``w``. The mask detector's FIFO of ``f`` masks is the window ``f - 1``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ..checks import check_array, check_bool, check_fraction, check_int
from ..pruning.selection import TiedThresholdWarning, eb_threshold
from ..spline_view.model_walk import structure_of
from .mask_detector import mask_distance

__all__ = [
    "GammaRecorder",
    "earliest_possible_epoch",
    "gamma_mask",
    "mask_distances",
    "replay_mask_detector",
    "replay_spline_detector",
]


class GammaRecorder:
    """Training callback that keeps every BatchNorm's ``|gamma|`` after each epoch.

    Call it once more before training (``recorder(model, 0)``) to record the untrained network.
    Small: one float per BatchNorm channel per epoch.

    Attributes:
        layers: ``[(name, kind, channels)]`` of the BatchNorm layers in registration order
            (``kind`` is ``"BatchNorm1d"`` or ``"BatchNorm2d"``).
        epochs: the recorded epochs.
        values: one float32 array (total channels,) of ``|gamma|`` per recorded epoch.
    """

    def __init__(self):
        self.layers: list[tuple[str, str, int]] = []
        self.epochs: list[int] = []
        self.values: list[np.ndarray] = []

    def __call__(self, model: nn.Module, epoch: int) -> None:
        structure = structure_of(model)
        epoch = check_int("epoch", epoch, 0)
        bns = [
            (n, m)
            for n, m in structure.modules
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) and m.weight is not None
        ]
        if not bns:
            raise ValueError("the model has no BatchNorm layer with a scale gamma")
        layers = [(n, type(m).__name__, m.num_features) for n, m in bns]
        if self.layers and layers != self.layers:
            raise ValueError("the model's BatchNorm layers changed between epochs")
        self.layers = layers
        if epoch in self.epochs:  # a resumed epoch replaces its record
            del self.values[self.epochs.index(epoch)]
            self.epochs.remove(epoch)
        gamma = torch.cat([m.weight.detach().abs().flatten().float().cpu() for _, m in bns])
        self.epochs.append(epoch)
        self.values.append(gamma.numpy().copy())
        order = np.argsort(self.epochs, kind="stable")
        self.epochs = [self.epochs[i] for i in order]
        self.values = [self.values[i] for i in order]


def gamma_mask(
    gamma: np.ndarray,
    ratio: float,
    layers: Sequence[tuple[str, str, int]] | None = None,
    kinds: Sequence[str] | None = None,
) -> np.ndarray:
    """The early-bird paper's channel mask from recorded scales: keep ``|gamma|`` strictly above
    the value at index ``int(total * ratio)`` of their ascending sort (as
    :func:`~spline_utils.early_bird.mask_detector.bn_channel_mask`, ties included: channels
    tied at the threshold are all dropped, with a
    :class:`~spline_utils.pruning.selection.TiedThresholdWarning` when that adds more than one
    channel per layer). ``gamma``: the recorded scales (total channels,), finite. ``kinds``
    (e.g. ``("BatchNorm2d",)``, the released code's choice) keeps only those layers, described
    by ``layers`` as :attr:`GammaRecorder.layers`."""
    gamma = check_array("gamma", gamma, dim=1)  # NaN would compare False: an all-False mask
    if not len(gamma):
        raise ValueError("gamma must hold one |gamma| per BatchNorm channel, got an empty array")
    ratio = check_fraction("ratio", ratio, low_open=True, high_open=True)
    if kinds is not None:
        if layers is None:
            raise ValueError("kinds needs layers: the (name, kind, channels) of each BatchNorm")
        keep = np.concatenate([np.full(size, kind in kinds) for _, kind, size in layers])
        if len(keep) != len(gamma) or not keep.any():
            raise ValueError(f"layers do not describe these {len(gamma)} scales, or none is kept")
        gamma = gamma[keep]
    n_layers = 1 if layers is None else sum(kinds is None or k in kinds for _, k, _ in layers)
    return gamma > eb_threshold(gamma, ratio, n_layers, "recorded |gamma|")


def earliest_possible_epoch(window: int, include_initial: bool = False) -> int:
    """The first epoch at which a rule with ``window`` can fire (module doc): ``window + 1``
    when checked after every epoch, ``window`` when the untrained state counts as well."""
    window = check_int("window", window, 1)
    return window if check_bool("include_initial", include_initial) else window + 1


def _states(epochs: Sequence[int], include_initial: bool) -> list[int]:
    epochs = [check_int("epochs entry", e, 0) for e in epochs]
    if epochs != sorted(set(epochs)):
        raise ValueError(f"epochs must be increasing (each epoch once), got {epochs}")
    chosen = [i for i, e in enumerate(epochs) if e >= (0 if include_initial else 1)]
    if include_initial and (not chosen or epochs[chosen[0]] != 0):
        raise ValueError("include_initial needs the untrained state (epoch 0) among the records")
    return chosen


def _replay(
    distance,
    indices: list[int],
    epochs: Sequence[int],
    window: int,
    threshold: float,
    strict: bool,
) -> int | None:
    for k in range(window, len(indices)):
        newest = indices[k]
        largest = max(distance(newest, indices[k - j]) for j in range(1, window + 1))
        if largest < threshold or (not strict and largest == threshold):
            return int(epochs[newest])
    return None


def replay_spline_detector(
    matrix: np.ndarray,
    epochs: Sequence[int],
    window: int = 3,
    threshold: float = 0.16,
    include_initial: bool = False,
    strict: bool = True,
) -> int | None:
    """The epoch at which the spline detector fires, replayed from the code distances.

    Args:
        matrix: (E, E) code distances between the recorded states (e.g. the mean over layers of
            :func:`~spline_utils.early_bird.spline_detector.distance_matrix`, or one layer's).
        epochs: the E recorded epochs, increasing.
        window: how many earlier states the newest is compared with.
        threshold: it fires when the largest of those distances is below ``threshold``
            (``strict=False``: at most ``threshold``).
        include_initial: count the untrained state (epoch 0) as well (module doc).
        strict: ``<`` (this book's spline detector, the authors' code) or ``<=``.

    Returns:
        The firing epoch, or ``None`` if it never fires.

    Example:
        >>> d = np.array([[0, .5, .6, .6], [.5, 0, .1, .1], [.6, .1, 0, .05], [.6, .1, .05, 0]])
        >>> replay_spline_detector(d, [0, 1, 2, 3], window=2, threshold=0.16)
        3
        >>> replay_spline_detector(d, [0, 1, 2, 3], window=2, threshold=0.16, include_initial=True)
        3
        >>> replay_spline_detector(d, [0, 1, 2, 3], window=1, threshold=0.16, include_initial=True)
        2
    """
    epochs = list(epochs)
    # a NaN distance would compare False with the threshold and let the rule fire (or not) at
    # random: refused, as is any inf
    matrix = check_array("matrix", matrix, dim=2)
    if matrix.shape != (len(epochs), len(epochs)):
        raise ValueError(
            f"matrix must be ({len(epochs)}, {len(epochs)}), one row and column per epoch of "
            f"epochs, got {matrix.shape}"
        )
    window = check_int("window", window, 1)
    threshold = check_fraction("threshold", threshold, low_open=True)
    indices = _states(epochs, check_bool("include_initial", include_initial))
    return _replay(lambda a, b: matrix[a, b], indices, epochs, window, threshold, strict)


def mask_distances(
    values: Sequence[np.ndarray], ratio: float, layers=None, kinds=None
) -> np.ndarray:
    """(E, E) normalised Hamming distances between the channel masks of recorded scales.

    The replay reproduces the paper's detector, ties included (the untrained network's scales
    are all 1, and its mask keeps no channel), so the tie warning of :func:`gamma_mask` is not
    raised here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TiedThresholdWarning)
        masks = [gamma_mask(v, ratio, layers, kinds) for v in values]
    out = np.zeros((len(masks), len(masks)))
    for i in range(len(masks)):
        for j in range(i + 1, len(masks)):
            out[i, j] = out[j, i] = mask_distance(masks[i], masks[j])
    return out


def replay_mask_detector(
    values: Sequence[np.ndarray],
    epochs: Sequence[int],
    ratio: float,
    fifo: int = 5,
    threshold: float = 0.1,
    include_initial: bool = False,
    layers=None,
    kinds=None,
) -> int | None:
    """The epoch at which the mask-distance detector fires for pruning ratio ``ratio``,
    replayed from :class:`GammaRecorder` records: a FIFO of ``fifo`` masks (the window
    ``fifo - 1``), firing when the newest mask is at most ``threshold`` from every older one
    (``<=``, as the released code). ``include_initial`` and ``kinds`` give the released code's
    variants (the untrained mask in the FIFO; ``("BatchNorm2d",)`` layers only).

    Returns:
        The firing epoch, or ``None`` if it never fires.
    """
    fifo = check_int("fifo", fifo, 2)
    threshold = check_fraction("threshold", threshold)
    values, epochs = list(values), list(epochs)
    if len(values) != len(epochs):
        raise ValueError(
            f"values and epochs must have one entry per recorded epoch, got {len(values)} "
            f"values and {len(epochs)} epochs"
        )
    indices = _states(epochs, check_bool("include_initial", include_initial))
    matrix = mask_distances(values, ratio, layers, kinds)
    return _replay(lambda a, b: matrix[a, b], indices, epochs, fifo - 1, threshold, strict=False)
