"""The experiment pipeline (Chapters 3-6): data, training, resumable runs, results files.

* :mod:`.data`, :mod:`.image_data` -- bundled digits and 2-D sets; CIFAR and image data as tensors;
* :mod:`.training`           -- the small CPU training loop of the theory chapters;
* :mod:`.resumable_training` -- the long training loop: schedule, AMP, checkpoints, exact resume;
* :mod:`.distributed`        -- torchrun data parallelism;
* :mod:`.provenance`, :mod:`.results_files` -- results files written with provenance, read back;
* :mod:`.config`, :mod:`.protocols`, :mod:`.cli` -- Chapter 6's experiment settings and presets, its
  protocols, and ``python -m spline_utils.experiments``;
* :mod:`.fcnet_study`, :mod:`.digits_study` -- the small pruning studies of Chapters 3 and 5.
"""

from . import distributed, provenance, results_files, resumable_training
from .cli import config_from_args, main
from .config import ARCHS, ExperimentConfig, preset, projected_sweep_hours
from .protocols import build_model, prune, run_experiment
from .results_files import DETECTORS, METHODS

__all__ = [
    "ARCHS",
    "build_model",
    "config_from_args",
    "DETECTORS",
    "distributed",
    "ExperimentConfig",
    "main",
    "METHODS",
    "preset",
    "projected_sweep_hours",
    "provenance",
    "prune",
    "results_files",
    "resumable_training",
    "run_experiment",
]
