"""Benchmark: cost of extracting and bit-packing activation codes, and their memory.

Prints, measured in one run on this machine (forward and codes timed batch by batch in turn):
  * time(packed_codes) / time(plain forward pass) for a canvas of images through a VGG-style
    ConvNet (target <= 1.3);
  * bytes of the packed codes vs the bool form (one byte per bit).

The canvas is the authors' early-bird probe: alpha * x0 + beta * x1 for alpha, beta on a
side x side grid in [0, 1], from two random 3x32x32 images (no data download).

    python benchmarks/bench_codes.py                  # 10,000 images, VGG-16 layout at half width
    python benchmarks/bench_codes.py --width 1.0      # full VGG-16 widths (about 4x slower)
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import spline_utils as su


def canvas(side: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x0, x1 = torch.rand(2, 3, 32, 32, generator=g)
    ab = torch.linspace(0, 1, side)
    alpha, beta = torch.meshgrid(ab, ab, indexing="ij")
    return alpha.reshape(-1, 1, 1, 1) * x0 + beta.reshape(-1, 1, 1, 1) * x1


def paired_totals(model, images: torch.Tensor, batch_size: int, rounds: int):
    """Total wall time of the plain forward pass and of ``packed_codes`` over all batches.

    The two are timed batch by batch in turn (forward of batch b, then codes of batch b), so a
    slow spell of a shared machine hits both alike; the best total over ``rounds`` is kept.
    Returns (forward seconds, codes seconds, the PackedCodes of the last batch).
    """
    best_forward, best_codes, last = float("inf"), float("inf"), None
    for _ in range(rounds):
        t_forward = t_codes = 0.0
        for start in range(0, images.shape[0], batch_size):
            batch = images[start : start + batch_size]
            t0 = time.perf_counter()
            with torch.no_grad():
                model(batch)
            t1 = time.perf_counter()
            last = su.packed_codes(model, batch, batch_size=batch_size)
            t2 = time.perf_counter()
            t_forward, t_codes = t_forward + t1 - t0, t_codes + t2 - t1
        best_forward, best_codes = min(best_forward, t_forward), min(best_codes, t_codes)
    return best_forward, best_codes, last


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--side", type=int, default=100, help="canvas side: side**2 images (default 100)"
    )
    parser.add_argument(
        "--width", type=float, default=0.5, help="VGG-16 width multiplier (default 0.5)"
    )
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument(
        "--repeats", type=int, default=2, help="timing rounds; the best total is kept"
    )
    args = parser.parse_args()

    su.seed_everything(0)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    cfg = [c if c == "M" else max(1, int(round(c * args.width))) for c in su.VGG16_CFG]
    model = su.vgg(cfg, num_classes=10).eval()
    images = canvas(args.side)
    n = images.shape[0]

    with torch.no_grad():
        model(images[: args.batch_size])  # warm-up (allocator, kernels)
    t_forward, t_codes, last = paired_totals(model, images, args.batch_size, args.repeats)
    codes = su.packed_codes(
        model, images, batch_size=args.batch_size
    )  # the whole canvas, for memory
    assert np.array_equal(codes.data[-1][-last.n_inputs :], last.data[-1])
    bool_bytes = sum(bits * codes.n_inputs for bits in codes.n_bits)

    print(
        f"model: VGG-16 layout, width x{args.width} "
        f"({sum(p.numel() for p in model.parameters()):,} parameters), "
        f"{len(codes.names)} code layers, {sum(codes.n_bits):,} code bits per image"
    )
    print(
        f"canvas: {n:,} images of 3x32x32, batch {args.batch_size}, threads {torch.get_num_threads()}"
    )
    print(f"plain forward pass:        {t_forward:8.2f} s")
    print(f"codes extracted + packed:  {t_codes:8.2f} s")
    print(f"ratio codes / forward:     {t_codes / t_forward:8.3f}   (target <= 1.3)")
    print(f"bool codes:   {bool_bytes / 2**20:10.1f} MiB")
    print(f"packed codes: {codes.nbytes / 2**20:10.1f} MiB")
    print(
        f"ratio packed / bool:       {codes.nbytes / bool_bytes:8.4f}   (target <= 0.125 + padding)"
    )


if __name__ == "__main__":
    main()
