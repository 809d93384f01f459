"""A minimal training loop for the small CPU models of the book."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .masks import enforce_mask_


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

    ``mask``: a :class:`~spline_utils.masks.PruningMask` re-applied after every step, so that a
    pruned model is fine-tuned without its pruned weights growing back.
    ``bn_l1``: network slimming's sparsity term ``bn_l1 * sum |gamma|`` over every BatchNorm,
    applied as ``bn_l1 * sign(gamma)`` added to gamma's gradient (0 = off).
    ``callbacks``: callables ``cb(model, epoch)`` run after every epoch (``epoch`` = epochs done,
    from 1), e.g. the early-bird detectors of :mod:`spline_utils.early_bird`; the model is put
    back in train mode after each.

    x: (N, *input_shape) float; y: (N,) int64 class labels. A model with a single output is a
    binary classifier trained with the logistic loss on ``f(x)`` (class 1 where ``f(x) > 0``).
    Returns the mean training loss per epoch. The model is left in eval mode.
    """
    if x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise ValueError(f"x and y must hold the same non-zero number of examples, got {x.shape[0]} and {y.shape[0]}")
    if epochs < 1 or batch_size < 1 or lr <= 0:
        raise ValueError(f"need epochs >= 1, batch_size >= 1, lr > 0; got {epochs}, {batch_size}, {lr}")
    if bn_l1 < 0:
        raise ValueError(f"bn_l1 must be >= 0, got {bn_l1}")
    bn_weights = [m.weight for m in model.modules()
                  if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) and m.weight is not None]
    generator = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    history = []
    model.train()
    for _ in tqdm(range(epochs), desc="training", disable=not progress, leave=False):
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
                enforce_mask_(model, mask)
            total += float(loss.detach()) * idx.numel()
        history.append(total / x.shape[0])
        for callback in callbacks:
            callback(model, len(history))
            model.train()
    model.eval()
    return history


def _loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if logits.shape[-1] == 1:
        return F.binary_cross_entropy_with_logits(logits[:, 0], y.to(logits.dtype))
    return F.cross_entropy(logits, y)


def predict(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Predicted classes (N,): argmax of the outputs, or ``f(x) > 0`` for a single output."""
    out = model(x)
    return (out[:, 0] > 0).long() if out.shape[-1] == 1 else out.argmax(1)


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of correctly classified examples (eval mode)."""
    was_training = model.training
    model.eval()
    acc = float((predict(model, x) == y).float().mean())
    model.train(was_training)
    return acc
