"""The experiment pipeline (Chapters 3-6): data, training, resumable runs, results files.

* :mod:`.data`, :mod:`.image_data` -- bundled digits and 2-D sets; CIFAR and image data as tensors;
* :mod:`.training`           -- the small CPU training loop of the theory chapters;
* :mod:`.resumable_training` -- the long training loop: schedule, AMP, checkpoints, exact resume;
* :mod:`.distributed`        -- torchrun data parallelism;
* :mod:`.results_files` -- results files read back (written with :mod:`spline_utils.records`;
  :mod:`.provenance` keeps the old import path of its names);
* :mod:`.config`, :mod:`.protocols`, :mod:`.cli` -- Chapter 6's experiment settings and presets, its
  protocols, and ``python -m spline_utils.experiments``;
* the small pruning studies of Chapters 3 and 5 are in :mod:`spline_utils.studies` (the old
  paths ``spline_utils.experiments.fcnet_study`` and ``.digits_study`` still import them).
"""

from . import distributed, provenance, results_files, resumable_training
from .cli import config_from_args, main  # noqa: F401  (the command line; not in __all__)
from .config import ARCHS, ExperimentConfig, preset, projected_sweep_hours
from .data import digits_tensors, x_shaped_data
from .protocols import build_model, prune, run_experiment
from .results_files import DETECTORS, METHODS
from .training import accuracy, train_classifier

__all__ = [
    "accuracy",
    "ARCHS",
    "build_model",
    "DETECTORS",
    "digits_tensors",
    "distributed",
    "ExperimentConfig",
    "METHODS",
    "preset",
    "projected_sweep_hours",
    "provenance",
    "prune",
    "results_files",
    "resumable_training",
    "run_experiment",
    "train_classifier",
    "x_shaped_data",
]
