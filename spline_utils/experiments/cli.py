"""The command line of the experiments:
``python -m spline_utils.experiments {run,table,trajectory} ...``
(see :mod:`spline_utils.experiments.protocols` for what a run does).

Every error of the command line -- a bad flag, an unusable ``--out`` folder, an invalid or
truncated JSON file -- ends in one line on stderr naming the flag or the file, and a non-zero
exit status, never a traceback. A ``run`` checks its arguments and its experiment folder before
it loads any data or writes any file, so a refused run leaves nothing behind."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path

import torch

from ..early_bird.trajectory import write_code_trajectory
from ..mode import run_mode
from ..pruning.methods import DETECTORS, METHODS
from . import distributed as ddp
from .config import ARCHS, ExperimentConfig, check_experiment_folder, preset
from .protocols import run_experiment
from .results_files import load_results
from .resumable_training import Schedule


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (exit status 2)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _fail(message: str, status: int = 1) -> int:
    """Print one error line on stderr; return the exit status."""
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    return status


#: the settings whose errors (``"ratios must be ..."``) name a flag of ``run``
_FLAGGED = (
    "seed",
    "methods",
    "detectors",
    "ratios",
    "eb_runs",
    "train_size",
    "epochs",
    "finetune_epochs",
    "batch_size",
    "lr",
    "bn_l1",
    "width",
    "canvas",
    "record_codes",
)


def _with_flag(message: str) -> str:
    """``"--ratios: ratios must be ..."`` for a message about a setting that a flag sets."""
    first = message.split(" ", 1)[0]
    return f"--{first.replace('_', '-')}: {message}" if first in _FLAGGED else message


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m spline_utils.experiments",
        description="Spline-pruning experiments of Chapter 6 (resumable).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run", help="run or resume one experiment (dense training, pruning, early bird)"
    )
    run.add_argument(
        "--mode",
        choices=("quick", "cpu", "cpu-long", "full"),
        default=None,
        help="quick: digits smoke run on the CPU; cpu: the real-data protocol a 2-core CPU "
        "finishes (Fashion-MNIST, 15 epochs); cpu-long: the early-bird papers' regime on a CPU "
        "(Fashion-MNIST, 60,000 images, 30 epochs); full: the EB paper's schedule, a GPU's work "
        "(default: SPLINE_BOOK_MODE / auto)",
    )
    run.add_argument(
        "--dataset",
        choices=("cifar10", "cifar100", "fashion-mnist"),
        default=None,
        help="default: cifar10 (full), fashion-mnist (cpu); quick mode uses the digits",
    )
    run.add_argument("--arch", choices=ARCHS, default="vgg16")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument(
        "--methods", nargs="+", choices=METHODS, help="protocol 1 pruning methods (default: all)"
    )
    run.add_argument(
        "--detectors", nargs="*", choices=DETECTORS, help="early-bird detectors (default: both)"
    )
    run.add_argument(
        "--ratios", nargs="+", type=float, help="pruning ratios in (0, 1) (default 0.3 0.5 0.7)"
    )
    run.add_argument(
        "--eb-runs",
        nargs="*",
        help="early-bird runs as detector:rule, e.g. spline:slimming mask:slimming "
        "(default: both detectors with the slimming and spline-global rules, and spline:random)",
    )
    run.add_argument("--train-size", type=int, help="train on a class-balanced subset")
    run.add_argument(
        "--dense-only",
        action="store_true",
        help="train (and record) the dense network only: no pruning or early-bird runs",
    )
    run.add_argument("--epochs", type=int, help="dense training epochs (milestones scale along)")
    run.add_argument("--finetune-epochs", type=int, help="fine-tuning / retraining epochs")
    run.add_argument("--batch-size", type=int)
    run.add_argument("--lr", type=float)
    run.add_argument("--bn-l1", type=float, help="BatchNorm L1 sparsity during dense training")
    run.add_argument("--width", type=float, help="VGG-16 / PreResNet channel multiplier")
    run.add_argument("--canvas", type=int, help="spline EB probe canvas side (canvas^2 images)")
    run.add_argument(
        "--record-codes",
        type=int,
        help="canvas side of the per-epoch codes kept for the distance matrix (0 = off)",
    )
    run.add_argument("--out", help="results folder (default: results, or _runs in quick mode)")
    run.add_argument("--data", dest="data_root", help="data folder (default: $SPLINE_BOOK_DATA)")
    run.add_argument(
        "--no-download", dest="download", action="store_false", help="never download data"
    )
    run.add_argument("--device", choices=("cpu", "cuda"))
    run.add_argument(
        "--no-amp", dest="amp", action="store_false", default=None, help="train in float32 on CUDA"
    )
    run.add_argument("--threads", type=int, help="CPU threads for torch")
    run.add_argument("--no-progress", dest="progress", action="store_false")
    table = sub.add_parser("table", help="summarise the results files under a folder")
    table.add_argument("folder")
    trajectory = sub.add_parser(
        "trajectory",
        help="write code-trajectory.json (first-layer splines and region counts on the canvas, "
        "every epoch) for dense runs "
        "that recorded their codes",
    )
    trajectory.add_argument("folders", nargs="+", help="experiment folders")
    return parser


def config_from_args(args: argparse.Namespace) -> ExperimentConfig:
    """The :class:`~spline_utils.experiments.config.ExperimentConfig` a ``run`` command line
    asks for (``ValueError`` if invalid)."""
    mode = args.mode or run_mode()
    overrides = {
        k: getattr(args, k)
        for k in (
            "seed",
            "methods",
            "detectors",
            "ratios",
            "width",
            "canvas",
            "out",
            "data_root",
            "device",
            "amp",
            "record_codes",
            "eb_runs",
            "train_size",
        )
        if getattr(args, k) is not None
    }
    overrides["download"] = args.download
    if args.finetune_epochs is not None:
        overrides["finetune_epochs"] = args.finetune_epochs
    config = preset(mode, args.dataset, args.arch, **overrides)
    schedule = config.schedule
    if args.epochs is not None:
        if args.epochs < 1:
            raise ValueError(f"--epochs must be >= 1, got {args.epochs}")
        schedule = schedule.scaled(args.epochs)
    changes = {
        k: v
        for k, v in (("batch_size", args.batch_size), ("lr", args.lr), ("bn_l1", args.bn_l1))
        if v is not None
    }
    config.schedule = Schedule(**{**asdict(schedule), **changes})
    return config


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "trajectory":
        for folder in args.folders:
            try:
                print(f"wrote {write_code_trajectory(folder)}")
            except (OSError, ValueError) as err:
                return _fail(f"{folder}: {err}")
        return 0
    if args.command == "table":
        if not Path(args.folder).is_dir():
            parser.error(f"no results folder {args.folder!r}")
        try:
            frame = load_results(args.folder)
        except (OSError, ValueError) as err:  # an invalid JSON or an incomplete results file
            return _fail(err)
        if frame.empty:
            print(f"no results files under {args.folder}")
            return 1
        cols = [
            "dataset",
            "arch",
            "run",
            "test_acc",
            "params_fraction",
            "flops_fraction",
            "speedup",
            "training_flops",
            "wall_seconds",
            "device",
        ]
        print(frame[[c for c in cols if c in frame]].to_string(index=False))
        return 0
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be a number of CPU threads >= 1, got {args.threads}")
    try:
        config = config_from_args(args)
    except (TypeError, ValueError) as err:
        parser.error(_with_flag(str(err)))
    try:  # before any data is loaded or any file written: a refused run leaves nothing
        check_experiment_folder(config)
    except (OSError, ValueError) as err:
        return _fail(err)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        records = run_experiment(config, progress=args.progress, only_dense=args.dense_only)
        main_process = ddp.is_main()
    except (OSError, RuntimeError, ValueError) as err:  # e.g. CIFAR missing while offline
        return _fail(err)
    finally:
        ddp.teardown()
    if main_process:
        for r in records:
            m = r["metrics"]  # every record is checked (results_files.check_record)

            def show(key: str, spec: str, m=m) -> str:
                try:
                    return format(m[key], spec)
                except (KeyError, TypeError, ValueError):  # a value missing or not a number
                    return "?"

            print(
                f"{r['run']:28s} test acc {show('test_acc', '.4f')}  "
                f"params {show('params', '>10,d')}  "
                f"training FLOPs {show('training_flops', '.3e')}  "
                f"wall {show('wall_seconds', '.1f')} s"
            )
        print(f"results in {config.folder}")
    return 0
