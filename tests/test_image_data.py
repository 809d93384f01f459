"""Fashion-MNIST's loading path, on tiny fake data sets written in the IDX format (no download,
no Debian package needed), and training-set subsets."""

import urllib.error

import numpy as np
import pytest
import torch

from spline_utils.experiments import image_data
from spline_utils.experiments.image_data import load_images

N_TRAIN, N_TEST = 30, 10


@pytest.fixture
def no_debian(tmp_path, monkeypatch):
    monkeypatch.setattr(image_data, "DEBIAN_FASHION_MNIST", tmp_path / "no-such-folder")


def _check_loaded(data, files) -> None:
    assert data.x_train.shape == (N_TRAIN, 1, 32, 32) and data.x_train.dtype == torch.uint8
    assert data.x_test.shape == (N_TEST, 1, 32, 32) and data.num_classes == 10
    assert data.y_train.tolist() == [i % 10 for i in range(N_TRAIN)]
    # the 28x28 images sit in the middle, padded with 2 zero pixels on every side
    images = np.frombuffer(files["train-images-idx3-ubyte"][16:], np.uint8).reshape(-1, 28, 28)
    assert np.array_equal(data.x_train[:, 0, 2:30, 2:30].numpy(), images)
    assert data.x_train[:, :, :2].sum() == 0 and data.x_train[:, :, :, 30:].sum() == 0
    assert data.mean.shape == (1,) and data.std.shape == (1,)


def test_loads_decompressed_files_from_the_data_folder(tmp_path, no_debian, write_fashion_mnist):
    files = write_fashion_mnist(tmp_path / "FashionMNIST" / "raw", gz=False)
    _check_loaded(load_images("fashion-mnist", root=tmp_path, download=False), files)


def test_decompresses_gzip_only_files_in_the_data_folder(tmp_path, no_debian, write_fashion_mnist):
    raw = tmp_path / "FashionMNIST" / "raw"
    files = write_fashion_mnist(raw, gz=True)
    _check_loaded(load_images("fashion-mnist", root=tmp_path, download=False), files)
    assert all((raw / name).is_file() for name in files)
    assert not list(raw.glob(".*partial"))


def test_takes_debians_recompressed_files_into_the_data_folder(
    tmp_path, monkeypatch, write_fashion_mnist
):
    debian = tmp_path / "debian"
    files = write_fashion_mnist(debian, gz=True, seed=1)
    monkeypatch.setattr(image_data, "DEBIAN_FASHION_MNIST", debian)
    root = tmp_path / "data"
    _check_loaded(load_images("fashion-mnist", root=root, download=False), files)
    assert all((root / "FashionMNIST" / "raw" / name).is_file() for name in files)


def test_data_folder_wins_over_debian(tmp_path, monkeypatch, write_fashion_mnist):
    debian = tmp_path / "debian"
    write_fashion_mnist(debian, gz=True, seed=1)
    monkeypatch.setattr(image_data, "DEBIAN_FASHION_MNIST", debian)
    files = write_fashion_mnist(tmp_path / "data" / "FashionMNIST" / "raw", gz=False, seed=2)
    _check_loaded(load_images("fashion-mnist", root=tmp_path / "data", download=False), files)


def test_an_incomplete_folder_does_not_count(tmp_path, no_debian, write_fashion_mnist):
    raw = tmp_path / "FashionMNIST" / "raw"
    write_fashion_mnist(raw, gz=False)
    (raw / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(RuntimeError, match="no Fashion-MNIST files in the data folder"):
        load_images("fashion-mnist", root=tmp_path, download=False)


def test_nowhere_to_be_found_names_all_three_ways(tmp_path, no_debian):
    with pytest.raises(RuntimeError) as info:
        load_images("fashion-mnist", root=tmp_path, download=False)
    message = str(info.value)
    assert str(tmp_path / "FashionMNIST" / "raw") in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert "downloading is switched off" in message and "SPLINE_BOOK_DATA" in message


def test_a_failed_download_names_all_three_ways(tmp_path, no_debian, monkeypatch):
    from torchvision import datasets

    def offline(self, *args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(datasets.FashionMNIST, "download", offline)
    with pytest.raises(RuntimeError, match="torchvision download failed") as info:
        load_images("fashion-mnist", root=tmp_path, download=True)
    assert "dataset-fashion-mnist" in str(info.value) and "data folder" in str(info.value)


def test_subset_is_balanced_seeded_and_checked(tmp_path, no_debian, write_fashion_mnist):
    write_fashion_mnist(tmp_path / "FashionMNIST" / "raw", gz=False)
    data = load_images("fashion-mnist", root=tmp_path, download=False)
    small = data.subset(20, seed=3)
    assert torch.bincount(small.y_train, minlength=10).tolist() == [2] * 10
    assert torch.equal(small.x_train, data.subset(20, seed=3).x_train)
    assert not torch.equal(small.x_train, data.subset(20, seed=4).x_train)
    assert torch.equal(small.x_test, data.x_test)
    with pytest.raises(ValueError, match="n must be at most"):
        data.subset(N_TRAIN + 1)
    with pytest.raises(ValueError, match="n must be"):
        data.subset(0)


def test_normalise_and_augment_take_one_channel(tmp_path, no_debian, write_fashion_mnist):
    write_fashion_mnist(tmp_path / "FashionMNIST" / "raw", gz=False)
    data = load_images("fashion-mnist", root=tmp_path, download=False)
    batch = image_data.augment(data.x_train[:8], torch.Generator().manual_seed(0))
    assert batch.shape == (8, 1, 32, 32) and batch.dtype == torch.uint8
    assert data.normalise(batch).shape == (8, 1, 32, 32)
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        data.normalise(torch.zeros(2, 3, 32, 32, dtype=torch.uint8))
