"""Benchmark: the exact partition engine against grid sampling, on one CPU core.

Prints, measured in one run:
  * regions per second of the exact engine for He-initialised ReLU MLPs 2-16x3-1, 2-32x4-1 and
    2-64x4-1 over [-2, 2]^2 (target >= 50,000 regions/s) and for a digits ConvNet slice (BN +
    max-pooling) through a 6 and a 9;
  * the fraction of the exact regions that 256^2 and 2048^2 grids find, and their times.

Exact-engine times are the best of at least three runs, more while they take under 2 s in all
(timings on a shared machine can vary 2x from minute to minute; the best run is the stable figure).
"x target" is the MLPs' rate over the 50,000 regions/s target.

    python benchmarks/bench_exact.py            # everything (a few minutes)
    python benchmarks/bench_exact.py --no-fine  # skip the 2048^2 grids
"""

from __future__ import annotations

import argparse
import time

import torch

import spline_utils as su


def timed(fn, repeat: int = 1, budget: float = 0.0):
    """Result of ``fn()`` and its best wall time (seconds) over ``repeat`` calls, or more calls
    while their total stays under ``budget`` seconds (at most 20)."""
    best, total, calls = float("inf"), 0.0, 0
    while calls < repeat or (total < budget and calls < 20):
        start = time.perf_counter()
        out = fn()
        elapsed = time.perf_counter() - start
        best, total, calls = min(best, elapsed), total + elapsed, calls + 1
    return out, best


TARGET = 50_000  # regions per second, for the He-initialised MLPs


def mlp(widths, seed=0):
    model = su.make_mlp(widths)
    return su.he_init_(model, bias_std=0.5, generator=torch.Generator().manual_seed(seed))


def digits_case():
    su.seed_everything(0)
    x_tr, y_tr, x_te, y_te = su.digits_tensors()
    net = su.digits_convnet()
    su.train_classifier(net, x_tr, y_tr, epochs=30, lr=0.05, progress=False)
    plane = su.PlaneSlice.through([x_te[y_te == 6][0], x_te[y_te == 9][0]])
    (u6, v6), (u9, v9) = plane.anchors.tolist()
    um, vm = (u6 + u9) / 2, (v6 + v9) / 2
    return net, (um - 0.5, um + 0.5, vm - 0.5, vm + 0.5), plane


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--no-fine", action="store_true", help="skip the 2048 x 2048 grids")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cases = [
        ("MLP 2-16x3-1", mlp([2, 16, 16, 16, 1]), (-2, 2, -2, 2), None),
        ("MLP 2-32x4-1", mlp([2, 32, 32, 32, 32, 1]), (-2, 2, -2, 2), None),
        ("MLP 2-64x4-1", mlp([2, 64, 64, 64, 64, 1]), (-2, 2, -2, 2), None),
        ("digits ConvNet slice", *digits_case()),
    ]
    su.exact_partition(cases[0][1], cases[0][2])  # warm-up
    resolutions = [256] if args.no_fine else [256, 2048]
    header = f"{'case':22s} {'regions':>8s} {'exact s':>8s} {'regions/s':>10s} {'x target':>9s}"
    header += "".join(f" {f'grid {r}^2 found':>17s} {'time s':>7s}" for r in resolutions)
    print("one CPU core (torch threads = 1)\n" + header)
    for name, model, domain, plane in cases:
        part, t_exact = timed(
            lambda model=model, domain=domain, plane=plane: su.exact_partition(
                model, domain, slice=plane
            ),
            repeat=3,
            budget=2.0,
        )
        rate = part.n_regions / t_exact
        target = f"{rate / TARGET:9.2f}" if name.startswith("MLP") else f"{'':9s}"
        row = f"{name:22s} {part.n_regions:8d} {t_exact:8.3f} {rate:10.0f} {target}"
        for res in resolutions:
            grid, t_grid = timed(
                lambda model=model, domain=domain, res=res, plane=plane: su.grid_partition(
                    model, domain, res, slice=plane, keep_preactivations=False, batch_size=1 << 15
                )
            )
            row += f" {part.grid_coverage(grid):16.1%} {t_grid:8.2f}"
        print(row, flush=True)


if __name__ == "__main__":
    main()
