"""A minimal training loop for the small CPU models of the book."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import check_bool, check_int, check_module, check_real, check_tensor
from ..pruning.masks import check_mask, enforce_mask_
from ..spline_view.model_walk import evaluation_mode
from ..spline_view.structure import NetworkStructure
from .progress import progress_bar


def train_classifier(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    epochs: int = 50,
    lr: float = 0.05,
    batch_size: int = 128,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    seed: int = 0,
    progress: bool = True,
    mask=None,
    bn_l1: float = 0.0,
    callbacks=(),
) -> list[float]:
    """Train with SGD on cross-entropy (mini-batches, reshuffled each epoch with ``seed``).

    A model with a single output is a binary classifier trained with the logistic loss on
    ``f(x)`` (class 1 where ``f(x) > 0``). Training happens in place, on the CPU or wherever
    ``model`` and the data live.

    Args:
        model: the network, trained in place.
        x: inputs, float of shape ``(N, *input_shape)``.
        y: class labels, int64 of shape (N,), in ``[0, classes)``.
        epochs: passes over the data (>= 1).
        lr: learning rate (> 0).
        batch_size: examples per step (>= 1).
        momentum: SGD momentum (>= 0).
        weight_decay: SGD weight decay (>= 0).
        seed: seed of the shuffling (the model's initialisation is not touched).
        progress: show a progress bar.
        mask: a :class:`~spline_utils.pruning.masks.PruningMask` re-applied after every step,
            so that a pruned model is fine-tuned without its pruned weights growing back.
        bn_l1: network slimming's sparsity term ``bn_l1 * sum |gamma|`` over every BatchNorm,
            applied as ``bn_l1 * sign(gamma)`` added to gamma's gradient (0 = off).
        callbacks: callables ``cb(model, epoch)`` run after every epoch (``epoch`` = epochs
            done, from 1), e.g. the early-bird detectors of :mod:`spline_utils.early_bird`; the
            model is put back in train mode after each.

    Returns:
        The mean training loss per epoch (a list of ``epochs`` floats). The model is left in
        eval mode.

    Raises:
        ValueError: ``x`` and ``y`` differ in length or are empty, a label does not fit the
            model's outputs, a hyper-parameter is out of range, or ``mask`` does not fit the
            model.
        TypeError: ``y`` is not a tensor, or a callback is not callable.

    Example:
        >>> x, y = su.x_shaped_data(n=200, seed=0)
        >>> _ = torch.manual_seed(0)
        >>> net = su.make_mlp([2, 8, 1])
        >>> losses = su.train_classifier(
        ...     net, x, y, epochs=5, batch_size=50, progress=False
        ... )
        >>> len(losses), losses[-1] < losses[0], net.training
        (5, True, False)
    """
    check_module("model", model)
    x = check_tensor("x", x, min_dim=2)
    y = _check_labels(y)
    if x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise ValueError(
            f"x and y must hold the same non-zero number of examples, got {x.shape[0]} and {y.shape[0]}"
        )
    epochs = check_int("epochs", epochs, 1)
    batch_size = check_int("batch_size", batch_size, 1)
    lr = check_real("lr", lr, 0.0, low_open=True)
    momentum = check_real("momentum", momentum, 0.0)
    weight_decay = check_real("weight_decay", weight_decay, 0.0)
    seed = check_int("seed", seed, 0)
    progress = check_bool("progress", progress)
    bn_l1 = check_real("bn_l1", bn_l1, 0.0)
    structure = NetworkStructure(model)  # found once: the mask is re-applied after every step
    if mask is not None:
        check_mask(structure, mask)
    callbacks = list(callbacks)
    if not all(callable(cb) for cb in callbacks):
        raise TypeError("callbacks must be callables cb(model, epoch)")
    with torch.no_grad(), evaluation_mode(structure):  # the labels must fit the model's outputs
        outputs = model(x[:1]).shape[-1]
    classes = 2 if outputs == 1 else outputs
    if int(y.max()) >= classes:
        raise ValueError(
            f"y must hold class labels in [0, {classes}) for a model with {outputs} output(s), "
            f"got label {int(y.max())}"
        )
    bn_weights = [
        m.weight
        for _, m in structure.modules
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) and m.weight is not None
    ]
    generator = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    history = []
    model.train()
    for _ in progress_bar(range(epochs), desc="training", disable=not progress, leave=False):
        order = torch.randperm(x.shape[0], generator=generator)
        total = 0.0
        for start in range(0, x.shape[0], batch_size):
            idx = order[start : start + batch_size]
            loss = _loss(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            if bn_l1:
                for gamma in bn_weights:
                    gamma.grad.add_(bn_l1 * torch.sign(gamma.detach()))
            opt.step()
            if mask is not None:
                enforce_mask_(structure, mask)
            total += float(loss.detach()) * idx.numel()
        history.append(total / x.shape[0])
        for callback in callbacks:
            callback(model, len(history))
            model.train()
    model.eval()
    return history


def _check_labels(y) -> torch.Tensor:
    """Class labels: a 1-D integer tensor of non-negative values."""
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"y must be a torch.Tensor of class labels, got {type(y).__name__}")
    if y.dtype.is_floating_point or y.dtype.is_complex or y.dtype == torch.bool or y.dim() != 1:
        raise ValueError(
            f"y must be a 1-D integer tensor of class labels, got {y.dtype} of shape {tuple(y.shape)}"
        )
    if y.numel() and int(y.min()) < 0:
        raise ValueError(f"y must hold class labels >= 0, got {int(y.min())}")
    return y


def _loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if logits.shape[-1] == 1:
        return F.binary_cross_entropy_with_logits(logits[:, 0], y.to(logits.dtype))
    return F.cross_entropy(logits, y)


def predict(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Predicted classes (N,): argmax of the outputs, or ``f(x) > 0`` for a single output."""
    check_module("model", model)
    check_tensor("x", x, min_dim=2, non_empty=True)
    out = model(x)
    return (out[:, 0] > 0).long() if out.shape[-1] == 1 else out.argmax(1)


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of correctly classified examples (eval mode).

    A prediction is the argmax of the outputs, or ``f(x) > 0`` for a single output. The model's
    train / eval mode is restored afterwards.

    Args:
        model: the classifier.
        x: inputs of shape ``(N, *input_shape)``, on the model's device and in its dtype.
        y: class labels, int64 of shape (N,).

    Returns:
        The accuracy, a Python float in [0, 1].

    Raises:
        ValueError: ``x`` and ``y`` differ in length, or ``y`` is not a 1-D integer tensor of
            labels >= 0.
        TypeError: ``y`` is not a tensor.

    Example:
        >>> x, y = su.x_shaped_data(n=2000, seed=0)  # its training data
        >>> round(su.accuracy(su.load_network("toy_mlp"), x, y), 2)
        0.99
    """
    check_module("model", model)
    y = _check_labels(y)
    if not isinstance(x, torch.Tensor) or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"x and y must hold the same number of examples, got {getattr(x, 'shape', None)} and "
            f"{tuple(y.shape)}"
        )
    was_training = model.training
    model.eval()
    acc = float((predict(model, x) == y).float().mean())
    model.train(was_training)
    return acc
