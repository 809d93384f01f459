import gzip
import struct

import numpy as np
import pytest
import torch
from torch import nn

import spline_utils as su


@pytest.fixture(autouse=True)
def _seed():
    su.seed_everything(0)
    torch.set_num_threads(2)


def random_bn_(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every BatchNorm non-trivial running statistics and affine parameters."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.3)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.randn(m.num_features, generator=g))
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.3)
    return model.eval()


class SmallResNet(nn.Module):
    """Conv-BN-ReLU stem, one residual block, avg-pool, max-pool, linear head (input 1x8x8)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
        self.block = su.ResidualBlock(4)
        self.pool = nn.MaxPool2d(2)
        self.avg = nn.AvgPool2d(2)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(4 * 2 * 2, 3))

    def forward(self, x):
        return self.head(self.avg(self.pool(self.block(self.stem(x)))))


def small_convnet() -> nn.Module:
    """Strided conv, BN, LeakyReLU, max-pool with padding, adaptive avg-pool, dropout."""
    return nn.Sequential(
        nn.Conv2d(1, 5, 3, stride=2, padding=1),
        nn.BatchNorm2d(5),
        nn.LeakyReLU(0.2),
        nn.Conv2d(5, 6, 3, padding=2, dilation=2),
        nn.ReLU(),
        nn.MaxPool2d(3, stride=1, padding=1),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.5),
        nn.Linear(24, 4),
    )


@pytest.fixture
def resnet():
    return random_bn_(SmallResNet())


@pytest.fixture
def convnet():
    return random_bn_(small_convnet())


def _idx(array: np.ndarray) -> bytes:
    """The IDX encoding of a uint8 array (magic 0x0803 for images, 0x0801 for labels)."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture
def write_fashion_mnist():
    """A writer of tiny fake Fashion-MNIST files (the four IDX files, plain or gzip):
    ``write(folder, gz=False, seed=0, n_train=30, n_test=10)`` returns ``{name: bytes}``."""

    def write(folder, gz: bool = False, seed: int = 0, n_train: int = 30, n_test: int = 10):
        rng = np.random.default_rng(seed)
        files = {}
        for split, n in (("train", n_train), ("t10k", n_test)):
            files[f"{split}-images-idx3-ubyte"] = _idx(rng.integers(1, 256, (n, 28, 28)))
            files[f"{split}-labels-idx1-ubyte"] = _idx(np.arange(n) % 10)
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            if gz:
                (folder / f"{name}.gz").write_bytes(gzip.compress(data))
            else:
                (folder / name).write_bytes(data)
        return files

    return write
