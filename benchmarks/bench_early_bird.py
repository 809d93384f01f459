"""Benchmark: cost of the early-bird detectors for VGG-16 on CIFAR-sized inputs (CPU).

Prints, measured in one run:
  * the spline detector's time per epoch (codes of a probe canvas, bit-packed, and the distances
    to the previous 3 epochs) as a fraction of one training epoch of 50,000 images; the epoch
    time is extrapolated from timed training steps (forward, backward, SGD) on random batches;
  * the mask detector's time per epoch (three ratios) as the same fraction;
  * memory per stored code set: measured packed bytes per probe image, times the probe size,
    for the authors' 100 x 100 canvas (10,000 images), against the bool form.

Target: detector overhead <= 1% of the epoch's training time.

    python benchmarks/bench_early_bird.py [--canvas 30]
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

import spline_utils as su
from spline_utils.early_bird import MaskEBDetector, SplineEBDetector, canvas


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--canvas", type=int, default=30, help="probe canvas side (n x n images)")
    parser.add_argument("--steps", type=int, default=3, help="timed training steps of batch 64")
    args = parser.parse_args()
    torch.manual_seed(0)
    net = su.vgg()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.randn(64, 3, 32, 32), torch.randint(0, 10, (64,))
    net.train()
    start = None
    for step in range(args.steps + 1):  # the first step is a warm-up
        if step == 1:
            start = time.perf_counter()
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    per_image = (time.perf_counter() - start) / (args.steps * 64)
    epoch = 50_000 * per_image
    probe = canvas([torch.randn(3, 32, 32), torch.randn(3, 32, 32)], n=args.canvas)
    spline = SplineEBDetector(probe, batch_size=128)
    masks = MaskEBDetector()
    spline_times, mask_times = [], []
    for e in range(1, 5):  # 4 epochs: the last ones also compute 3 distances
        start = time.perf_counter()
        spline(net, e)
        spline_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        masks(net, e)
        mask_times.append(time.perf_counter() - start)
    codes = spline.recent[-1]
    bits_per_image = sum(codes.n_bits)
    packed_per_image = codes.nbytes / codes.n_inputs
    print(f"VGG-16, CPU, torch threads = {torch.get_num_threads()}")
    print(
        f"training: {per_image * 1e3:.1f} ms per image -> one 50,000-image epoch "
        f"~ {epoch / 60:.1f} min (extrapolated)"
    )
    print(
        f"spline detector, {args.canvas}x{args.canvas} canvas ({len(probe)} images): "
        f"{spline_times[-1]:.2f} s per epoch = {spline_times[-1] / epoch:.2%} of the epoch "
        "(target <= 1%)"
    )
    print(
        f"mask detector (p = 0.3, 0.5, 0.7): {mask_times[-1] * 1e3:.1f} ms per epoch "
        f"= {mask_times[-1] / epoch:.4%} of the epoch"
    )
    print(
        f"codes: {bits_per_image} bits per image; packed {packed_per_image:.0f} B "
        f"vs bool {bits_per_image} B per image"
    )
    print(
        "one stored code set of the 100x100 canvas (10,000 images): "
        f"packed {packed_per_image * 1e4 / 2**20:.1f} MiB, "
        f"bool {bits_per_image * 1e4 / 2**20:.1f} MiB, float32 {4 * bits_per_image * 1e4 / 2**30:.2f} GiB"
    )


if __name__ == "__main__":
    main()
