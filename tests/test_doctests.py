"""The docstring examples of the package run as tests (``doctest``), and the main entry points
must keep theirs.

Examples are written as a reader would type them after ``import torch`` and
``import spline_utils as su`` (the convention of the chapters and of the API reference page), so
both names are given to every module's examples. Every module of the package is collected, so a
module that gains examples is tested without a change here. Examples print shapes, counts and
rounded values that are the same on every CPU, never exact floats from training.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil
from pathlib import Path

import matplotlib
import pytest
import torch

import spline_utils

matplotlib.use("Agg")  # examples that draw must not open windows
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
#: modules that must not be imported by a test: ``python -m spline_utils.experiments`` runs the
#: command line on import
NOT_IMPORTED = {"spline_utils.experiments.__main__"}
MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(spline_utils.__path__, prefix="spline_utils.")
    if info.name not in NOT_IMPORTED
)

#: the main entry points (every helper a chapter calls more than once among them): each keeps
#: Args (when it takes arguments), Returns (functions) and Example sections, and its Example is
#: a doctest
ENTRY_POINTS = [
    "spline_view.codes.activation_codes",
    "spline_view.codes.packed_codes",
    "spline_view.affine_maps.region_affine_map",
    "spline_view.affine_maps.mlp_region_affine_map",
    "spline_view.affine_maps.region_consistency_error",
    "spline_view.model_walk.check_supported",
    "spline_view.folding.fold_batchnorm",
    "spline_view.hyperplanes.unit_hyperplanes",
    "partition.slices.PlaneSlice.through",
    "partition.grid.grid_partition",
    "partition.turning_points.spline_segments",
    "partition.turning_points.decision_turning_points",
    "partition.turning_points.spline_turning_points",
    "partition.turning_points.supplying_splines",
    "partition.turning_points.unit_preactivations",
    "networks.models.make_mlp",
    "networks.models.digits_convnet",
    "networks.models.vgg",
    "studies.shipped_networks.load_network",
    "networks.pretrained.describe",
    "experiments.training.train_classifier",
    "experiments.training.accuracy",
    "experiments.data.digits_tensors",
    "experiments.data.x_shaped_data",
    "early_bird.spline_detector.SplineEBDetector",
    "early_bird.spline_detector.canvas",
    "early_bird.mask_detector.MaskEBDetector",
    "plotting.figures.plot_exact",
    "chapter.setup",
    "chapter.glue",
    "mode.run_mode",
    "mode.results_out_dir",
    "seeding.seed_everything",
]


def _resolve(dotted: str):
    """The object ``spline_utils.<dotted>``: the longest importable module prefix, then
    attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module("spline_utils." + ".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            obj = getattr(obj, attribute)
        return obj
    raise ImportError(f"no module of spline_utils holds {dotted}")


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    try:
        result = doctest.testmod(
            module,
            extraglobs={"su": spline_utils, "torch": torch},
            optionflags=OPTIONS,
            report=False,
        )
    finally:
        plt.close("all")
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed"


def test_api_page_examples():
    """The examples written on the API page itself (adding a pruning criterion) run too."""
    text = (Path(__file__).resolve().parents[1] / "book" / "api.md").read_text()
    test = doctest.DocTestParser().get_doctest(
        text, {"su": spline_utils, "torch": torch}, "book/api.md", "book/api.md", 0
    )
    assert test.examples, "the API page has no examples"
    runner = doctest.DocTestRunner(optionflags=OPTIONS)
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of api.md failed"


@pytest.mark.parametrize("dotted", ENTRY_POINTS)
def test_entry_point_documented(dotted):
    obj = _resolve(dotted)
    doc = inspect.getdoc(obj) or ""
    assert doctest.DocTestParser().get_examples(doc), f"spline_utils.{dotted} has no doctest"
    sections = ["Example:"]
    if not inspect.isclass(obj):
        sections.append("Returns:")
    if inspect.signature(obj).parameters:  # bound for class methods, __init__'s for classes
        sections.append("Args:")
    for section in sections:
        assert f"\n{section}\n" in f"\n{doc}\n", f"spline_utils.{dotted} lacks {section}"
