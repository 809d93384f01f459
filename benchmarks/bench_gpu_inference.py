"""Benchmark: inference speed of physically pruned CIFAR networks on a GPU, in detail.

For VGG-16 and PreResNet-56, dense and with 30/50/70% of every prunable layer's channels removed
(layerwise), with and without rounding the kept widths up to a multiple of 8
(``criteria.round_widths``), measured in one run:
  * the median time of one forward pass (CUDA events around each pass, after warm-up), float32
    (contiguous) and float16 (channels-last), at batch 256 and 1024;
  * throughput relative to the dense network at the same precision and batch.
All variants are timed in interleaved rounds so that clock changes hit all of them alike.

Writes one JSON file with provenance (``--out``). ``--quick`` runs a tiny version on the CPU to
check the script (wall-clock timer instead of CUDA events).

    python benchmarks/bench_gpu_inference.py --out results/timing
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from spline_utils import costs, criteria, physical
from spline_utils.experiments import ExperimentConfig, build_model
from spline_utils.experiments.provenance import write_device_record

SCHEMA = "spline-pruning-book/inference/v1"


def forward_ms(model, x, iters: int) -> float:
    """Median milliseconds of one forward pass of ``x`` (no gradients)."""
    times = []
    with torch.no_grad():
        for _ in range(iters):
            if x.is_cuda:
                start, end = (
                    torch.cuda.Event(enable_timing=True),
                    torch.cuda.Event(enable_timing=True),
                )
                start.record()
                model(x)
                end.record()
                end.synchronize()
                times.append(start.elapsed_time(end))
            else:
                t0 = time.perf_counter()
                model(x)
                times.append(1000 * (time.perf_counter() - t0))
    return statistics.median(times)


def variants(arch: str, ratios, example, quick: bool) -> dict:
    """name -> (model, ratio, rounded) for the dense network and its pruned versions."""
    config = ExperimentConfig(arch=arch, width=0.125 if quick and arch == "vgg16" else 1.0)
    dense = build_model(config, 10).eval()
    out = {"dense": (dense, 0.0, False)}
    scores = criteria.unit_scores(dense, "magnitude")
    for r in ratios:
        pruned = criteria.select_units(scores, r)
        out[f"p{int(100 * r)}"] = (physical.remove_units(dense, pruned, example).eval(), r, False)
        rounded = criteria.round_widths(pruned, scores, 8)
        out[f"p{int(100 * r)}-x8"] = (
            physical.remove_units(dense, rounded, example).eval(),
            r,
            True,
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--archs", nargs="+", default=["vgg16", "preresnet56"])
    parser.add_argument("--ratios", nargs="+", type=float, default=[0.3, 0.5, 0.7])
    parser.add_argument("--out", default="results/timing")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    device = torch.device("cpu" if args.quick or not torch.cuda.is_available() else "cuda")
    torch.backends.cudnn.benchmark = True
    batches, iters, rounds, warmup = ((8,), 3, 1, 1) if args.quick else ((256, 1024), 30, 3, 10)
    precisions = ("fp32",) if device.type == "cpu" else ("fp32", "fp16")
    shape = (3, 32, 32)
    example = torch.randn(2, *shape)
    rows = []
    for arch in args.archs:
        models = variants(arch, args.ratios, example, args.quick)
        facts = {
            name: {"params": costs.count_parameters(m), "flops": costs.count_flops(m, shape)}
            for name, (m, _, _) in models.items()
        }
        for precision in precisions:
            for batch in batches:
                x = torch.randn(batch, *shape, device=device)
                ready = {}
                for name, (m, _, _) in models.items():
                    m = m.to(device)
                    xi = x
                    if precision == "fp16":
                        m = m.half().to(memory_format=torch.channels_last)
                        xi = x.half().to(memory_format=torch.channels_last)
                    forward_ms(m, xi, warmup)
                    ready[name] = (m, xi)
                samples = {name: [] for name in ready}
                for _ in range(rounds):
                    for name, (m, xi) in ready.items():
                        samples[name].append(forward_ms(m, xi, iters))
                dense_ms = min(samples["dense"])
                for name, (_, ratio, rounded) in models.items():
                    ms = min(samples[name])
                    rows.append(
                        {
                            "arch": arch,
                            "variant": name,
                            "ratio": ratio,
                            "rounded_to_8": rounded,
                            "precision": precision,
                            "batch": batch,
                            "ms": ms,
                            "images_per_s": batch / ms * 1000,
                            "speedup": dense_ms / ms,
                            **facts[name],
                        }
                    )
                line = " ".join(
                    f"{n}={dense_ms / min(s):.2f}x" for n, s in samples.items() if n != "dense"
                )
                print(f"{arch:12s} {precision} batch {batch:5d}: dense {dense_ms:.3f} ms | {line}")
                for name, (m, _, _) in models.items():
                    models[name] = (
                        m.float().to(memory_format=torch.contiguous_format).cpu(),
                    ) + models[name][1:]
    record = {
        "schema": SCHEMA,
        "synthetic_data": True,
        "quick": args.quick,
        "iterations": iters,
        "rounds": rounds,
        "rows": rows,
    }
    print(f"written {write_device_record(args.out, 'inference', record, device, args.quick)}")


if __name__ == "__main__":
    main()
