"""The spline early-bird detector: codes of a fixed probe set, drawn every epoch.

:class:`SplineEBDetector` draws the codes (ReLU activation signs) of a fixed probe set -- by
default the authors' "canvas" of images spanned by two test images (:func:`canvas`) -- once per
epoch, bit-packed; the distance between two epochs is the per-layer normalised Hamming distance
averaged over layers (:func:`code_set_distance`); the detector fires at the first epoch whose
largest distance to the codes of the ``window`` previous epochs is below ``threshold``. Defaults
follow the authors' code (window 3, threshold 0.16; the book's reference notes, section 3). To
calibrate for another network: train once, look at the epoch-by-epoch :func:`distance_matrix`, and
put the threshold just above the level the consecutive distances settle to.

The detector is a callable ``detector(model, epoch)`` for ``train_classifier(callbacks=[...])``; it
records the epoch it fires (``fired_epoch``; ``None`` until then) and a copy of the model's state
at that epoch (the early-bird *ticket*). A :class:`CodeRecorder` keeps every epoch's codes on disk
for the epoch-by-epoch distances; when it watches the detector's canvas, both read one
:class:`ProbeCodes`, which draws the canvas's codes once per epoch.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..checks import (
    check_bool,
    check_choice,
    check_finite,
    check_fraction,
    check_int,
)
from ..records import save_checkpoint
from ..spline_view.codes import PackedCodes, code_distance, packed_codes
from ..spline_view.model_walk import structure_of

__all__ = [
    "CodeRecorder",
    "ProbeCodes",
    "SplineEBDetector",
    "canvas",
    "code_set_distance",
    "distance_matrix",
    "load_code_sets",
    "probe_codes",
]


def _check_probe(probe) -> torch.Tensor:
    """A non-empty, finite batch of probe inputs (N, ...)."""
    if not isinstance(probe, torch.Tensor):
        try:
            probe = torch.as_tensor(probe)
        except (TypeError, ValueError, RuntimeError):
            raise TypeError(f"probe must be a tensor, got {type(probe).__name__}") from None
    if probe.dtype == torch.bool or probe.dtype.is_complex:
        raise TypeError(f"probe must hold real numbers, got dtype {probe.dtype}")
    if probe.dim() < 2 or probe.shape[0] == 0:
        raise ValueError(
            f"the probe set must be a non-empty batch (N, ...), got shape {tuple(probe.shape)}"
        )
    check_finite("probe", probe)
    return probe


def _check_kinds(kinds) -> tuple[str, ...]:
    if isinstance(kinds, str) or not hasattr(kinds, "__iter__"):
        raise TypeError(
            f"kinds must be a sequence of layer kinds ('relu', 'maxpool'), got {kinds!r}"
        )
    return tuple(check_choice("kinds entry", k, ("relu", "maxpool")) for k in kinds)


def canvas(anchors: Sequence[torch.Tensor], n: int = 100) -> torch.Tensor:
    """The authors' probe "canvas" of ``n * n`` inputs: ``alpha * x0 + beta * x1`` for alpha, beta
    on ``linspace(0, 1, n)`` with two anchors; with three, ``x0 + alpha (x1 - x0) + beta (x2 - x0)``.

    Args:
        anchors: 2 or 3 tensors (or arrays) of one shape, finite: the inputs spanning the canvas.
        n: points per side (>= 2).

    Returns:
        The canvas, float32 of shape ``(n * n, *input_shape)`` on the anchors' device; input
        ``i * n + j`` has ``alpha = i / (n - 1)``, ``beta = j / (n - 1)``.

    Raises:
        ValueError: not 2 or 3 anchors, anchors of different shapes or not finite, or ``n`` < 2.
        TypeError: ``anchors`` is not a sequence of tensors.

    Example:
        >>> x0, x1 = torch.rand(1, 8, 8), torch.rand(1, 8, 8)
        >>> probe = su.early_bird.canvas([x0, x1], n=10)
        >>> tuple(probe.shape), probe.dtype
        ((100, 1, 8, 8), torch.float32)
        >>> bool((probe[0] == 0).all())  # alpha = beta = 0
        True
        >>> torch.allclose(probe[-1], x0 + x1)  # alpha = beta = 1
        True
    """
    n = check_int("n", n, 2)
    if isinstance(anchors, (str, bytes)) or not hasattr(anchors, "__len__"):
        raise TypeError(
            f"anchors must be a sequence of 2 or 3 tensors, got {type(anchors).__name__}"
        )
    try:
        anchors = [torch.as_tensor(a, dtype=torch.float32) for a in anchors]
    except (TypeError, ValueError, RuntimeError):
        raise TypeError("anchors must be tensors (or arrays of numbers)") from None
    if len(anchors) not in (2, 3) or any(a.shape != anchors[0].shape for a in anchors):
        raise ValueError("canvas needs 2 or 3 anchors of the same shape")
    for i, a in enumerate(anchors):
        check_finite(f"anchors[{i}]", a)
    grid = torch.linspace(0, 1, n, device=anchors[0].device)
    alpha, beta = torch.meshgrid(grid, grid, indexing="ij")
    alpha, beta = (
        alpha.reshape(-1, *[1] * anchors[0].dim()),
        beta.reshape(-1, *[1] * anchors[0].dim()),
    )
    if len(anchors) == 2:
        return alpha * anchors[0] + beta * anchors[1]
    x0, x1, x2 = anchors
    return x0 + alpha * (x1 - x0) + beta * (x2 - x0)


def code_set_distance(a: PackedCodes, b: PackedCodes, kinds: Sequence[str] = ("relu",)) -> float:
    """Mean over the layers of the given kinds of the per-layer normalised Hamming distance."""
    kinds = _check_kinds(kinds)
    per_layer = code_distance(a, b)
    keep = [i for i, kind in enumerate(a.kinds) if kind in kinds]
    if not keep:
        raise ValueError(f"no layers of kinds {tuple(kinds)} in the code sets")
    return float(per_layer[keep].mean())


def distance_matrix(
    code_sets: Sequence[PackedCodes], kinds: Sequence[str] = ("relu",)
) -> np.ndarray:
    """Epoch-by-epoch distances (E, E) between stored code sets (the paper's Fig. 5)."""
    kinds = _check_kinds(kinds)
    code_sets = list(code_sets)
    bad = [type(c).__name__ for c in code_sets if not isinstance(c, PackedCodes)]
    if bad:
        raise TypeError(f"code_sets must hold PackedCodes, got {bad[0]}")
    e = len(code_sets)
    out = np.zeros((e, e))
    for i in range(e):
        for j in range(i + 1, e):
            out[i, j] = out[j, i] = code_set_distance(code_sets[i], code_sets[j], kinds)
    return out


def probe_codes(
    model: nn.Module,
    probe: torch.Tensor,
    batch_size: int = 256,
    autocast: torch.dtype | None = None,
    kinds: tuple[str, ...] = ("relu", "maxpool"),
    check_model: bool = True,
) -> PackedCodes:
    """Packed codes of ``probe`` computed in eval mode on the model's device (under
    ``torch.autocast`` in ``autocast``, if given; see
    :func:`~spline_utils.spline_view.codes.packed_codes` for ``kinds`` and ``check_model``); the
    model's train / eval mode is restored afterwards. ``model`` may be a
    :class:`~spline_utils.spline_view.structure.NetworkStructure`; the model's tree is walked
    once per call."""
    structure = structure_of(model)
    if not isinstance(probe, torch.Tensor):
        raise TypeError(f"probe must be a torch.Tensor, got {type(probe).__name__}")
    model = structure.model
    was_training = model.training
    model.eval()
    try:
        probe = probe.to(structure.dtype_device()[1])
        return packed_codes(structure, probe, batch_size, autocast, kinds, check_model)
    finally:
        model.train(was_training)


class ProbeCodes:
    """The packed codes of one probe set, drawn at most once per epoch and shared by the
    training callbacks that read them: a :class:`SplineEBDetector` and a :class:`CodeRecorder`
    watching the same canvas (the CPU protocol's 30 x 30 canvas) compute its codes once.

    Called as ``codes(model, epoch)``, it returns the
    :class:`~spline_utils.spline_view.codes.PackedCodes` of every code layer (ReLU and
    max-pooling) of ``probe``, drawn by :func:`probe_codes` with ``batch_size`` inputs per pass
    and no autocast at the epoch's first call, and the same object at every later call of that
    epoch (for that model). The model is checked at the first call only (its layers do not
    change during training). A checkpoint keeps the settings, not the codes.

    Args:
        probe: the probe inputs, shape ``(N, *input_shape)``, N >= 1, finite.
        batch_size: probe inputs per forward pass (>= 1).
    """

    def __init__(self, probe: torch.Tensor, batch_size: int = 256):
        self.probe = _check_probe(probe)
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.checked = False
        self._drawn: tuple | None = None  # (model id, epoch, codes) of the last draw

    def __call__(self, model: nn.Module, epoch: int) -> PackedCodes:
        epoch = check_int("epoch", epoch, 0)
        structure = structure_of(model)
        drawn = getattr(self, "_drawn", None)
        if drawn is not None and drawn[:2] == (id(structure.model), epoch):
            return drawn[2]
        codes = probe_codes(
            structure, self.probe, self.batch_size, None, ("relu", "maxpool"), not self.checked
        )
        self.checked = True
        self._drawn = (id(structure.model), epoch, codes)
        return codes

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_drawn"] = None  # the codes are redrawn after a resume, not checkpointed
        return state


class SplineEBDetector:
    """Spline early-bird detector on a fixed probe set; see the module doc.

    Called as ``detector(model, epoch)`` after every epoch (a ``train_classifier`` callback), it
    draws the packed codes of the probe set in eval mode and fires at the first epoch whose
    largest code distance (:func:`code_set_distance`) to the ``window`` previous epochs is below
    ``threshold``; the call returns ``True`` at that epoch only.

    Args:
        probe: the probe inputs, shape ``(N, *input_shape)``, N >= 1, finite (e.g. a
            :func:`canvas`).
        window: how many previous epochs the newest code set is compared with (>= 1).
        threshold: the distance below which the detector fires, in (0, 1).
        batch_size: probe inputs per forward pass (default: 256 on a CPU, 1024 on a GPU).
        amp: draw the codes under autocast (float16 on a GPU, bfloat16 on a CPU), as
            mixed-precision training computes the network (``None``: on a GPU only).
        keep_all: store every epoch's code set in ``history`` (for :func:`distance_matrix`);
            otherwise only the ``window`` most recent ones are kept.
        shared: a :class:`ProbeCodes` of the same probe set, whose codes are read instead of
            drawn again whenever the detector would draw them with the same settings (the same
            batch size and no autocast: on a CPU), as when a :class:`CodeRecorder` watches the
            same canvas.

    Attributes:
        fired_epoch: the epoch it fired, ``None`` until then.
        ticket: a copy of the model's ``state_dict`` at that epoch (the early-bird ticket).
        epochs: the epochs seen.
        distances: per epoch seen, the largest distance to the window (NaN until it is full).

    Raises:
        ValueError: an empty or non-finite probe set, or a parameter out of range.
        TypeError: ``probe`` is not a tensor of real numbers.

    Example:
        A network that does not change has code distance 0, so the detector fires as soon as
        its window is full:

        >>> net = su.load_network("digits_convnet")
        >>> probe = torch.rand(100, 1, 8, 8)
        >>> detector = su.early_bird.SplineEBDetector(probe, window=3)
        >>> [detector(net, epoch) for epoch in range(1, 6)]
        [False, False, False, True, False]
        >>> detector.fired_epoch, detector.distances
        (4, [nan, nan, nan, 0.0, 0.0])
    """

    #: the attributes a checkpoint leaves out (the codes shared with another callback)
    transient = ("shared",)

    def __init__(
        self,
        probe: torch.Tensor,
        window: int = 3,
        threshold: float = 0.16,
        batch_size: int | None = None,
        keep_all: bool = False,
        amp: bool | None = None,
        shared: ProbeCodes | None = None,
    ):
        probe = _check_probe(probe)
        if shared is not None and (
            not isinstance(shared, ProbeCodes) or not torch.equal(shared.probe, probe)
        ):
            raise ValueError("shared must be a ProbeCodes of the detector's own probe set")
        self.shared = shared
        window = check_int("window", window, 1)
        threshold = check_fraction("threshold", threshold, low_open=True, high_open=True)
        if batch_size is not None:
            batch_size = check_int("batch_size", batch_size, 1)
        self.amp = None if amp is None else check_bool("amp", amp)
        keep_all = check_bool("keep_all", keep_all)
        self.probe, self.window, self.threshold, self.batch_size = (
            probe,
            window,
            threshold,
            batch_size,
        )
        self.recent: deque = deque(maxlen=window)
        self.history: list[PackedCodes] = []
        self.keep_all = keep_all
        self.epochs: list[int] = []
        self.distances: list[
            float
        ] = []  # largest distance to the window, per epoch (NaN before full)
        self.fired_epoch: int | None = None
        self.ticket: dict | None = None  # the model's state_dict at the epoch it fired

    def __call__(self, model: nn.Module, epoch: int) -> bool:
        structure = structure_of(model)  # the one walk of the model's tree in this call
        cuda = structure.dtype_device()[1].type == "cuda"
        batch_size = self.batch_size or (1024 if cuda else 256)
        amp = cuda if getattr(self, "amp", None) is None else self.amp
        autocast = (torch.float16 if cuda else torch.bfloat16) if amp else None
        # the detector measures ReLU codes only, so only those are drawn -- unless a code
        # recorder draws the same canvas with the same settings, whose codes it reads; the
        # model is checked at the first call (its layers do not change during training)
        first = not getattr(self, "checked", False)
        shared = getattr(self, "shared", None)  # absent from detectors pickled before it
        if shared is not None and autocast is None and shared.batch_size == batch_size:
            codes = shared(structure, epoch).select(("relu",))
        else:
            codes = probe_codes(structure, self.probe, batch_size, autocast, ("relu",), first)
        self.checked = True
        fired = self.update_codes(codes, epoch)
        if fired:
            self.ticket = copy.deepcopy(model.state_dict())
        return fired

    def update_codes(self, codes: PackedCodes, epoch: int) -> bool:
        """Add one epoch's code set; returns True at the epoch the detector fires. ``epoch``
        must be greater than the epoch of the previous call (``ValueError`` otherwise)."""
        if not isinstance(codes, PackedCodes):
            raise TypeError(f"codes must be PackedCodes, got {type(codes).__name__}")
        epoch = check_int("epoch", epoch, 0)
        if self.epochs and epoch <= self.epochs[-1]:
            raise ValueError(
                f"epoch must increase from one call to the next: got {epoch} after epoch "
                f"{self.epochs[-1]} (a detector sees each epoch once, in order)"
            )
        if self.recent and (
            codes.names != self.recent[-1].names
            or codes.n_bits != self.recent[-1].n_bits
            or codes.n_inputs != self.recent[-1].n_inputs
        ):
            raise ValueError(
                "code sets do not match the earlier ones: same network and probe set needed"
            )
        full = len(self.recent) == self.window
        largest = (
            max(code_set_distance(codes, old) for old in self.recent) if full else float("nan")
        )
        self.recent.append(codes)
        if self.keep_all:
            self.history.append(codes)
        self.epochs.append(epoch)
        self.distances.append(largest)
        if self.fired_epoch is None and full and largest < self.threshold:
            self.fired_epoch = epoch
            return True
        return False


class CodeRecorder:
    """Training callback that writes the packed codes of a fixed probe set after every epoch to
    ``folder/epoch-NNN.pt``, so that the epoch-by-epoch :func:`distance_matrix` (the paper's
    Fig. 5) of a long training can be computed afterwards without holding every code set in
    memory or in checkpoints. ``write=False`` computes nothing (the non-writing processes of a
    data-parallel run). ``shared``: a :class:`ProbeCodes` of the same probe set and batch size,
    whose codes are read (and drawn once per epoch for every callback that reads them)."""

    #: the attributes a checkpoint leaves out (the codes shared with another callback)
    transient = ("shared",)

    def __init__(
        self,
        probe: torch.Tensor,
        folder,
        batch_size: int = 256,
        write: bool = True,
        shared: ProbeCodes | None = None,
    ):
        probe = _check_probe(probe)
        batch_size = check_int("batch_size", batch_size, 1)
        write = check_bool("write", write)
        if shared is not None and (
            not isinstance(shared, ProbeCodes)
            or shared.batch_size != batch_size
            or not torch.equal(shared.probe, probe)
        ):
            raise ValueError("shared must be a ProbeCodes of the recorder's probe and batch size")
        self.probe, self.folder, self.batch_size, self.write = probe, str(folder), batch_size, write
        self.shared = shared

    def __call__(self, model: nn.Module, epoch: int) -> None:
        epoch = check_int("epoch", epoch, 0)
        if not self.write:
            return
        shared = getattr(self, "shared", None)  # absent from recorders pickled before it
        if shared is not None:
            codes = shared(model, epoch)
        else:
            codes = probe_codes(model, self.probe, self.batch_size)
        save_checkpoint(f"{self.folder}/epoch-{epoch:03d}.pt", {"epoch": epoch, "codes": codes})


def load_code_sets(folder) -> tuple[list[int], list[PackedCodes]]:
    """The epochs and code sets a :class:`CodeRecorder` wrote to ``folder``, in epoch order."""
    paths = sorted(Path(folder).glob("epoch-*.pt"))
    if not paths:
        raise ValueError(f"no recorded code sets (epoch-*.pt) in {folder}")
    saved = [torch.load(p, weights_only=False) for p in paths]
    return [s["epoch"] for s in saved], [s["codes"] for s in saved]
