"""Benchmark: cost of extracting and bit-packing activation codes, and their memory.

Prints, measured in one run on this machine:
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

import torch

import spline_utils as su


def canvas(side: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x0, x1 = torch.rand(2, 3, 32, 32, generator=g)
    ab = torch.linspace(0, 1, side)
    alpha, beta = torch.meshgrid(ab, ab, indexing="ij")
    return alpha.reshape(-1, 1, 1, 1) * x0 + beta.reshape(-1, 1, 1, 1) * x1


def interleaved_best(fns, repeats: int) -> list[float]:
    """Best wall time of each function over ``repeats`` rounds, run in turn within each round
    (so a slow spell of the machine hits both measurements alike)."""
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--side", type=int, default=100, help="canvas side: side**2 images (default 100)")
    parser.add_argument("--width", type=float, default=0.5, help="VGG-16 width multiplier (default 0.5)")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3, help="timing rounds; the best is kept")
    args = parser.parse_args()

    su.seed_everything(0)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    cfg = [c if c == "M" else max(1, int(round(c * args.width))) for c in su.VGG16_CFG]
    model = su.vgg(cfg, num_classes=10).eval()
    images = canvas(args.side)
    n = images.shape[0]

    def forward_only():
        with torch.no_grad():
            for start in range(0, n, args.batch_size):
                model(images[start : start + args.batch_size])

    holder = {}

    def codes_and_pack():
        holder["codes"] = su.packed_codes(model, images, batch_size=args.batch_size)

    forward_only()  # warm-up (allocator, kernels)
    t_forward, t_codes = interleaved_best([forward_only, codes_and_pack], args.repeats)
    codes = holder["codes"]
    bool_bytes = sum(bits * codes.n_inputs for bits in codes.n_bits)

    print(f"model: VGG-16 layout, width x{args.width} ({sum(p.numel() for p in model.parameters()):,} parameters), "
          f"{len(codes.names)} code layers, {sum(codes.n_bits):,} code bits per image")
    print(f"canvas: {n:,} images of 3x32x32, batch {args.batch_size}, threads {torch.get_num_threads()}")
    print(f"plain forward pass:        {t_forward:8.2f} s")
    print(f"codes extracted + packed:  {t_codes:8.2f} s")
    print(f"ratio codes / forward:     {t_codes / t_forward:8.3f}   (target <= 1.3)")
    print(f"bool codes:   {bool_bytes / 2**20:10.1f} MiB")
    print(f"packed codes: {codes.nbytes / 2**20:10.1f} MiB")
    print(f"ratio packed / bool:       {codes.nbytes / bool_bytes:8.4f}   (target <= 0.125 + padding)")


if __name__ == "__main__":
    main()
