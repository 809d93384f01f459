"""The mask-distance early-bird detector of "Drawing Early-Bird Tickets" (You et al., ICLR 2020).

:class:`MaskEBDetector`: one bit per BatchNorm channel over all BN layers, kept when ``|gamma|`` is
*strictly* greater than the value at index ``int(total * p)`` of the ascending sort of all
``|gamma|`` (:func:`bn_channel_mask`); normalised Hamming distance between masks
(:func:`mask_distance`); a FIFO of the last 5 masks; EB when the newest mask is within 0.1 of each
of the 4 older ones (every distance *at most* the threshold, as in the authors' released code, so a
distance exactly equal to 0.1 fires); one detector per pruning ratio ``p``.

The detector is a callable ``detector(model, epoch)`` for ``train_classifier(callbacks=[...])``; it
records the epoch each ratio fires (``fired_epoch``) and a copy of the model's state at that epoch.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ..checks import (
    check_finite,
    check_fraction,
    check_int,
)
from ..pruning.selection import eb_threshold
from ..spline_view.model_walk import structure_of


def check_channel_mask(name: str, mask) -> np.ndarray:
    """A 1-D, non-empty channel mask as bool (bool, or integers that are all 0 or 1)."""
    arr = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
    if arr.ndim != 1 or not arr.size:
        raise ValueError(f"{name} must be a non-empty 1-D channel mask, got shape {arr.shape}")
    if arr.dtype != bool:
        if arr.dtype.kind not in "iu" or not np.isin(arr, (0, 1)).all():
            raise ValueError(
                f"{name} must be a bool mask (or 0 / 1 integers), got {arr.dtype} values"
            )
        arr = arr.astype(bool)
    return arr


def bn_channel_mask(model: nn.Module, ratio: float) -> np.ndarray:
    """The EB paper's channel mask (bool, all BN channels concatenated in registration order):
    ``|gamma| > sorted(|gamma|)[int(total * ratio)]`` (strictly greater).

    The paper's rule is kept deliberately, ties included, so that the detector is the paper's:
    channels tied at the threshold are all dropped, and a network whose scales are all equal
    (as at initialisation) keeps none. A
    :class:`~spline_utils.pruning.selection.TiedThresholdWarning` says so when ties make the
    dropped count exceed the rule's ``int(total * ratio) + 1`` by more than one channel per
    BatchNorm layer (:func:`~spline_utils.pruning.selection.eb_threshold`)."""
    ratio = check_fraction("pruning ratio p", ratio, low_open=True, high_open=True)
    return _channel_mask(bn_scales(model), ratio)


def bn_scales(model: nn.Module) -> tuple[np.ndarray, int]:
    """``|gamma|`` of every BatchNorm channel of ``model`` (registration order), float64
    (total channels,), and the number of BatchNorm layers; one walk of the module tree."""
    gammas = [
        m.weight.detach().abs().flatten().cpu()
        for _, m in structure_of(model).modules
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) and m.weight is not None
    ]
    if not gammas:
        raise ValueError("the model has no BatchNorm layer with a scale gamma")
    gamma = torch.cat(gammas).to(torch.float64)
    check_finite("the BatchNorm scales gamma", gamma)
    return gamma.numpy(), len(gammas)


def _channel_mask(scales: tuple[np.ndarray, int], ratio: float) -> np.ndarray:
    gamma, n_layers = scales
    return gamma > eb_threshold(gamma, ratio, n_layers, "BatchNorm |gamma|")


def mask_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised Hamming distance between two channel masks of the same length (bool, or
    integers 0 / 1)."""
    a, b = check_channel_mask("a", a), check_channel_mask("b", b)
    if a.shape != b.shape:
        raise ValueError(f"masks differ in shape: {a.shape} vs {b.shape}")
    return float(np.mean(a != b))


class MaskEBDetector:
    """The mask-distance EB detector of "Drawing Early-Bird Tickets", one per ratio in ``ratios``;
    see the module doc. It fires once the FIFO of the last ``fifo`` masks is full and the newest
    mask's distance to every older one is *at most* ``threshold`` (``<=``, as the authors'
    released code).

    Called as ``detector(model, epoch)`` after every epoch (a ``train_classifier`` callback), it
    computes each ratio's :func:`bn_channel_mask` and returns a dict ratio -> whether that
    ratio's detector fires at this epoch.

    Args:
        ratios: distinct pruning ratios ``p`` in (0, 1), one detector each.
        fifo: how many masks the FIFO holds (>= 2).
        threshold: the largest distance at which a detector fires, in [0, 1].

    Attributes:
        fired_epoch: dict ratio -> first epoch it fired (or ``None``).
        tickets: dict ratio -> a copy of the model's ``state_dict`` at that epoch.
        distances: dict ratio -> per epoch, the newest mask's largest distance to the FIFO (NaN
            until the FIFO is full).

    Raises:
        ValueError: a ratio outside (0, 1), repeated ratios, ``fifo`` < 2 or ``threshold``
            outside [0, 1].
        TypeError: ``ratios`` is not a sequence.

    Example:
        A network that does not change keeps its masks, so every ratio fires as soon as the
        FIFO is full:

        >>> net = su.load_network("digits_convnet")  # BN after each conv
        >>> detector = su.early_bird.MaskEBDetector(ratios=(0.3, 0.5), fifo=5)
        >>> [detector(net, epoch)[0.5] for epoch in range(1, 7)]
        [False, False, False, False, True, False]
        >>> detector.fired_epoch
        {0.3: 5, 0.5: 5}
    """

    def __init__(
        self, ratios: Sequence[float] = (0.3, 0.5, 0.7), fifo: int = 5, threshold: float = 0.1
    ):
        if isinstance(ratios, (str, bytes)) or not hasattr(ratios, "__iter__"):
            raise TypeError(f"ratios must be a sequence of pruning ratios, got {ratios!r}")
        ratios = tuple(
            check_fraction("pruning ratio p", p, low_open=True, high_open=True) for p in ratios
        )
        if not ratios or len(set(ratios)) != len(ratios):
            raise ValueError(f"ratios must be distinct pruning ratios, at least one, got {ratios}")
        fifo = check_int("fifo", fifo, 2)
        threshold = check_fraction("threshold", threshold)
        self.ratios, self.threshold = ratios, threshold
        self.queues = {p: deque(maxlen=fifo) for p in self.ratios}
        self.fired_epoch: dict[float, int | None] = {p: None for p in self.ratios}
        self.distances: dict[float, list[float]] = {p: [] for p in self.ratios}
        self.tickets: dict[float, dict] = {}  # ratio -> the model's state_dict when it fired
        self.last_epoch: int | None = None  # the epoch of the previous call

    def __call__(self, model: nn.Module, epoch: int) -> dict[float, bool]:
        scales = bn_scales(model)  # once for every ratio
        fired = self.update_masks({p: _channel_mask(scales, p) for p in self.ratios}, epoch)
        for p, now in fired.items():
            if now:
                self.tickets[p] = copy.deepcopy(model.state_dict())
        return fired

    def update_masks(self, masks: dict[float, np.ndarray], epoch: int) -> dict[float, bool]:
        """Add one epoch's masks (ratio -> bool mask); returns which detectors fire now.
        ``epoch`` must be greater than the epoch of the previous call (``ValueError``
        otherwise)."""
        missing = [p for p in self.ratios if not isinstance(masks, dict) or p not in masks]
        if missing:
            raise ValueError(
                f"masks must hold a mask for every ratio {self.ratios}; missing {missing}"
            )
        epoch = check_int("epoch", epoch, 0)
        last = getattr(self, "last_epoch", None)  # absent from detectors pickled before it
        if last is not None and epoch <= last:
            raise ValueError(
                f"epoch must increase from one call to the next: got {epoch} after epoch {last} "
                "(a detector sees each epoch once, in order)"
            )
        checked = {p: check_channel_mask(f"masks[{p}]", masks[p]) for p in self.ratios}
        fired = {}
        for p in self.ratios:
            queue = self.queues[p]
            if queue and checked[p].shape != queue[-1].shape:
                raise ValueError(
                    f"mask for p={p} has shape {checked[p].shape}, earlier ones {queue[-1].shape}"
                )
            queue.append(checked[p])
            full = len(queue) == queue.maxlen
            largest = (
                max(mask_distance(queue[-1], old) for old in list(queue)[:-1])
                if full
                else float("nan")
            )
            self.distances[p].append(largest)
            fired[p] = self.fired_epoch[p] is None and full and largest <= self.threshold
            if fired[p]:
                self.fired_epoch[p] = epoch
        self.last_epoch = epoch
        return fired
