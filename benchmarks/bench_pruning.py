"""Benchmark: VGG-16 (CIFAR variant, BN) with 50% of the channels of every conv layer removed.

Prints, measured in one run on this machine's CPU:
  * the FLOPs ratio dense / pruned (target >= 3.5x fewer FLOPs), counted by
    torch.utils.flop_counter for one 3x32x32 input;
  * the parameter ratio;
  * the inference throughput ratio pruned / dense (target >= 1.6x), each the best of several timed
    batches, the two models measured alternately so machine noise hits both.

The channels are chosen by network slimming's |gamma| on a randomly initialised network with
random BatchNorm statistics: the costs depend only on the widths, not on which channels go.

    python benchmarks/bench_pruning.py [--batch 64] [--rounds 5]
"""

from __future__ import annotations

import argparse

import torch

import spline_utils as su
from spline_utils import costs, criteria, physical


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5, help="alternating timing rounds")
    args = parser.parse_args()
    torch.manual_seed(0)
    dense = su.vgg().eval()
    with torch.no_grad():
        for m in dense.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.1, 1.0)
                m.running_var.uniform_(0.5, 1.5)
    pruned_units = criteria.select_units(criteria.unit_scores(dense, "slimming"), 0.5)
    small = physical.remove_units(dense, pruned_units, torch.randn(2, 3, 32, 32))
    shape = (3, 32, 32)
    flops = costs.count_flops(dense, shape) / costs.count_flops(small, shape)
    params = costs.count_parameters(dense) / costs.count_parameters(small)
    best_dense = best_small = 0.0
    for _ in range(args.rounds):
        best_dense = max(
            best_dense, costs.throughput(dense, shape, args.batch, repeats=2, warmup=1)
        )
        best_small = max(
            best_small, costs.throughput(small, shape, args.batch, repeats=2, warmup=1)
        )
    print(
        f"VGG-16, 50% of every conv layer's channels removed; torch threads = {torch.get_num_threads()}"
    )
    print(f"FLOPs ratio dense / pruned:       {flops:.2f}x   (target >= 3.5x)")
    print(f"parameter ratio dense / pruned:   {params:.2f}x")
    print(f"throughput dense:  {best_dense:8.1f} images/s (batch {args.batch})")
    print(f"throughput pruned: {best_small:8.1f} images/s")
    print(f"throughput ratio pruned / dense:  {best_small / best_dense:.2f}x   (target >= 1.6x)")


if __name__ == "__main__":
    main()
