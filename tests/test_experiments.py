"""Chapter 6's pipeline: data and augmentation, schedules, results files, resume after a kill,
the command line, and data-parallel training with two CPU processes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

from spline_utils import experiments as ex
from spline_utils.experiments.config import preset
from spline_utils.experiments.image_data import augment, load_images
from spline_utils.experiments.protocols import build_model
from spline_utils.experiments.provenance import (
    RESULT_SCHEMA,
    git_commit,
    load_checkpoint,
    write_json,
)
from spline_utils.experiments.resumable_training import Schedule
from spline_utils.networks.models import vgg
from spline_utils.pruning.criteria import slimming_units

ROOT = Path(__file__).resolve().parents[1]
# A run small enough for a test: VGG-16 at 1/16 width on the digits, 4 + 1 epochs.
TINY = [
    "run",
    "--mode",
    "quick",
    "--width",
    "0.0625",
    "--epochs",
    "4",
    "--finetune-epochs",
    "1",
    "--methods",
    "magnitude",
    "--ratios",
    "0.5",
    "--threads",
    "1",
    "--no-progress",
]


def _cli(args, cwd=ROOT, timeout=600, **kw):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "spline_utils.experiments", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        **kw,
    )


# -- data ------------------------------------------------------------------------------------------
def test_digits32_has_cifar_shape():
    data = load_images("digits32")
    assert data.x_train.shape == (1347, 3, 32, 32) and data.x_train.dtype == torch.uint8
    assert data.x_test.shape == (450, 3, 32, 32) and data.y_test.dtype == torch.int64
    assert data.num_classes == 10 and data.input_shape == (3, 32, 32)
    z = data.normalise(data.x_train)
    assert torch.allclose(z.mean((0, 2, 3)), torch.zeros(3), atol=1e-4)
    assert torch.allclose(z.std((0, 2, 3)), torch.ones(3), atol=1e-3)


def test_augment_is_a_padded_crop_or_its_mirror():
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8, generator=gen)
    out = augment(x, torch.Generator().manual_seed(1))
    assert out.shape == x.shape and out.dtype == torch.uint8
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    flips = 0
    for i in range(len(x)):
        crops = [padded[i, :, dy : dy + 32, dx : dx + 32] for dy in range(9) for dx in range(9)]
        plain = any(torch.equal(out[i], c) for c in crops)
        mirrored = any(torch.equal(out[i], c.flip(2)) for c in crops)
        assert plain or mirrored
        flips += mirrored and not plain
    assert 15 < flips < 49  # about half are mirrored
    assert torch.equal(out, augment(x, torch.Generator().manual_seed(1)))


def test_unknown_dataset_and_offline_cifar_name_the_folder(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="dataset must be one of"):
        load_images("imagenet")
    with pytest.raises(RuntimeError, match=str(tmp_path)) as err:
        load_images("cifar10", tmp_path, download=False)
    assert "SPLINE_BOOK_DATA" in str(err.value) and "switched off" in str(err.value)

    from torchvision import datasets

    def offline(self, *a, **k):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(datasets.CIFAR100, "download", offline)
    with pytest.raises(RuntimeError, match="download failed") as err:
        load_images("cifar100", tmp_path)
    assert str(tmp_path) in str(err.value) and "cifar-100-python.tar.gz" in str(err.value)


# -- schedule, selection, files -----------------------------------------------------------------
def test_schedule_steps_and_scales():
    s = Schedule()
    assert [s.lr_at(e) for e in (0, 79, 80, 119, 120, 159)] == pytest.approx(
        [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    )
    assert s.scaled(40).milestones == (20, 30) and s.scaled(1).milestones == ()
    for bad in (
        dict(epochs=0),
        dict(milestones=(120, 80)),
        dict(milestones=(160,)),
        dict(lr=0),
        dict(bn_l1=-1),
    ):
        with pytest.raises(ValueError):
            Schedule(**bad)


def test_slimming_rule_is_the_global_gamma_threshold():
    net = vgg([4, "M", 6], num_classes=3)
    gammas = [torch.tensor([0.5, 0.1, 0.9, 0.3]), torch.tensor([0.2, 0.8, 0.05, 0.6, 0.7, 0.4])]
    for bn, g in zip([m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)], gammas):
        bn.weight.data = g.clone()
    # sorted |gamma|: .05 .1 .2 .3 .4 .5 .6 .7 .8 .9; ratio 0.3 -> index 3 -> threshold 0.3 (kept: > 0.3)
    assert slimming_units(net, 0.3) == {"0": [1, 3], "4": [0, 2]}
    # a layer whose channels all fall below keeps its largest
    gammas[0][:] = torch.tensor([0.01, 0.02, 0.03, 0.04])
    next(m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)).weight.data = gammas[
        0
    ].clone()
    assert slimming_units(net, 0.5)["0"] == [0, 1, 2]


def test_atomic_json_leaves_no_temporary_files(tmp_path, monkeypatch):
    path = tmp_path / "a" / "r.json"
    write_json(path, {"x": 1})
    write_json(path, {"x": 2, "nan": float("nan")})
    assert json.loads(path.read_text())["x"] == 2
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]
    assert load_checkpoint(tmp_path / "missing.pt") is None
    monkeypatch.delenv("SPLINE_BOOK_COMMIT", raising=False)
    assert git_commit(tmp_path) == "unknown"
    assert len(git_commit().split("+")[0]) == 40
    monkeypatch.setenv("SPLINE_BOOK_COMMIT", "abc123")  # a copy of the sources names its commit
    assert git_commit(tmp_path) == git_commit() == "abc123"


def test_config_validation_names_the_argument():
    with pytest.raises(ValueError, match="ratios"):
        ex.preset("quick", ratios=(0.5, 1.2))
    with pytest.raises(ValueError, match="unknown method 'slim'"):
        ex.preset("quick", methods=("slim",))
    with pytest.raises(ValueError, match="mode must be"):
        ex.preset("fast")


# -- whole runs ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """An uninterrupted tiny run through the command line (the reference for the resume test)."""
    out = tmp_path_factory.mktemp("uninterrupted")
    proc = _cli([*TINY, "--out", str(out)])
    assert proc.returncode == 0, proc.stderr
    return out / "digits32-vgg16-w0.0625-seed0"


def _records(folder: Path) -> dict[str, dict]:
    return {
        p.stem: json.loads(p.read_text()) for p in folder.glob("*.json") if p.stem != "experiment"
    }


def test_results_files_follow_the_schema(tiny_run):
    records = _records(tiny_run)
    assert {"dense", "prune-magnitude-p50"} <= set(records)
    dense = records["dense"]
    for r in records.values():
        assert r["schema"] == RESULT_SCHEMA and r["smoke"] is True and r["dataset"] == "digits32"
        assert r["precision"] == "float32"  # CPU: no mixed precision
        assert set(r["provenance"]) == {"device", "date", "versions", "commit"}
        assert r["provenance"]["versions"]["torch"] != "absent" and r["provenance"][
            "date"
        ].startswith("20")
        assert ex.ExperimentConfig(**r["config"]).tag == "digits32-vgg16-w0.0625-seed0"
        assert all(
            set(h) == {"epoch", "lr", "train_loss", "train_acc", "test_acc", "seconds"}
            for h in r["history"]
        )
        assert 0.0 <= r["metrics"]["test_acc"] <= 1.0
    assert [h["epoch"] for h in dense["history"]] == [1, 2, 3, 4]
    full, half = dense["widths"], records["prune-magnitude-p50"]["widths"]
    assert list(full) == list(half) and list(full.values())[-1] == list(half.values())[-1] == 10
    for name in list(full)[:-1]:  # layerwise at 50 %: every hidden layer keeps half its units
        assert half[name] == full[name] - int(full[name] * 0.5)
    codes = dense["code_distances"]  # Fig. 5's matrix from the codes recorded every epoch
    matrix = np.array(codes["matrix"])  # and from the untrained network's (epoch 0)
    assert codes["epochs"] == [0, 1, 2, 3, 4] and matrix.shape == (5, 5)
    assert np.allclose(matrix, matrix.T) and np.all(np.diag(matrix) == 0)
    assert np.all((matrix >= 0) & (matrix <= 1)) and matrix.max() > 0
    per_layer = np.array(codes["per_layer"])
    assert per_layer.shape == (len(codes["layers"]), 5, 5)
    relu = [i for i, kind in enumerate(codes["kinds"]) if kind == "relu"]
    assert np.allclose(per_layer[relu].mean(0), matrix, atol=2e-6)  # the mean over ReLU layers
    gammas = dense["bn_gammas"]
    assert gammas["epochs"] == [0, 1, 2, 3, 4]
    assert len(gammas["values"][0]) == sum(size for _, _, size in gammas["layers"])
    assert dense["metrics"]["eb_earliest_possible"] == {"spline": 4, "mask": 5}
    assert [h["lr"] for h in dense["history"]] == pytest.approx([0.05, 0.05, 0.005, 0.0005])
    pruned = records["prune-magnitude-p50"]["metrics"]
    m = dense["metrics"]
    # training FLOPs: 4 dense epochs + 1 epoch of the pruned net, which costs less per epoch
    extra = pruned["training_flops"] - 4 * m["epoch_training_flops"]
    assert 0 < extra < m["epoch_training_flops"]
    assert pruned["params"] < m["params"] and pruned["flops_fraction"] == pytest.approx(
        pruned["flops"] / m["flops"]
    )
    for eb in (r for r in records.values() if r["protocol"] == "early-bird"):
        e = eb["eb_epoch"]
        assert eb["metrics"]["searched_epochs"] == e and 1 <= e <= 4
        assert eb["run"] == f"eb-{eb['detector']}-{eb['method']}-p50"
        spline = eb["detector"] == "spline"
        detector = m["spline_detector_flops_per_epoch"] * e if spline else 0
        assert eb["metrics"]["detector_flops"] == detector  # the detector's cost is counted
        assert eb["metrics"]["training_flops"] > e * m["epoch_training_flops"] + detector


def test_killed_run_resumes_to_identical_metrics(tiny_run, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "spline_utils.experiments", *TINY, "--out", str(tmp_path)]
    checkpoint = tmp_path / "digits32-vgg16-w0.0625-seed0" / "checkpoints" / "dense.pt"
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.time() + 300
    while not checkpoint.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # into the next epoch
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    done = len(load_checkpoint(checkpoint)["history"])
    assert 1 <= done < 4
    assert not (checkpoint.parent.parent / "dense.json").exists()
    resumed = _cli([*TINY, "--out", str(tmp_path)])
    assert resumed.returncode == 0, resumed.stderr
    a, b = _records(tiny_run), _records(checkpoint.parent.parent)
    assert set(a) == set(b)
    for run in a:
        for ha, hb in zip(a[run]["history"], b[run]["history"], strict=True):
            assert {k: v for k, v in ha.items() if k != "seconds"} == {
                k: v for k, v in hb.items() if k != "seconds"
            }
        assert a[run].get("code_distances") == b[run].get("code_distances")
        keep = (
            "test_acc",
            "params",
            "flops",
            "training_flops",
            "eb_epochs",
            "test_acc_before_retraining",
        )
        assert {k: a[run]["metrics"].get(k) for k in keep} == {
            k: b[run]["metrics"].get(k) for k in keep
        }


def test_a_finished_run_is_not_repeated(tiny_run, tmp_path):
    copy = tmp_path / tiny_run.name
    shutil.copytree(tiny_run, copy)
    before = {p: p.stat().st_mtime_ns for p in copy.glob("*.json")}
    proc = _cli([*TINY, "--out", str(tmp_path)])
    assert proc.returncode == 0, proc.stderr
    assert {p: p.stat().st_mtime_ns for p in copy.glob("*.json")} == before  # nothing rewritten
    table = _cli(["table", str(tmp_path)])
    assert table.returncode == 0 and "prune-magnitude-p50" in table.stdout
    # the same folder with another schedule would silently stand for another experiment
    other = _cli([*TINY, "--lr", "0.2", "--out", str(tmp_path)])
    assert other.returncode == 1 and "schedule differ" in other.stderr and "--out" in other.stderr
    # adding protocol-1 methods to a finished experiment is fine
    more = _cli([*[a if a != "magnitude" else "random" for a in TINY], "--out", str(tmp_path)])
    assert more.returncode == 0, more.stderr
    assert (copy / "prune-random-p50.json").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--ratios", "1.5"], "ratios must be fractions in (0, 1)"),
        (["--epochs", "0"], "--epochs must be >= 1"),
        (["--arch", "resnet18"], "invalid choice: 'resnet18'"),
        (["--methods", "lottery"], "invalid choice: 'lottery'"),
    ],
)
def test_cli_rejects_bad_arguments(args, message):
    proc = _cli(["run", "--mode", "quick", *args], timeout=120)
    assert proc.returncode == 2 and message in proc.stderr


def test_cli_full_mode_offline_names_the_data_folder(tmp_path):
    proc = _cli(
        [
            "run",
            "--mode",
            "full",
            "--dataset",
            "cifar100",
            "--data",
            str(tmp_path),
            "--no-download",
            "--device",
            "cpu",
            "--out",
            str(tmp_path / "out"),
        ],
        timeout=120,
    )
    assert proc.returncode == 1
    assert str(tmp_path) in proc.stderr and "SPLINE_BOOK_DATA" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_cli_run_as_a_list():
    # "run" must come first; the parser says so
    assert _cli(["--mode", "quick"], timeout=120).returncode == 2


def test_ddp_smoke_two_cpu_processes(tmp_path):
    """torchrun with the gloo backend, 2 processes: both train, rank 0 alone writes the files."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    args = [
        "-m",
        "spline_utils.experiments",
        "run",
        "--mode",
        "quick",
        "--width",
        "0.0625",
        "--epochs",
        "2",
        "--finetune-epochs",
        "1",
        "--methods",
        "slimming",
        "--ratios",
        "0.5",
        "--detectors",
        "--no-progress",
        "--out",
        str(tmp_path),
    ]
    proc = subprocess.run(
        [*torchrun, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    folder = tmp_path / "digits32-vgg16-w0.0625-seed0"
    records = _records(folder)
    assert set(records) == {"dense", "prune-slimming-p50"}
    assert proc.stdout.count("results in") == 1  # only rank 0 reports
    for r in records.values():
        assert len(r["history"]) in (1, 2) and np.isfinite(r["history"][-1]["train_loss"])
    assert sorted(p.name for p in folder.iterdir()) == [
        "checkpoints",
        "dense.json",
        "experiment.json",
        "prune-slimming-p50.json",
    ]


def test_config_round_trips_through_asdict():
    config = ex.preset("quick", ratios=(0.3,))
    again = ex.ExperimentConfig(**asdict(config))
    assert again == config


def _fake_cifar10(root: Path, per_batch: int = 40) -> None:
    """A tiny stand-in for CIFAR-10 in torchvision's on-disk format (random images)."""
    import pickle

    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {
            "data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
            "labels": rng.integers(0, 10, per_batch).tolist(),
        }
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"class{i}" for i in range(10)]}, f)


def test_full_mode_reads_cifar_from_the_data_folder(tmp_path, monkeypatch, capsys):
    """The full-mode path end to end on a fake CIFAR-10 (the checksum test is bypassed)."""
    from torchvision.datasets import cifar

    _fake_cifar10(tmp_path / "data")
    monkeypatch.setattr(cifar, "check_integrity", lambda *args, **kwargs: True)
    data = load_images("cifar10", tmp_path / "data", download=False)
    assert data.x_train.shape == (200, 3, 32, 32) and data.x_test.shape == (40, 3, 32, 32)
    assert data.x_train.dtype == torch.uint8 and data.num_classes == 10
    torch.set_num_threads(1)
    code = ex.main(
        [
            "run",
            "--mode",
            "full",
            "--dataset",
            "cifar10",
            "--data",
            str(tmp_path / "data"),
            "--no-download",
            "--device",
            "cpu",
            "--width",
            "0.0625",
            "--epochs",
            "2",
            "--finetune-epochs",
            "1",
            "--batch-size",
            "32",
            "--methods",
            "slimming",
            "--ratios",
            "0.5",
            "--detectors",
            "--record-codes",
            "0",
            "--no-progress",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 0
    records = _records(tmp_path / "out" / "cifar10-vgg16-w0.0625-seed0")
    assert set(records) == {"dense", "prune-slimming-p50"}
    dense = records["dense"]
    assert dense["smoke"] is False and dense["dataset"] == "cifar10"
    assert dense["config"]["schedule"]["lr"] == 0.1 and dense["config"]["schedule"][
        "milestones"
    ] == [1]
    assert "code_distances" not in dense
    assert "results in" in capsys.readouterr().out


def test_only_dense_stops_after_the_dense_run(tmp_path):
    torch.set_num_threads(1)
    config = ex.preset(
        "quick",
        width=0.0625,
        out=str(tmp_path),
        finetune_epochs=1,
        schedule=Schedule(epochs=2, lr=0.05, milestones=(1,), batch_size=64),
    )
    records = ex.run_experiment(config, progress=False, only_dense=True)
    assert [r["run"] for r in records] == ["dense"]
    assert sorted(p.name for p in config.folder.glob("*.json")) == ["dense.json", "experiment.json"]
    assert records[0]["code_distances"]["epochs"] == [0, 1, 2]  # the untrained net too


def test_cpu_protocol_runs_on_fashion_mnist_files(tmp_path, monkeypatch, write_fashion_mnist):
    """`run --mode cpu --dataset fashion-mnist` on fake IDX files in the data folder: one
    channel, a class-balanced training subset, a Torch-Pruning criterion, and early-bird runs
    named by detector and rule; with no data anywhere it fails naming all three ways."""
    from spline_utils.experiments import image_data

    monkeypatch.setattr(image_data, "DEBIAN_FASHION_MNIST", tmp_path / "no-debian")
    args = ["run", "--mode", "cpu", "--dataset", "fashion-mnist", "--no-download"]
    args += ["--train-size", "20", "--epochs", "5", "--finetune-epochs", "1", "--width", "0.0625"]
    args += ["--methods", "tp-taylor", "--ratios", "0.5", "--canvas", "4", "--record-codes", "4"]
    args += ["--eb-runs", "mask:slimming", "mask:spline-global", "--no-progress", "--threads", "1"]
    assert ex.main([*args, "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 1
    write_fashion_mnist(tmp_path / "data" / "FashionMNIST" / "raw", n_train=40, n_test=10)
    out = tmp_path / "out"
    assert ex.main([*args, "--data", str(tmp_path / "data"), "--out", str(out)]) == 0
    records = _records(out / "fashion-mnist-vgg16-w0.0625-seed0")
    dense = records["dense"]
    assert dense["dataset"] == "fashion-mnist" and dense["config"]["train_size"] == 20
    assert len(dense["bn_gammas"]["epochs"]) == 6 and dense["code_distances"]["epochs"][0] == 0
    assert records["prune-tp-taylor-p50"]["metrics"]["params"] < dense["metrics"]["params"]
    mask_epoch = dense["metrics"]["eb_epochs"]["mask-p50"]
    for rule in ("slimming", "spline-global"):  # both rules at the same detection epoch
        run = f"eb-mask-{rule}-p50"
        if mask_epoch is None:
            assert run not in records
        else:
            assert records[run]["eb_epoch"] == mask_epoch and records[run]["method"] == rule


def test_cpu_protocol_fails_clearly_without_fashion_mnist(tmp_path, monkeypatch, capsys):
    from spline_utils.experiments import image_data

    monkeypatch.setattr(image_data, "DEBIAN_FASHION_MNIST", tmp_path / "no-debian")
    code = ex.main(
        ["run", "--mode", "cpu", "--no-download", "--data", str(tmp_path), "--out", str(tmp_path)]
    )
    err = capsys.readouterr().err
    assert code == 1 and "dataset-fashion-mnist" in err and str(tmp_path) in err
    assert "downloading is switched off" in err


def test_detection_analysis_replays_the_recorded_detectors(tiny_run):
    """The detection table, replayed from the dense run's records at the run's own settings,
    gives the epochs at which the live detectors fired (or did not)."""
    from spline_utils.early_bird import consecutive_distances, detection_epochs, normalised_matrix
    from spline_utils.experiments.results_files import load_records

    (dense,) = load_records(tiny_run.parent, run="dense")
    config = dense["config"]
    table = detection_epochs(
        [dense],
        windows=[config["eb_window"]],
        spline_thresholds=[config["eb_threshold"]],
        mask_thresholds=[],
        ratios=[],
    )
    fired = dense["metrics"]["eb_epochs"]["spline"]
    replayed = table.epoch.iloc[0]
    assert (fired is None and np.isnan(replayed)) or replayed == fired
    masks = detection_epochs(
        [dense],
        windows=[config["mask_fifo"] - 1],
        spline_thresholds=[],
        mask_thresholds=[config["mask_threshold"]],
        ratios=config["ratios"],
    )
    for _, row in masks.iterrows():
        live = dense["metrics"]["eb_epochs"][f"mask-p{round(100 * row.ratio):02d}"]
        assert (live is None and np.isnan(row.epoch)) or row.epoch == live
    steps = consecutive_distances(dense)
    assert list(steps.index) == dense["code_distances"]["epochs"][1:]
    authors = normalised_matrix(dense, first_layers=1)
    assert authors.min() == 0.0 and authors.max() == 1.0
    assert np.allclose(normalised_matrix(dense), dense["code_distances"]["matrix"])


def test_code_trajectory_of_a_recorded_run(tiny_run, tmp_path):
    """`trajectory` turns the recorded codes into a small results file: the on/off masks of
    first-layer neurons whose splines cross the canvas, and the region counts, every epoch."""
    import shutil

    from spline_utils.early_bird import load_code_sets, unit_masks
    from spline_utils.experiments.provenance import read_json

    folder = tmp_path / "copy"
    shutil.copytree(tiny_run, folder)
    assert ex.main(["trajectory", str(folder)]) == 0
    record = read_json(folder / "code-trajectory.json")
    side, epochs = record["side"], record["epochs"]
    assert epochs == read_json(folder / "dense.json")["code_distances"]["epochs"]
    masks = unit_masks(record)
    units = record["units"]
    assert masks.shape == (len(epochs), len(units), side, side) and 0 < len(units) <= 12
    # the masks are the recorded codes of those neurons, and each spline crosses the canvas
    # at the last epoch
    _, sets = load_code_sets(folder / "checkpoints" / "codes")
    first = sets[0].names.index(record["layer"])
    for e, codes in enumerate(sets):
        bits = codes.unpack(first)[:, units].T.reshape(len(units), side, side)
        assert (masks[e] == bits).all()
    assert all(m.any() and not m.all() for m in masks[-1])
    # region counts: at most one per grid point, and the whole network refines the first layer
    for f, a in zip(record["regions_first_layer"], record["regions_all_layers"]):
        assert 1 <= f <= a <= side * side
    assert ex.main(["trajectory", str(tmp_path / "nothing")]) == 1


def test_projected_sweep_hours_counts_every_training_of_the_sweep():
    """One dense training, then one fine-tuning per (method or early-bird run, ratio)."""
    from spline_utils.experiments import ExperimentConfig, projected_sweep_hours

    config = ExperimentConfig(methods=("slimming",), eb_runs=("spline:slimming",), ratios=(0.5,))
    assert projected_sweep_hours(3600.0, [1800.0], config, epochs=1) == 1.0 + 2 * 0.5
    full = projected_sweep_hours(10.0, [5.0, 5.0, 5.0])  # 7 methods + 5 early-bird runs
    assert full == (160 * 10.0 + 12 * 160 * 15.0) / 3600
    with pytest.raises(ValueError, match="one epoch time per ratio"):
        projected_sweep_hours(10.0, [5.0, 5.0])
    with pytest.raises(ValueError, match="dense_epoch_seconds"):
        projected_sweep_hours(0.0, [5.0, 5.0, 5.0])


def test_long_preset_meets_the_step_floor_with_the_same_bn_pull():
    """The cpu-long protocol: all 60,000 Fashion-MNIST images, more first-rate SGD steps than
    the early-bird paper's latest ticket (~6,800), drops at 50 % and 75 %, and the BN L1 weight
    that gives the same total pull as 1e-4 over the paper's 160 CIFAR epochs (which the short
    protocol's 2.5e-3 also gives)."""
    from spline_utils.experiments.config import EB_PAPER_BN_PULL, bn_l1_same_pull

    for arch, width in (("vgg16", 0.125), ("preresnet20", 0.5)):
        config = preset("cpu-long", arch=arch)
        s = config.schedule
        assert config.train_size is None and config.width == width
        steps = -(-60_000 // s.batch_size)
        first_rate = sum(1 for e in range(s.epochs) if s.lr_at(e) == s.lr)
        assert first_rate * steps >= 6_800 and s.lr == 0.1
        assert s.milestones == (s.epochs // 2, int(s.epochs * 0.75))
        pull = s.bn_l1 * steps * sum(s.lr_at(e) for e in range(s.epochs))
        assert pull == pytest.approx(EB_PAPER_BN_PULL, rel=1e-3)
    short = preset("cpu")
    assert bn_l1_same_pull(short.schedule, short.train_size) == pytest.approx(2.5e-3, rel=1e-3)
    model = build_model(preset("cpu-long", arch="preresnet20"), 10, 1)
    assert [m.out_channels for m in model.modules() if isinstance(m, torch.nn.Conv2d)][:2] == [8, 8]
    assert model(torch.zeros(2, 1, 32, 32)).shape == (2, 10)


def test_recalibrated_batchnorm_holds_the_training_images_statistics():
    """Recomputed BatchNorm statistics: the first BatchNorm's running mean is the mean of its
    input over the training images (4 equal batches of 50), its running variance the average of
    the batches' unbiased variances; the weights and the original are untouched."""
    from spline_utils.experiments.resumable_training import recalibrated_batchnorm

    data = load_images("digits32").subset(200, seed=0)
    net = vgg([4, "M", 6], num_classes=10).eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    seen = []
    hook = net[1].register_forward_pre_hook(lambda m, inputs: seen.append(inputs[0].detach()))
    with torch.no_grad():
        net(data.normalise(data.x_train))
    hook.remove()
    inputs = seen[0].transpose(0, 1).flatten(1)  # (channels, images x positions)
    fresh = recalibrated_batchnorm(net, data, batch_size=50)
    torch.testing.assert_close(fresh[1].running_mean, inputs.mean(1), rtol=1e-4, atol=1e-5)
    per_batch = seen[0].reshape(4, 50, *seen[0].shape[1:]).transpose(1, 2).flatten(2).var(2)
    torch.testing.assert_close(fresh[1].running_var, per_batch.mean(0), rtol=1e-3, atol=1e-5)
    assert not fresh.training and fresh[0].weight.data_ptr() != net[0].weight.data_ptr()
    for key, value in net.state_dict().items():
        assert torch.equal(value, before[key])
