"""Benchmark: what the early-bird detectors cost, against the floor of their design.

The spline detector draws the codes of a probe canvas once per epoch: at the least, one inference
forward pass of the network over the canvas. This benchmark measures, in one run and on every
device available (the CPU, and CUDA when there is a GPU):

  * ``forward``: one plain inference forward pass over the canvas (eval mode, no gradients, the
    detector's batch size and precision) -- the floor;
  * ``detector``: one call of the spline detector (codes recorded by hooks, bit-packed, copied to
    the CPU, and the distances to the previous epochs);
  * their ratio (target: at most 1.5);
  * the mask detector's time per call (three ratios: a sort of the BatchNorm scales);
  * memory per stored code set (packed bytes), against the bool form.

The network is VGG-16 (CIFAR variant, random weights: the cost depends on the widths only) and the
canvas the authors' 100 x 100 images (``--canvas``). ``--profile`` adds a ``torch.profiler`` table
of the detector call's most expensive operations.

    python benchmarks/bench_early_bird.py [--canvas 100] [--repeats 2] [--profile]
"""

from __future__ import annotations

import argparse
import time

import torch

import spline_utils as su
from spline_utils.early_bird import MaskEBDetector, SplineEBDetector, canvas


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device: torch.device, repeats: int) -> float:
    """Best wall time of ``repeats`` calls, after one warm-up call."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return best


def measure(device: torch.device, side: int, repeats: int, profile: bool) -> None:
    torch.manual_seed(0)
    net = su.vgg().to(device).eval()
    probe = canvas([torch.randn(3, 32, 32), torch.randn(3, 32, 32)], n=side).to(device)
    spline = SplineEBDetector(probe, window=3)
    cuda = device.type == "cuda"
    batch = 1024 if cuda else 256  # the detector's defaults
    precision = torch.float16 if cuda else None

    def forward():
        with torch.no_grad(), torch.autocast(device.type, dtype=precision, enabled=cuda):
            for start in range(0, len(probe), batch):
                net(probe[start : start + batch])

    for epoch in range(1, 4):  # fill the window: later calls also compute 3 distances
        spline(net, epoch)
    calls = iter(range(4, 10_000))
    t_forward = timed(forward, device, repeats)
    t_detector = timed(lambda: spline(net, next(calls)), device, repeats)
    masks = MaskEBDetector()
    mask_calls = iter(range(1, 10_000))
    t_mask = timed(lambda: masks(net, next(mask_calls)), device, repeats)
    codes = spline.recent[-1]
    bits, packed = sum(codes.n_bits), codes.nbytes
    name = torch.cuda.get_device_name(device) if cuda else f"CPU, {torch.get_num_threads()} threads"
    print(
        f"\nVGG-16 on {name}; {side}x{side} canvas ({len(probe)} images), batch {batch}, "
        f"{'float16 autocast' if cuda else 'float32'}"
    )
    print(f"  forward pass over the canvas (the floor): {t_forward:8.3f} s")
    print(f"  spline detector call:                     {t_detector:8.3f} s")
    print(
        f"  ratio detector / forward:                 {t_detector / t_forward:8.2f}  "
        "(target <= 1.5)"
    )
    print(f"  mask detector call (3 ratios):            {t_mask * 1e3:8.2f} ms")
    print(
        f"  one stored code set: packed {packed / 2**20:.1f} MiB, "
        f"bool {bits * len(probe) / 2**20:.1f} MiB"
    )
    if profile:
        from torch.profiler import ProfilerActivity
        from torch.profiler import profile as torch_profile

        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
        with torch_profile(activities=activities) as prof:
            spline(net, next(calls))
            _sync(device)
        key = "cuda_time_total" if cuda else "cpu_time_total"
        print(prof.key_averages().table(sort_by=key, row_limit=12, max_name_column_width=40))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--canvas", type=int, default=100, help="probe canvas side (n x n images)")
    parser.add_argument("--repeats", type=int, default=2, help="timed calls (best is reported)")
    parser.add_argument("--profile", action="store_true", help="profile one detector call")
    args = parser.parse_args()
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    for device in devices:
        measure(device, args.canvas, args.repeats, args.profile)
    if len(devices) == 1:
        print("\nno CUDA device here: the GPU ratio is not measured in this run")


if __name__ == "__main__":
    main()
