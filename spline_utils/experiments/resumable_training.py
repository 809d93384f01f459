"""The training loop of Chapter 6: SGD with a step schedule, CIFAR augmentation, optional
BatchNorm L1 sparsity, mixed precision on CUDA, data parallelism under ``torchrun``, a
checkpoint after every epoch and automatic resume.

Resuming is exact: the example order and the augmentation of epoch ``e`` are drawn from a
generator seeded by ``(seed, e)`` alone, and the checkpoint holds the model, the optimiser, the
loss scaler, the history and the callbacks (e.g. early-bird detectors with their stored code
sets). A run killed at any point and started again repeats the interrupted epoch and ends with
the same weights and metrics as a run that was never interrupted (bit for bit on the CPU).
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..checks import check_bool, check_int, check_module, check_real, check_sequence
from ..records import load_checkpoint, save_checkpoint
from . import distributed as ddp
from .image_data import ImageData, augment


@dataclass
class Schedule:
    """One training run's hyper-parameters (the EB paper's CIFAR schedule by default:
    SGD lr 0.1, momentum 0.9, weight decay 1e-4, 160 epochs, lr x0.1 at epochs 80 and 120,
    batch 256). ``bn_l1``: network slimming's sparsity ``bn_l1 * sum |gamma|`` (0 = off).
    ``batch_size`` is the global batch, split evenly over ``torchrun`` processes."""

    epochs: int = 160
    lr: float = 0.1
    milestones: tuple[int, ...] = (80, 120)
    momentum: float = 0.9
    weight_decay: float = 1e-4
    batch_size: int = 256
    bn_l1: float = 0.0
    seed: int = 0
    augment: bool = True

    def __post_init__(self):
        self.milestones = tuple(
            check_sequence("milestones", self.milestones, check_int, non_empty=False)
        )
        self.epochs = check_int("epochs", self.epochs, 1)
        self.lr = check_real("lr", self.lr, 0.0, low_open=True)
        self.batch_size = check_int("batch_size", self.batch_size, 1)
        if list(self.milestones) != sorted(set(self.milestones)) or any(
            not 0 < m < self.epochs for m in self.milestones
        ):
            raise ValueError(
                f"milestones must be increasing epochs in (0, {self.epochs}), got {self.milestones}"
            )
        self.momentum = check_real("momentum", self.momentum, 0.0)
        self.weight_decay = check_real("weight_decay", self.weight_decay, 0.0)
        self.bn_l1 = check_real("bn_l1", self.bn_l1, 0.0)
        self.seed = check_int("seed", self.seed, 0)
        self.augment = check_bool("augment", self.augment)

    def lr_at(self, epoch: int) -> float:
        """Learning rate of 0-based ``epoch``: ``lr * 0.1 ** (milestones passed)``."""
        epoch = check_int("epoch", epoch, 0)
        return self.lr * 0.1 ** sum(epoch >= m for m in self.milestones)

    def scaled(self, epochs: int) -> Schedule:
        """The same schedule stretched to ``epochs`` (milestones at the same fractions)."""
        epochs = check_int("epochs", epochs, 1)
        fractions = [m / self.epochs for m in self.milestones]
        milestones = (
            sorted({min(max(1, round(f * epochs)), epochs - 1) for f in fractions})
            if epochs > 1
            else []
        )
        return Schedule(**{**asdict(self), "epochs": epochs, "milestones": tuple(milestones)})


@dataclass
class TrainResult:
    """What :func:`train` returns: the history (one dict per epoch: epoch, lr, train_loss,
    train_acc, test_acc, seconds) and the callbacks' final state."""

    history: list[dict] = field(default_factory=list)
    callbacks: list = field(default_factory=list)

    @property
    def seconds(self) -> float:
        """Wall time of all epochs, including those run before an interruption."""
        return float(sum(h["seconds"] for h in self.history))

    @property
    def test_acc(self) -> float:
        return self.history[-1]["test_acc"]


def _batches(n: int, batch_size: int, generator: torch.Generator):
    order = torch.randperm(n, generator=generator)
    world, me = ddp.world_size(), ddp.rank()
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        if len(idx) < 2 * world:  # too few to give every process two examples (BatchNorm)
            return
        yield idx[me::world]


@torch.no_grad()
def evaluate(model: nn.Module, data: ImageData, amp: bool = False, batch_size: int = 1000) -> float:
    """Test accuracy (fraction correct) in eval mode; the model's mode is restored."""
    check_module("model", model)
    if not isinstance(data, ImageData):
        raise TypeError(f"data must be an ImageData, got {type(data).__name__}")
    batch_size = check_int("batch_size", batch_size, 1)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    correct = 0
    for start in range(0, len(data.y_test), batch_size):
        x = data.normalise(data.x_test[start : start + batch_size].to(device, non_blocking=True))
        with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
            correct += int(
                (model(x).argmax(1) == data.y_test[start : start + batch_size].to(device)).sum()
            )
    model.train(was_training)
    return correct / len(data.y_test)


@torch.no_grad()
def recalibrated_batchnorm(
    model: nn.Module, data: ImageData, batch_size: int = 1000, max_images: int | None = None
) -> nn.Module:
    """A copy of ``model`` whose BatchNorm running statistics are recomputed on the training
    images, with every weight unchanged: a pruned network evaluated without stale statistics.

    The standard procedure (as ``torch.optim.swa_utils.update_bn``): the copy runs in training
    mode over the unaugmented training images in order, in full batches of ``batch_size`` (the
    remainder is left out, so that every batch weighs the same), and each BatchNorm keeps the
    plain average of its batch statistics (``momentum=None``).

    Args:
        model: the network (left unchanged).
        data: the images whose training split gives the statistics.
        batch_size: images per forward pass (>= 2).
        max_images: use only the first this many training images (default: all).

    Returns:
        The recalibrated copy, in eval mode.
    """
    check_module("model", model)
    if not isinstance(data, ImageData):
        raise TypeError(f"data must be an ImageData, got {type(data).__name__}")
    batch_size = check_int("batch_size", batch_size, 2)
    n = (
        len(data.y_train)
        if max_images is None
        else min(check_int("max_images", max_images, 2), len(data.y_train))
    )
    copy_ = copy.deepcopy(model)
    norms = [m for m in copy_.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return copy_.eval()
    device = next(copy_.parameters()).device
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over all batches
    copy_.train()
    if n < batch_size:
        batch_size = n
    for start in range(0, n - batch_size + 1, batch_size):
        copy_(data.normalise(data.x_train[start : start + batch_size].to(device)))
    return copy_.eval()


def checkpoint_state(callback) -> dict:
    """A callback's attributes as a checkpoint keeps them: all but those it names in its
    ``transient`` class attribute (objects shared with other callbacks, rebuilt by the run)."""
    transient = getattr(type(callback), "transient", ())
    return {k: v for k, v in vars(callback).items() if k not in transient}


def train(
    model: nn.Module,
    data: ImageData,
    schedule: Schedule,
    checkpoint: str | Path | None = None,
    callbacks=(),
    amp: bool | None = None,
    progress: bool = True,
    desc: str = "training",
) -> TrainResult:
    """Train ``model`` (already on its device) on ``data`` by ``schedule``, resuming from
    ``checkpoint`` when that file exists and saving it after every epoch (rank 0 only).

    Args:
        model: the network, already on its device; trained in place.
        data: the images (:class:`~spline_utils.experiments.image_data.ImageData`).
        schedule: the hyper-parameters (:class:`Schedule`).
        checkpoint: the checkpoint file, resumed from when it exists and written after every
            epoch; ``None`` keeps no checkpoint.
        callbacks: objects called as ``cb(model, epoch)`` after each epoch (epoch counted from
            1) in eval mode, e.g. an early-bird detector
            (:class:`~spline_utils.early_bird.spline_detector.SplineEBDetector`); their
            attributes are checkpointed and restored on resume.
        amp: float16 autocast with loss scaling (default: on for CUDA).
        progress: show a progress bar (rank 0 only).
        desc: the progress bar's label.

    Returns:
        A :class:`TrainResult`; the model is left in eval mode.

    Raises:
        TypeError: ``data`` or ``schedule`` of the wrong type, or a callback not callable.
        ValueError: the model has no parameters, ``amp=True`` off CUDA, or the checkpoint holds
            another number of callbacks.
    """
    check_module("model", model)
    if not isinstance(data, ImageData):
        raise TypeError(f"data must be an ImageData, got {type(data).__name__}")
    if not isinstance(schedule, Schedule):
        raise TypeError(f"schedule must be a Schedule, got {type(schedule).__name__}")
    if next(model.parameters(), None) is None:
        raise ValueError("model must have parameters to train, got none")
    if not all(callable(cb) for cb in callbacks):
        raise TypeError("callbacks must be callables cb(model, epoch)")
    device = next(model.parameters()).device
    amp = device.type == "cuda" if amp is None else bool(amp)
    if amp and device.type != "cuda":
        raise ValueError("mixed precision (amp=True) needs the model on a CUDA device")
    net = ddp.wrap(model)
    bn_weights = [
        m.weight
        for m in model.modules()
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) and m.weight is not None
    ]
    opt = torch.optim.SGD(
        model.parameters(),
        lr=schedule.lr,
        momentum=schedule.momentum,
        weight_decay=schedule.weight_decay,
    )
    scaler = torch.amp.GradScaler(device.type, enabled=amp)
    result = TrainResult(callbacks=list(callbacks))
    state = load_checkpoint(checkpoint, map_location=device) if checkpoint is not None else None
    if state is not None:
        if len(state["callbacks"]) != len(result.callbacks):
            raise ValueError(
                f"checkpoint {checkpoint} holds {len(state['callbacks'])} callbacks, "
                f"this run has {len(result.callbacks)}: delete it to start afresh"
            )
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        scaler.load_state_dict(state["scaler"])
        result.history = state["history"]
        for cb, saved in zip(result.callbacks, state["callbacks"]):
            cb.__dict__.update(saved)
    first = len(result.history)
    bar = tqdm(
        range(first, schedule.epochs),
        desc=desc,
        initial=first,
        total=schedule.epochs,
        disable=not (progress and ddp.is_main()),
        leave=False,
    )
    for epoch in bar:
        start = time.perf_counter()
        for group in opt.param_groups:
            group["lr"] = schedule.lr_at(epoch)
        generator = torch.Generator().manual_seed(schedule.seed * 1_000_003 + epoch)
        net.train()
        loss_sum, hits, seen = 0.0, 0.0, 0.0
        for idx in _batches(len(data.y_train), schedule.batch_size, generator):
            x = data.x_train[idx.to(data.x_train.device)].to(device, non_blocking=True)
            if schedule.augment:
                x = augment(x, generator)
            x = data.normalise(x)
            y = data.y_train[idx.to(data.y_train.device)].to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
                logits = net(x)
                loss = F.cross_entropy(logits, y)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if schedule.bn_l1:
                scaler.unscale_(opt)
                for gamma in bn_weights:
                    gamma.grad.add_(schedule.bn_l1 * torch.sign(gamma.detach()))
            scaler.step(opt)
            scaler.update()
            loss_sum += float(loss.detach()) * len(y)
            hits += float((logits.detach().argmax(1) == y).sum())
            seen += len(y)
        loss_sum, hits, seen = ddp.all_sum([loss_sum, hits, seen], device)
        ddp.sync_buffers(model)
        entry = {
            "epoch": epoch + 1,
            "lr": schedule.lr_at(epoch),
            "train_loss": loss_sum / seen,
            "train_acc": hits / seen,
            "test_acc": evaluate(model, data, amp),
        }
        for cb in result.callbacks:
            cb(model, epoch + 1)
        entry["seconds"] = time.perf_counter() - start
        result.history.append(entry)
        bar.set_postfix(loss=f"{entry['train_loss']:.3f}", test_acc=f"{entry['test_acc']:.3f}")
        if checkpoint is not None and ddp.is_main():
            save_checkpoint(
                checkpoint,
                {
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "scaler": scaler.state_dict(),
                    "history": result.history,
                    "callbacks": [checkpoint_state(cb) for cb in result.callbacks],
                },
            )
        ddp.barrier()
    model.eval()
    return result
