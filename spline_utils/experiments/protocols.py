"""Chapter 6's pruning experiments, as a library and as a command line.

One *experiment* is a (data set, architecture, seed). It consists of runs, each written to its
own results file ``<out>/<dataset>-<arch>-seed<k>/<run>.json`` with its provenance:

* ``dense`` -- train the dense network by the full schedule with network slimming's BatchNorm
  L1 term, with the spline early-bird detector and the mask-distance detector watching; their
  tickets (the weights at the epoch each fired) are kept in the run's checkpoint. The probe
  codes of every epoch (the untrained network's included) and every BatchNorm scale are
  recorded, so that any detector setting can be replayed afterwards (:mod:`spline_utils.early_bird.replay`).
* ``prune-<method>-p<NN>`` (protocol 1) -- prune the final dense network by ``method`` at ratio
  ``NN`` %, remove the pruned channels physically and fine-tune for ``finetune_epochs``.
* ``eb-<detector>-<rule>-p<NN>`` (protocol 2) -- prune the ticket that ``detector`` drew by
  ``rule`` and fine-tune it for the same ``finetune_epochs``. ``eb_runs`` lists the
  (detector, rule) pairs: both detectors with the same rule, and both rules at the same
  detection epoch, separate *when* a ticket is drawn from *what* is kept; the random rule is
  the control.

Methods: ``slimming`` (global ``|gamma|`` threshold), ``spline-layerwise`` and ``spline-global``
(the spline policy of Chapter 5), ``magnitude`` (filter L1), ``tp-group-l1`` and ``tp-taylor``
(Torch-Pruning's importances, :mod:`spline_utils.pruning.library_criteria`) and ``random``; all but
``slimming`` and ``spline-global`` select layerwise. Every method prunes the same dense network
and gets the same fine-tuning.

Costs: ``training_flops`` counts forward and backward passes of every training epoch (dense
epochs searched or trained, then fine-tuning) plus, for a spline early-bird ticket, the
detector's forward passes over its probe canvas in every searched epoch (the mask detector
only sorts the BatchNorm scales: no forward pass). ``flops`` is the inference cost of one
image.

What defines an experiment -- :class:`~spline_utils.experiments.config.ExperimentConfig` and the
presets -- lives in :mod:`spline_utils.experiments.config`.

Every run checkpoints after each epoch and resumes automatically; a run whose results file
exists is skipped. Command line (:mod:`spline_utils.experiments.cli`;
``python -m spline_utils.experiments --help``)::

    python -m spline_utils.experiments run --dataset cifar10 --arch vgg16 --mode full
    python -m spline_utils.experiments table results/
    torchrun --nproc_per_node=4 -m spline_utils.experiments run ...   # data parallel
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..checks import check_int
from ..early_bird.mask_detector import MaskEBDetector
from ..early_bird.replay import GammaRecorder, earliest_possible_epoch
from ..early_bird.spline_detector import (
    CodeRecorder,
    ProbeCodes,
    SplineEBDetector,
    canvas,
    load_code_sets,
)
from ..networks.models import VGG16_CFG, preresnet, vgg
from ..pruning.costs import count_flops, count_parameters, throughput, training_flops
from ..pruning.criteria import select_units, slimming_units, unit_scores
from ..pruning.methods import METHODS, criterion_of, get_method
from ..pruning.physical import pruned_widths, remove_units
from ..records import RESULT_SCHEMA, provenance, write_json
from ..seeding import seed_everything
from ..spline_view.codes import code_distance
from ..spline_view.structure import NetworkStructure
from . import distributed as ddp
from .config import (
    ExperimentConfig,
    check_experiment_folder,
    experiment_settings,
)
from .image_data import ImageData, load_images
from .progress import progress_bar
from .results_files import read_record
from .resumable_training import evaluate, recalibrated_batchnorm, train


def build_model(config: ExperimentConfig, num_classes: int, in_channels: int = 3) -> nn.Module:
    """A freshly initialised network of ``config.arch`` (seeded by ``config.seed``) for images
    of ``in_channels`` channels."""
    seed_everything(config.seed, deterministic=False)
    if config.arch == "vgg16":
        cfg = [c if c == "M" else max(4, int(round(c * config.width))) for c in VGG16_CFG]
        return vgg(cfg, num_classes=num_classes, in_channels=in_channels)
    depth = int(config.arch.removeprefix("preresnet"))
    return preresnet(depth, num_classes=num_classes, in_channels=in_channels, width=config.width)


def prune(
    model: nn.Module,
    method: str,
    ratio: float,
    example: torch.Tensor,
    seed: int = 0,
    data: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> nn.Module:
    """A physically smaller copy of ``model`` without the channels ``method`` selects at
    ``ratio`` (see the module doc). ``data``: a training batch ``(x, y)``, which the
    Torch-Pruning methods need."""
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"unknown method {method!r}: choose from {', '.join(METHODS)}")
    seed = check_int("seed", seed, 0)
    structure = NetworkStructure(model)  # found once, for the scores and the removal
    scope = get_method(method).scope
    if scope == "eb-threshold":  # network slimming's global threshold on |gamma|
        pruned = slimming_units(structure, ratio)
    else:
        criterion = criterion_of(method)
        batch = data if criterion.needs_data else None
        scores = unit_scores(structure, criterion, seed=seed, data=batch)
        pruned = select_units(scores, ratio, scope)
    return remove_units(structure, pruned, example)


class _Experiment:
    """The state shared by the runs of one experiment (data, dense model, costs)."""

    def __init__(self, config: ExperimentConfig, progress: bool):
        self.config, self.progress = config, progress
        check_experiment_folder(config)
        self.device = ddp.setup(config.device)
        self.amp = self.device.type == "cuda" if config.amp is None else config.amp
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed input shapes: let cuDNN pick kernels
        data = load_images(config.dataset, config.data_root, config.download)
        if config.train_size is not None:
            data = data.subset(config.train_size, seed=0)
        self.data: ImageData = data.to(self.device)
        self.shape = data.input_shape
        self.example = self.data.normalise(self.data.x_test[:2])
        pick = torch.randperm(len(data.y_train), generator=torch.Generator().manual_seed(0))[:256]
        pick = pick.to(self.device)
        # the batch that criteria reading data (Torch-Pruning's) are given: 256 training images
        self.criterion_batch = (
            self.data.normalise(self.data.x_train[pick]),
            self.data.y_train[pick],
        )
        self.folder = config.folder
        self.dense: nn.Module | None = None
        self.dense_result = None
        settings = config.folder / "experiment.json"
        if (
            not settings.exists() and ddp.is_main()
        ):  # after the data loaded: no folder for a failed start
            write_json(settings, experiment_settings(config))

    # -- helpers -------------------------------------------------------------------------------
    def result_path(self, run: str) -> Path:
        return self.folder / f"{run}.json"

    def checkpoint_path(self, run: str) -> Path:
        return self.folder / "checkpoints" / f"{run}.pt"

    @property
    def codes_folder(self) -> Path:
        return self.folder / "checkpoints" / "codes"

    def epoch_flops(self, model: nn.Module) -> int:
        """Training FLOPs (forward + backward) of one epoch over the training set."""
        return training_flops(model, self.shape, len(self.data.y_train))

    def measure(self, model: nn.Module) -> dict:
        batch = 256 if self.device.type == "cuda" else 64
        return {
            "params": count_parameters(model),
            "flops": count_flops(model, self.shape),
            "throughput": throughput(
                model, self.shape, batch_size=batch, repeats=10 if batch == 256 else 3
            ),
        }

    def write(self, run: str, protocol: str, metrics: dict, history: list, **extra) -> dict:
        record = {
            "schema": RESULT_SCHEMA,
            "run": run,
            "protocol": protocol,
            "smoke": self.config.smoke,
            "dataset": self.config.dataset,
            "arch": self.config.arch,
            "seed": self.config.seed,
            "precision": "float16 autocast" if self.amp else "float32",
            **extra,
            "metrics": metrics,
            "history": history,
            "config": asdict(self.config),
            "provenance": provenance(self.device),
        }
        if ddp.is_main():
            write_json(self.result_path(run), record)
        return record

    # -- runs ----------------------------------------------------------------------------------
    def run_dense(self) -> dict:
        config = self.config
        model = build_model(config, self.data.num_classes, self.shape[0]).to(self.device)
        anchors = _two_classes(self.data)
        probe = canvas(anchors, config.canvas)
        # the spline detector and the code recorder watch the same canvas when the recorded
        # side is the detector's (the CPU presets): its codes are drawn once per epoch
        shared = None
        if "spline" in config.detectors and config.record_codes == config.canvas:
            shared = ProbeCodes(probe)
        detectors = []
        if "spline" in config.detectors:
            detectors.append(
                SplineEBDetector(probe, config.eb_window, config.eb_threshold, shared=shared)
            )
        if "mask" in config.detectors:
            detectors.append(MaskEBDetector(config.ratios, config.mask_fifo, config.mask_threshold))
        recorders = [GammaRecorder()]
        if config.record_codes:
            recorded = probe if shared is not None else canvas(anchors, config.record_codes)
            recorders.append(
                CodeRecorder(recorded, self.codes_folder, write=ddp.is_main(), shared=shared)
            )
        if not self.checkpoint_path("dense").exists():  # a fresh start: record the untrained net
            for recorder in recorders:
                recorder(model, 0)
        callbacks = [*detectors, *recorders]
        result = train(
            model,
            self.data,
            config.schedule,
            self.checkpoint_path("dense"),
            callbacks,
            self.amp,
            self.progress,
            desc=f"{config.tag} dense",
        )
        self.dense, self.dense_result = model, result
        if self.result_path("dense").exists():
            return read_record(self.result_path("dense"))
        measured = self.measure(model)
        per_epoch = self.epoch_flops(model)
        eb = {}
        for det in detectors:
            if isinstance(det, SplineEBDetector):
                eb["spline"] = det.fired_epoch
            else:
                eb.update({f"mask-p{_pct(p)}": e for p, e in det.fired_epoch.items()})
        metrics = {
            "test_acc": result.test_acc,
            **measured,
            "epoch_training_flops": per_epoch,
            "training_flops": per_epoch * len(result.history),
            "spline_detector_flops_per_epoch": self.spline_detector_flops(),
            "wall_seconds": result.seconds,
            "eb_epochs": eb,
            "eb_earliest_possible": {
                "spline": earliest_possible_epoch(config.eb_window),
                "mask": earliest_possible_epoch(config.mask_fifo - 1),
            },
        }
        gammas = next(cb for cb in result.callbacks if isinstance(cb, GammaRecorder))
        extra = {
            "widths": pruned_widths(model),
            "bn_gammas": {
                "layers": [list(layer) for layer in gammas.layers],
                "epochs": gammas.epochs,
                "values": [v.tolist() for v in gammas.values],
            },
        }
        if config.record_codes and ddp.is_main():
            extra["code_distances"] = _code_distances(self.codes_folder, config.record_codes)
        return self.write("dense", "dense", metrics, result.history, **extra)

    def spline_detector_flops(self) -> int:
        """FLOPs of one spline-detector check: a forward pass of the dense network over its
        ``canvas x canvas`` probe images (the packing and distances are negligible)."""
        return count_flops(self.dense, self.shape) * self.config.canvas**2

    def run_pruned(
        self,
        run: str,
        protocol: str,
        start: nn.Module,
        method: str,
        ratio: float,
        searched_epochs: int,
        extra: dict,
        detector_flops: int = 0,
    ) -> dict:
        """Prune ``start`` (a dense network after ``searched_epochs`` of training), retrain it
        for ``finetune_epochs`` and write the results file. ``detector_flops``: what detecting
        the ticket cost, counted into the run's training FLOPs."""
        config = self.config
        if self.result_path(run).exists():
            return read_record(self.result_path(run))
        seed_everything(config.seed, deterministic=False)
        small = prune(start, method, ratio, self.example, config.seed, self.criterion_batch)
        acc_pruned = evaluate(small, self.data, self.amp)
        # the same weights with BatchNorm statistics recomputed on the training images: pruning
        # changes what later layers see, so the dense network's statistics are stale
        acc_recalibrated = evaluate(recalibrated_batchnorm(small, self.data), self.data, self.amp)
        schedule = config.schedule.scaled(config.finetune_epochs)
        schedule.bn_l1 = 0.0
        result = train(
            small,
            self.data,
            schedule,
            self.checkpoint_path(run),
            (),
            self.amp,
            self.progress,
            desc=f"{config.tag} {run}",
        )
        dense_metrics = read_record(self.result_path("dense"))["metrics"]
        measured = self.measure(small)
        dense_throughput = self.measure(self.dense)["throughput"]  # measured beside the pruned one
        small_epoch = self.epoch_flops(small)
        search_seconds = sum(h["seconds"] for h in self.dense_result.history[:searched_epochs])
        metrics = {
            "test_acc": result.test_acc,
            "test_acc_before_retraining": acc_pruned,
            "test_acc_before_retraining_recalibrated": acc_recalibrated,
            **measured,
            "params_fraction": measured["params"] / dense_metrics["params"],
            "flops_fraction": measured["flops"] / dense_metrics["flops"],
            "throughput_dense": dense_throughput,
            "speedup": measured["throughput"] / dense_throughput,
            "searched_epochs": searched_epochs,
            "detector_flops": detector_flops,
            "training_flops": dense_metrics["epoch_training_flops"] * searched_epochs
            + small_epoch * len(result.history)
            + detector_flops,
            "wall_seconds": search_seconds + result.seconds,
        }
        return self.write(
            run,
            protocol,
            metrics,
            result.history,
            method=method,
            ratio=ratio,
            widths=pruned_widths(small),
            **extra,
        )

    def ticket(self, state: dict) -> nn.Module:
        model = build_model(self.config, self.data.num_classes, self.shape[0]).to(self.device)
        model.load_state_dict(state)
        return model.eval()


def _code_distances(folder: Path, side: int) -> dict:
    """The recorded code sets' distance matrices: per code layer, and their mean over the ReLU
    layers (the spline detector's distance), between every two recorded epochs."""
    epochs, sets = load_code_sets(folder)
    relu = [i for i, kind in enumerate(sets[0].kinds) if kind == "relu"]
    n = len(sets)
    per_layer = np.zeros((len(sets[0].names), n, n))
    for i in range(n):
        for j in range(i + 1, n):
            per_layer[:, i, j] = per_layer[:, j, i] = code_distance(sets[i], sets[j])
    return {
        "canvas": side,
        "epochs": epochs,
        "layers": sets[0].names,
        "kinds": sets[0].kinds,
        "matrix": np.round(per_layer[relu].mean(0), 6).tolist(),
        "per_layer": np.round(per_layer, 6).tolist(),
    }


def _pct(ratio: float) -> str:
    return f"{int(round(ratio * 100)):02d}"


def _two_classes(data: ImageData) -> list[torch.Tensor]:
    """Two normalised test images of different classes: the corners of the EB probe canvas."""
    first = int(data.y_test[0])
    other = int(torch.nonzero(data.y_test != first)[0, 0])
    return [data.normalise(data.x_test[i : i + 1])[0] for i in (0, other)]


def run_experiment(
    config: ExperimentConfig, progress: bool = True, only_dense: bool = False
) -> list[dict]:
    """Run (or resume) every run of ``config`` and return their records (the results files'
    contents), dense first. Runs already finished are read back, not repeated.
    ``only_dense``: stop after the dense run (its detectors and code distances included)."""
    exp = _Experiment(config, progress)
    records = [exp.run_dense()]
    if only_dense:
        ddp.barrier()
        return records
    epochs = config.schedule.epochs
    jobs = [
        ("prune-finetune", f"prune-{m}-p{_pct(r)}", m, r)
        for m in config.methods
        for r in config.ratios
    ]
    jobs += [
        ("early-bird", f"eb-{pair.replace(':', '-')}-p{_pct(r)}", pair, r)
        for pair in config.eb_runs
        for r in config.ratios
    ]
    detectors = {
        ("spline" if isinstance(d, SplineEBDetector) else "mask"): d
        for d in exp.dense_result.callbacks
        if isinstance(d, (SplineEBDetector, MaskEBDetector))
    }
    for protocol, run, name, ratio in progress_bar(
        jobs, desc=f"{config.tag} runs", disable=not (progress and ddp.is_main())
    ):
        if protocol == "prune-finetune":
            records.append(exp.run_pruned(run, protocol, exp.dense, name, ratio, epochs, {}))
            continue
        detector, _, rule = name.partition(":")
        det = detectors[detector]
        fired = det.fired_epoch if detector == "spline" else det.fired_epoch[ratio]
        if fired is None:
            if ddp.is_main():
                print(
                    f"{run}: the {detector} detector did not fire in {epochs} epochs; "
                    "no ticket to prune"
                )
            continue
        state = det.ticket if detector == "spline" else det.tickets[ratio]
        cost = exp.spline_detector_flops() * fired if detector == "spline" else 0
        records.append(
            exp.run_pruned(
                run,
                protocol,
                exp.ticket(state),
                rule,
                ratio,
                fired,
                {"detector": detector, "eb_epoch": fired},
                detector_flops=cost,
            )
        )
    ddp.barrier()
    return records
