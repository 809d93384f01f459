"""What a (pruned) model costs: parameters, FLOPs and measured inference throughput."""

from __future__ import annotations

import time

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .model_walk import evaluation_mode


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (BatchNorm affine parameters included, buffers excluded)."""
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def count_flops(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Forward FLOPs for one input of shape ``input_shape`` (no batch dimension), counted by
    ``torch.utils.flop_counter`` (a multiply-add counts as 2 FLOPs; matrix products and
    convolutions only)."""
    dtype = next(model.parameters()).dtype
    device = next(model.parameters()).device
    x = torch.zeros(1, *input_shape, dtype=dtype, device=device)
    with evaluation_mode(model), FlopCounterMode(display=False) as counter:
        model(x)
    return int(counter.get_total_flops())


@torch.no_grad()
def throughput(model: nn.Module, input_shape: tuple[int, ...], batch_size: int = 64,
               repeats: int = 5, warmup: int = 2) -> float:
    """Measured inference throughput in inputs per second: the best of ``repeats`` timed
    forward passes of one batch (after ``warmup`` untimed ones), eval mode, no gradients."""
    if batch_size < 1 or repeats < 1:
        raise ValueError(f"batch_size and repeats must be >= 1, got {batch_size}, {repeats}")
    device = next(model.parameters()).device
    x = torch.randn(batch_size, *input_shape, device=device, dtype=next(model.parameters()).dtype)
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


def training_flops(model: nn.Module, input_shape: tuple[int, ...], examples: int, batch_size: int = 16) -> int:
    """FLOPs of training ``model`` on ``examples`` inputs: one forward and backward pass of a
    batch counted by ``torch.utils.flop_counter`` (the optimiser step's elementwise work is not
    counted), scaled to ``examples``. The model's weights are not changed."""
    if examples < 0 or batch_size < 1:
        raise ValueError(f"need examples >= 0 and batch_size >= 1, got {examples}, {batch_size}")
    param = next(model.parameters())
    x = torch.randn(batch_size, *input_shape, dtype=param.dtype, device=param.device)
    was_training = model.training
    model.train()
    state = {k: v.clone() for k, v in model.state_dict().items()}  # BN running stats change in train mode
    try:
        with FlopCounterMode(display=False) as counter:
            model(x).sum().backward()
    finally:
        model.zero_grad(set_to_none=True)
        model.load_state_dict(state)
        model.train(was_training)
    return int(counter.get_total_flops() * examples / batch_size)
