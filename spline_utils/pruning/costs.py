"""What a (pruned) model costs: parameters, FLOPs and measured inference throughput."""

from __future__ import annotations

import time

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ..checks import check_int, check_module
from ..spline_view.model_walk import evaluation_mode, model_dtype_device


def _check_shape(input_shape) -> tuple[int, ...]:
    """One input's shape (no batch dimension): a non-empty tuple of positive ints."""
    if (
        isinstance(input_shape, (str, bytes))
        or not isinstance(input_shape, (tuple, list, torch.Size))
        or not input_shape
    ):
        raise TypeError(
            f"input_shape must be a non-empty tuple of sizes (no batch dimension), got {input_shape!r}"
        )
    return tuple(check_int(f"input_shape[{i}]", d, 1) for i, d in enumerate(input_shape))


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (BatchNorm affine parameters included, buffers excluded)."""
    check_module("model", model)
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def count_flops(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Forward FLOPs for one input of shape ``input_shape`` (no batch dimension), counted by
    ``torch.utils.flop_counter`` (a multiply-add counts as 2 FLOPs; matrix products and
    convolutions only)."""
    check_module("model", model)
    input_shape = _check_shape(input_shape)
    dtype, device = model_dtype_device(model)
    x = torch.zeros(1, *input_shape, dtype=dtype, device=device)
    with evaluation_mode(model), FlopCounterMode(display=False) as counter:
        model(x)
    return int(counter.get_total_flops())


@torch.no_grad()
def throughput(
    model: nn.Module,
    input_shape: tuple[int, ...],
    batch_size: int = 64,
    repeats: int = 5,
    warmup: int = 2,
) -> float:
    """Measured inference throughput in inputs per second: the best of ``repeats`` timed
    forward passes of one batch (after ``warmup`` untimed ones), eval mode, no gradients."""
    check_module("model", model)
    input_shape = _check_shape(input_shape)
    batch_size = check_int("batch_size", batch_size, 1)
    repeats = check_int("repeats", repeats, 1)
    warmup = check_int("warmup", warmup, 0)
    dtype, device = model_dtype_device(model)
    x = torch.randn(batch_size, *input_shape, device=device, dtype=dtype)
    best = float("inf")
    with evaluation_mode(model):
        for i in range(warmup + repeats):
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            model(x)
            if device.type == "cuda":
                torch.cuda.synchronize()
            if i >= warmup:
                best = min(best, time.perf_counter() - start)
    return batch_size / best


def training_flops(
    model: nn.Module, input_shape: tuple[int, ...], examples: int, batch_size: int = 16
) -> int:
    """FLOPs of training ``model`` on ``examples`` inputs: one forward and backward pass of a
    batch counted by ``torch.utils.flop_counter`` (the optimiser step's elementwise work is not
    counted), scaled to ``examples``. The model's weights are not changed."""
    check_module("model", model)
    input_shape = _check_shape(input_shape)
    examples = check_int("examples", examples, 0)
    batch_size = check_int("batch_size", batch_size, 1)
    if next(model.parameters(), None) is None:
        raise ValueError("model must have parameters to train, got none")
    dtype, device = model_dtype_device(model)
    x = torch.randn(batch_size, *input_shape, dtype=dtype, device=device)
    was_training = model.training
    model.train()
    state = {
        k: v.clone() for k, v in model.state_dict().items()
    }  # BN running stats change in train mode
    try:
        with FlopCounterMode(display=False) as counter:
            model(x).sum().backward()
    finally:
        model.zero_grad(set_to_none=True)
        model.load_state_dict(state)
        model.train(was_training)
    return int(counter.get_total_flops() * examples / batch_size)
