"""Benchmark: what the CIFAR experiments of Chapter 6 cost on this machine, measured on
CIFAR-shaped synthetic images (random pixels, random labels: timings only, no accuracy).

For each architecture (VGG-16, PreResNet-56, PreResNet-101), measured in one run:
  * seconds per training epoch (50,000 images, batch 256, the pipeline of
    ``spline_utils.resumable_training``: on-device augmentation, mixed precision on CUDA), dense
    and after layerwise pruning at 30/50/70% with the channels physically removed;
  * the training-time ratio dense / pruned and the inference-throughput ratio pruned / dense
    (batch 256, float32, and float16 channels-last on CUDA);
  * the early-bird detectors' cost per epoch as a fraction of the dense epoch (spline codes on
    a 30x30 and a 100x100 canvas, and the BN mask at three ratios);
  * a projection of the wall time of the full sweep of ``python -m spline_utils.experiments``
    (160 dense epochs + 15 fine-tunings + 6 early-bird retrainings of 160 epochs each): the
    measured epoch times times the epoch counts.

Writes one JSON file with provenance (``--out``). ``--quick`` shrinks everything to run on a
CPU in about a minute (a check of the script, not a measurement worth keeping).

    python benchmarks/bench_cifar_timing.py --out results/timing [--archs vgg16 preresnet56]
"""

from __future__ import annotations

import argparse
import time

import torch

from spline_utils import costs, criteria, physical
from spline_utils.early_bird import MaskEBDetector, SplineEBDetector, canvas
from spline_utils.experiments import ExperimentConfig, build_model, projected_sweep_hours
from spline_utils.experiments.image_data import ImageData
from spline_utils.experiments.provenance import write_device_record
from spline_utils.experiments.resumable_training import Schedule, train

SCHEMA = "spline-pruning-book/timing/v1"


def synthetic(n_train: int, n_test: int, classes: int, device) -> ImageData:
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n_train + n_test, 3, 32, 32), dtype=torch.uint8, generator=g)
    y = torch.randint(0, classes, (n_train + n_test,), generator=g)
    mean, std = torch.full((3,), 0.5), torch.full((3,), 0.29)
    return ImageData(
        "synthetic", x[:n_train], y[:n_train], x[n_train:], y[n_train:], classes, mean, std
    ).to(device)


def epoch_seconds(model, data, batch: int, epochs: int) -> float:
    """Wall time of the last of ``epochs`` training epochs (the first ones warm up cuDNN)."""
    result = train(
        model,
        data,
        Schedule(epochs=epochs, milestones=(), batch_size=batch, seed=1),
        progress=False,
    )
    return result.history[-1]["seconds"]


def timed(fn, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def half_throughput(model, shape, batch: int) -> float | None:
    if not torch.cuda.is_available():
        return None
    fast = model.half().to(memory_format=torch.channels_last)
    x = torch.randn(batch, *shape, device="cuda").half().to(memory_format=torch.channels_last)
    with torch.no_grad():
        for _ in range(3):
            fast(x)
        seconds = timed(lambda: [fast(x) for _ in range(10)]) / 10
    model.float().to(memory_format=torch.contiguous_format)
    return batch / seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--archs", nargs="+", default=["vgg16", "preresnet56", "preresnet101"])
    parser.add_argument("--ratios", nargs="+", type=float, default=[0.3, 0.5, 0.7])
    parser.add_argument("--out", default="results/timing")
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes, to check the script on a CPU"
    )
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cudnn.benchmark = True
    n_train, n_test, batch, warm = (512, 256, 64, 1) if args.quick else (50_000, 10_000, 256, 2)
    data = synthetic(n_train, n_test, 10, device)
    shape = (3, 32, 32)
    rows = []
    for arch in args.archs:
        config = ExperimentConfig(
            dataset="cifar10", arch=arch, width=0.125 if args.quick and arch == "vgg16" else 1.0
        )
        dense = build_model(config, 10).to(device)
        t_dense = epoch_seconds(dense, data, batch, warm)
        probe_small = canvas([data.normalise(data.x_test[i : i + 1])[0] for i in (0, 1)], 30)
        probe_large = canvas(
            [data.normalise(data.x_test[i : i + 1])[0] for i in (0, 1)], 10 if args.quick else 100
        )
        spline30, spline100 = SplineEBDetector(probe_small), SplineEBDetector(probe_large)
        masks = MaskEBDetector((0.3, 0.5, 0.7))
        row = {
            "arch": arch,
            "device": str(device),
            "epoch_seconds_dense": t_dense,
            "params_dense": costs.count_parameters(dense),
            "flops_dense": costs.count_flops(dense, shape),
            "detector_fraction": {
                "spline_canvas30": timed(lambda dense=dense, spline30=spline30: spline30(dense, 1))
                / t_dense,
                f"spline_canvas{int(len(probe_large) ** 0.5)}": timed(
                    lambda dense=dense, spline100=spline100: spline100(dense, 1), 1
                )
                / t_dense,
                "mask_3_ratios": timed(lambda dense=dense, masks=masks: masks(dense, 1)) / t_dense,
            },
            "throughput_dense": costs.throughput(dense, shape, batch, repeats=10),
            "throughput_dense_fp16": half_throughput(dense, shape, batch),
            "pruned": [],
        }
        example = data.normalise(data.x_test[:2])
        for ratio in args.ratios:
            pruned = criteria.select_units(
                criteria.unit_scores(dense, "magnitude"), ratio, "layerwise"
            )
            small = physical.remove_units(dense, pruned, example)
            t_small = epoch_seconds(small, data, batch, warm)
            tp = costs.throughput(small, shape, batch, repeats=10)
            tp16 = half_throughput(small, shape, batch)
            row["pruned"].append(
                {
                    "ratio": ratio,
                    "params": costs.count_parameters(small),
                    "flops": costs.count_flops(small, shape),
                    "epoch_seconds": t_small,
                    "training_speedup": t_dense / t_small,
                    "throughput": tp,
                    "speedup": tp / row["throughput_dense"],
                    "throughput_fp16": tp16,
                    "speedup_fp16": None if tp16 is None else tp16 / row["throughput_dense_fp16"],
                }
            )
        row["projected_sweep_hours"] = projected_sweep_hours(
            t_dense,
            [p["epoch_seconds"] for p in row["pruned"]],
            ExperimentConfig(ratios=args.ratios),
        )
        rows.append(row)
        write(
            args, device, batch, n_train, rows
        )  # after every architecture: a cut-off run keeps its rows
        print(
            f"{arch:14s} dense epoch {t_dense:7.2f} s | "
            + " | ".join(
                f"p={p['ratio']:.1f}: epoch x{p['training_speedup']:.2f} faster, "
                f"inference x{p['speedup']:.2f}"
                + (f" (fp16 x{p['speedup_fp16']:.2f})" if p["speedup_fp16"] else "")
                for p in row["pruned"]
            )
        )
        print(
            f"{'':14s} detectors per epoch: "
            + ", ".join(f"{k} {100 * v:.2f}%" for k, v in row["detector_fraction"].items())
            + f" | projected full sweep {row['projected_sweep_hours']:.1f} h"
        )
        if device.type == "cuda":
            torch.cuda.empty_cache()


def write(args, device, batch: int, n_train: int, rows: list) -> None:
    record = {
        "schema": SCHEMA,
        "synthetic_data": True,
        "quick": args.quick,
        "batch_size": batch,
        "train_images": n_train,
        "rows": rows,
    }
    print(f"written {write_device_record(args.out, 'timing', record, device, args.quick)}")


if __name__ == "__main__":
    main()
