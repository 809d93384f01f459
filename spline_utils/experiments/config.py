"""What defines an experiment of Chapter 6: :class:`ExperimentConfig`, the ``full`` / ``cpu`` /
``quick`` presets (:func:`preset`), and the check that an experiment folder is only ever resumed
with the settings that made it. :mod:`~spline_utils.experiments.protocols` runs them."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..checks import check_bool, check_fraction, check_int, check_real, check_sequence
from ..mode import run_mode
from ..pruning.methods import DETECTORS, EB_RULES, METHODS
from ..records import read_json
from .image_data import DATASETS
from .resumable_training import Schedule

__all__ = [
    "ARCHS",
    "EB_RUNS",
    "ExperimentConfig",
    "preset",
    "projected_sweep_hours",
    "bn_l1_same_pull",
    "EB_PAPER_BN_PULL",
    "experiment_settings",
    "check_experiment_folder",
]

ARCHS = ("vgg16", "preresnet20", "preresnet56", "preresnet101")

#: The early-bird runs, as (detector, rule) pairs; see the module doc.
EB_RUNS = (
    "spline:slimming",
    "mask:slimming",
    "spline:spline-global",
    "mask:spline-global",
    "spline:random",
)


@dataclass
class ExperimentConfig:
    """Everything that defines an experiment; recorded in full in every results file.

    width: channel multiplier of VGG-16 or PreResNet (1 = the real network; quick mode uses
    1/8 for VGG-16).
    canvas: the spline EB probe is a ``canvas x canvas`` grid of images spanned by two test
    images (the authors use 100; 30 keeps the detector's cost to a few % of an epoch).
    record_codes: side of a second, smaller canvas whose codes are saved every epoch, for the
    epoch-by-epoch code distance matrix stored in ``dense.json`` (0 = off; 10 = 100 images,
    about 4 MiB per epoch for VGG-16).
    train_size: train on a class-balanced subset of this many training images (drawn with
    seed 0, the same for every seed of an experiment; ``None``: all of them).
    eb_runs: the early-bird runs, ``"<detector>:<rule>"`` (module doc); ``None``: those of
    :data:`EB_RUNS` whose detector is in ``detectors``.
    smoke: True for quick-mode runs on the digits, which say nothing about CIFAR.
    """

    dataset: str = "cifar10"
    arch: str = "vgg16"
    seed: int = 0
    width: float = 1.0
    schedule: Schedule = field(default_factory=lambda: Schedule(bn_l1=1e-4))
    finetune_epochs: int = 160
    methods: tuple[str, ...] = METHODS
    detectors: tuple[str, ...] = DETECTORS
    ratios: tuple[float, ...] = (0.3, 0.5, 0.7)
    eb_runs: tuple[str, ...] | None = None
    train_size: int | None = None
    canvas: int = 30
    record_codes: int = 10
    eb_window: int = 3
    eb_threshold: float = 0.16
    mask_fifo: int = 5
    mask_threshold: float = 0.1
    out: str = "results"
    data_root: str | None = None
    download: bool = True
    device: str | None = None
    amp: bool | None = None
    smoke: bool = False

    def __post_init__(self):
        if isinstance(self.schedule, dict):
            self.schedule = Schedule(**self.schedule)
        if not isinstance(self.schedule, Schedule):
            raise TypeError(
                f"schedule must be a Schedule (or a dict of its fields), got {type(self.schedule).__name__}"
            )
        for what in ("methods", "detectors", "ratios"):
            if isinstance(getattr(self, what), (str, bytes)):
                raise TypeError(
                    f"{what} must be a sequence, got the string {getattr(self, what)!r}"
                )
        self.methods, self.detectors = tuple(self.methods), tuple(self.detectors)
        if self.eb_runs is None:
            self.eb_runs = tuple(r for r in EB_RUNS if r.split(":")[0] in self.detectors)
        if isinstance(self.eb_runs, (str, bytes)):
            raise TypeError(f"eb_runs must be a sequence, got the string {self.eb_runs!r}")
        self.eb_runs = tuple(self.eb_runs)
        for pair in self.eb_runs:
            detector, _, rule = str(pair).partition(":")
            if detector not in self.detectors or rule not in EB_RULES:
                raise ValueError(
                    f"eb_runs entries must be '<detector>:<rule>' with a detector of "
                    f"{self.detectors} and a rule of {EB_RULES}, got {pair!r}"
                )
        if self.train_size is not None:
            check_int("train_size", self.train_size, 10)
        self.ratios = tuple(check_sequence("ratios", self.ratios, check_real, non_empty=False))
        for what, value, allowed in (
            ("dataset", [self.dataset], DATASETS),
            ("arch", [self.arch], ARCHS),
            ("method", self.methods, METHODS),
            ("detector", self.detectors, DETECTORS),
        ):
            bad = [v for v in value if v not in allowed]
            if bad:
                raise ValueError(f"unknown {what} {bad[0]!r}: choose from {', '.join(allowed)}")
        check_int("seed", self.seed, 0)
        check_real("width", self.width, 0.0, low_open=True)
        check_int("finetune_epochs", self.finetune_epochs, 1)
        check_int("canvas", self.canvas, 2)
        check_int("record_codes", self.record_codes, 0)
        check_int("eb_window", self.eb_window, 1)
        check_fraction("eb_threshold", self.eb_threshold, low_open=True, high_open=True)
        check_int("mask_fifo", self.mask_fifo, 2)
        check_fraction("mask_threshold", self.mask_threshold)
        check_bool("download", self.download)
        check_bool("smoke", self.smoke)
        if self.amp is not None:
            check_bool("amp", self.amp)
        if self.device is not None and not (
            isinstance(self.device, str) and self.device.split(":")[0] in ("cpu", "cuda")
        ):
            raise ValueError(f"device must be 'cpu', 'cuda' or None, got {self.device!r}")
        if not isinstance(self.out, (str, Path)):
            raise TypeError(f"out must be a folder path, got {type(self.out).__name__}")
        if not self.ratios or any(not 0.0 < r < 1.0 for r in self.ratios):
            raise ValueError(
                f"ratios must be fractions in (0, 1), e.g. 0.3 0.5 0.7; got {list(self.ratios)}"
            )
        percents = [int(round(r * 100)) for r in self.ratios]
        if len(set(percents)) != len(percents):
            raise ValueError(
                "ratios must be distinct to the percent (runs are named by it, e.g. "
                f"prune-slimming-p50), got {list(self.ratios)}"
            )
        if self.record_codes == 1:
            raise ValueError(
                f"record_codes must be 0 (off) or a canvas side >= 2, got {self.record_codes}"
            )

    @property
    def tag(self) -> str:
        width = "" if self.width == 1 else f"-w{self.width:g}"
        return f"{self.dataset}-{self.arch}{width}-seed{self.seed}"

    @property
    def folder(self) -> Path:
        return Path(self.out) / self.tag


#: Network slimming's total pull on each BatchNorm scale in the early-bird paper's CIFAR
#: schedule: the L1 weight 1e-4 times the sum of the learning rates over all SGD steps
#: (160 epochs of 196 steps -- 50,000 images at batch 256 -- at 0.1 / 0.01 / 0.001 for
#: 80 / 40 / 40 epochs).
EB_PAPER_BN_PULL = 1e-4 * 196 * (80 * 0.1 + 40 * 0.01 + 40 * 0.001)


def bn_l1_same_pull(schedule: Schedule, train_size: int) -> float:
    """The BatchNorm L1 weight that pulls on the BatchNorm scales as hard over ``schedule`` on
    ``train_size`` training images as 1e-4 does over the early-bird paper's 160 CIFAR epochs
    (:data:`EB_PAPER_BN_PULL`): the weight times the sum of the learning rates of all SGD steps.

    Example:
        >>> from spline_utils.experiments.resumable_training import Schedule
        >>> f"{bn_l1_same_pull(Schedule(epochs=15, lr=0.05, milestones=(8, 12), batch_size=128), 20_000):.2e}"
        '2.50e-03'
    """
    if not isinstance(schedule, Schedule):
        raise TypeError(f"schedule must be a Schedule, got {type(schedule).__name__}")
    train_size = check_int("train_size", train_size, 1)
    steps = -(-train_size // schedule.batch_size)
    return EB_PAPER_BN_PULL / (steps * sum(schedule.lr_at(e) for e in range(schedule.epochs)))


#: The ``cpu-long`` protocol's schedule: the early-bird paper's shape (lr 0.1, x0.1 at 50 % and
#: 75 % of training) over 30 epochs of the 60,000 Fashion-MNIST images at batch 128: 15 epochs
#: of 469 steps (7,035) at the first rate, more than the ~6,800 steps of the early-bird paper's
#: latest tickets (epoch 35 of CIFAR at batch 256).
LONG_SCHEDULE = Schedule(epochs=30, lr=0.1, milestones=(15, 22), batch_size=128)


def preset(
    mode: str | None = None, dataset: str | None = None, arch: str = "vgg16", **overrides
) -> ExperimentConfig:
    """The configuration of

    * a ``full`` run (the EB paper's schedule on ``dataset``, fine-tuning as long as training;
      a GPU's work),
    * a ``cpu`` run: the real-data protocol a 2-core CPU can finish (Fashion-MNIST by default:
      VGG-16 at 1/8 width on a class-balanced 20,000-image training subset, 15 epochs with
      the BN L1 term -- weight 2.5e-3, which over this schedule pulls on the BatchNorm scales as
      much as 1e-4 does over the early-bird paper's 160 CIFAR epochs -- and 5 epochs of
      fine-tuning for every pruned network; the detector's 30 x 30 canvas codes recorded every
      epoch),
    * a ``cpu-long`` run: the early-bird papers' regime on a CPU (Fashion-MNIST, all 60,000
      training images, ``LONG_SCHEDULE`` -- 30 epochs, lr 0.1 dropped x0.1 after epochs 15
      and 22 -- with the BN L1 weight of :func:`bn_l1_same_pull`, 10 epochs of fine-tuning;
      VGG-16 at 1/8 width or PreResNet-20 at 1/2 width; prune-after-training by the rules the
      early-bird runs use: slimming, spline-global and random), or
    * a ``quick`` smoke run (digits at 32x32, VGG-16 at 1/8 width or PreResNet-20, 10 + 3
      epochs: about a minute per experiment on 2 CPU cores).

    ``mode`` defaults to :func:`~spline_utils.mode.run_mode`; ``dataset`` to CIFAR-10 (full),
    Fashion-MNIST (cpu) and the digits (quick, which takes no other); ``overrides`` replace any
    field."""
    mode = run_mode() if mode is None else mode
    if mode == "full":
        config = dict(dataset=dataset or "cifar10", arch=arch)
    elif mode == "cpu":
        config = dict(
            dataset=dataset or "fashion-mnist",
            arch=arch,
            width=0.125 if arch == "vgg16" else 1.0,
            train_size=20_000,
            finetune_epochs=5,
            canvas=30,
            record_codes=30,
            # BN L1 2.5e-3: the same total pull on gamma (s times the sum of the learning
            # rates over all steps) as 1e-4 over the EB paper's 160-epoch CIFAR schedule
            schedule=Schedule(epochs=15, lr=0.05, milestones=(8, 12), batch_size=128, bn_l1=2.5e-3),
            device="cpu",
            out="results/cpu",
        )
    elif mode == "cpu-long":
        schedule = Schedule(
            **{**asdict(LONG_SCHEDULE), "bn_l1": round(bn_l1_same_pull(LONG_SCHEDULE, 60_000), 7)}
        )
        config = dict(
            dataset=dataset or "fashion-mnist",
            arch=arch,
            width=0.125 if arch == "vgg16" else 0.5,
            finetune_epochs=10,
            methods=("slimming", "spline-global", "random"),
            canvas=30,
            record_codes=30,
            schedule=schedule,
            device="cpu",
            out="results/cpu-long",
        )
    elif mode == "quick":
        config = dict(
            dataset="digits32",
            arch="vgg16" if arch == "vgg16" else "preresnet20",
            width=0.125 if arch == "vgg16" else 1.0,
            smoke=True,
            finetune_epochs=3,
            canvas=10,
            record_codes=6,
            schedule=Schedule(epochs=10, lr=0.05, milestones=(5, 8), batch_size=64, bn_l1=1e-4),
            device="cpu",
            out="_runs",
        )
    else:
        raise ValueError(f"mode must be 'quick', 'cpu', 'cpu-long' or 'full', got {mode!r}")
    config.update(overrides)
    return ExperimentConfig(**config)


# Fields that may differ between invocations sharing one experiment folder: where things are,
# how to run, and which protocol-1 methods to add. Anything else changes what the runs compute.
_FREE_FIELDS = ("out", "data_root", "download", "device", "amp", "methods")


def experiment_settings(config: ExperimentConfig) -> dict:
    """The settings that define what an experiment folder's runs compute (JSON types)."""
    return {
        k: v for k, v in json.loads(json.dumps(asdict(config))).items() if k not in _FREE_FIELDS
    }


def check_experiment_folder(config: ExperimentConfig) -> None:
    """Refuse to resume or reuse an experiment folder made with different settings (recorded
    in its ``experiment.json``): its checkpoints and results files would silently stand for
    another experiment. Also refuse a folder that cannot be made (a file where a folder of
    its path should be) and an ``experiment.json`` that is not a JSON object (e.g. truncated):
    ``ValueError`` naming the path. Writes nothing."""
    for where in (config.folder, *config.folder.parents):
        if where.exists():
            if not where.is_dir():
                raise ValueError(
                    f"out must be a folder, but {where} is a file: the experiment folder "
                    f"{config.folder} cannot be made there (pass another --out)"
                )
            break
    path = config.folder / "experiment.json"
    if not path.exists():
        return
    try:
        recorded = read_json(path)
    except ValueError as err:
        raise ValueError(
            f"{err}; delete {path} (or the folder {config.folder}) to start afresh"
        ) from None
    mine, theirs = (
        experiment_settings(config),
        {k: v for k, v in recorded.items() if k not in _FREE_FIELDS},
    )
    changed = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
    if changed:
        raise ValueError(
            f"{config.folder} holds an experiment with other settings ({', '.join(changed)} "
            f"differ): pass another --out folder, or delete {config.folder} to start afresh"
        )


def projected_sweep_hours(
    dense_epoch_seconds: float,
    pruned_epoch_seconds,
    config: ExperimentConfig | None = None,
    epochs: int = 160,
) -> float:
    """Wall time, in hours, of one experiment's full sweep, from measured epoch times: ``epochs``
    dense epochs, then at every ratio each protocol-1 method and each early-bird run fine-tunes a
    pruned network for ``epochs`` epochs (the ``full`` preset's lengths).

    Args:
        dense_epoch_seconds: seconds per dense training epoch (> 0).
        pruned_epoch_seconds: seconds per epoch of the pruned network, one per ratio of ``config``
            (a sequence of numbers > 0).
        config: the experiment (default: :class:`ExperimentConfig` ``()``, the full sweep).
        epochs: epochs of the dense training and of every fine-tuning.

    Example:
        >>> round(projected_sweep_hours(36.0, [36.0, 36.0, 36.0]), 1)  # 1 + 3 x 12 trainings
        59.2
    """
    config = ExperimentConfig() if config is None else config
    check_real("dense_epoch_seconds", dense_epoch_seconds, 0.0, low_open=True)
    pruned = check_sequence(
        "pruned_epoch_seconds",
        pruned_epoch_seconds,
        lambda n, v: check_real(n, v, 0.0, low_open=True),
    )
    if len(pruned) != len(config.ratios):
        raise ValueError(
            f"pruned_epoch_seconds must give one epoch time per ratio {list(config.ratios)}, "
            f"got {len(pruned)}"
        )
    epochs = check_int("epochs", epochs, 1)
    trainings = len(config.methods) + len(config.eb_runs)
    return (epochs * dense_epoch_seconds + trainings * epochs * sum(pruned)) / 3600
