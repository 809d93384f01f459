"""Image data for the experiments of Chapters 5 and 6, held as uint8 tensors and augmented on the
device: CIFAR-10/100 (full mode, downloaded by torchvision), Fashion-MNIST (the real benchmark
every machine can have: see :func:`load_images` for where it is looked for) and the digits
upsampled to CIFAR's shape (quick mode).

Every data set comes back as one :class:`ImageData`: ``uint8`` images (N, C, 32, 32) -- C = 3 for
CIFAR and the digits, 1 for Fashion-MNIST, whose 28x28 images are zero-padded by 2 pixels on every
side -- and ``int64`` labels (N,). Normalisation (per-channel mean / std of the training images) and the
standard CIFAR augmentation (zero-pad 4, random 32x32 crop, random horizontal flip) are done
batch by batch on whatever device the batch lives on, so no DataLoader workers are needed and
a GPU is never starved by a 2-core Colab CPU.
"""

from __future__ import annotations

import gzip
import os
import shutil
import urllib.error
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..checks import check_bool, check_int
from ..mode import DATA_VARIABLE, data_dir
from .data import digits_tensors

DATASETS = ("cifar10", "cifar100", "fashion-mnist", "digits32")
_CLASSES = {"cifar10": 10, "cifar100": 100, "fashion-mnist": 10, "digits32": 10}
#: where Debian's package ``dataset-fashion-mnist`` installs the four gzip files
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
_FASHION_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
_URL = {
    "cifar10": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    "cifar100": "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
}


@dataclass
class ImageData:
    """Train and test images (uint8, (N, C, 32, 32)) and labels (int64, (N,)).

    mean, std: per-channel statistics of the training images on the [0, 1] scale, shape (C,).
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    mean: torch.Tensor
    std: torch.Tensor

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    def to(self, device) -> ImageData:
        """A copy with every tensor on ``device`` (CIFAR-10 takes 184 MB as uint8)."""
        move = {
            k: getattr(self, k).to(device)
            for k in ("x_train", "y_train", "x_test", "y_test", "mean", "std")
        }
        return ImageData(self.name, num_classes=self.num_classes, **move)

    def subset(self, n: int, seed: int = 0) -> ImageData:
        """A copy whose training set is ``n`` images, the same number from every class (as near
        as ``n`` allows), drawn with ``seed``; the test set and the statistics are kept.

        Raises ``ValueError`` unless 0 < ``n`` <= the training set's size."""
        n = check_int("n", n, 1)
        if n > len(self.y_train):
            raise ValueError(f"n must be at most the {len(self.y_train)} training images, got {n}")
        generator = torch.Generator().manual_seed(check_int("seed", seed, 0))
        order = torch.randperm(len(self.y_train), generator=generator)
        rank = torch.empty_like(
            order
        )  # each image's position among the shuffled images of its class
        for c in range(self.num_classes):
            members = order[self.y_train[order] == c]
            rank[members] = torch.arange(len(members))
        keep = order[torch.argsort(rank[order], stable=True)[:n]]
        keep = keep.sort().values
        return ImageData(
            self.name,
            self.x_train[keep],
            self.y_train[keep],
            self.x_test,
            self.y_test,
            self.num_classes,
            self.mean,
            self.std,
        )

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 images (B, C, 32, 32) -> float32 standardised per channel."""
        _check_images(x, channels=len(self.mean))
        x = x.float().div_(255.0)
        return (x - self.mean.view(1, -1, 1, 1)) / self.std.view(1, -1, 1, 1)


def load_images(name: str, root: str | Path | None = None, download: bool = True) -> ImageData:
    """Load an image data set as uint8 tensors.

    * ``cifar10`` / ``cifar100``: torchvision's copy in ``root`` (default: the folder named by
      the ``SPLINE_BOOK_DATA`` environment variable), downloaded there when missing.
    * ``fashion-mnist`` (60,000 / 10,000 grey 28x28 images, 10 classes, padded to 32x32), found
      in this order: (1) ``root/FashionMNIST/raw`` (the four IDX files, or their ``.gz``
      versions, which are decompressed in place); (2) Debian's package ``dataset-fashion-mnist``
      (``/usr/share/datasets/fashion-mnist``), decompressed into ``root`` on first use (Debian
      recompressed the files, so torchvision's checksums of the ``.gz`` files do not match;
      the decompressed data are the same); (3) a torchvision download into ``root``.
    * ``digits32``: scikit-learn's bundled digits (1,347 train / 450 test), upsampled bilinearly
      from 8x8 to 32x32 and repeated over three channels; no download.

    Args:
        name: one of ``DATASETS``.
        root: the data folder (default: ``SPLINE_BOOK_DATA``, else
            ``~/.cache/spline-pruning-book/data``).
        download: ``False`` never downloads.

    Returns:
        An :class:`ImageData`.

    Raises:
        ValueError: an unknown ``name``.
        RuntimeError: the data are nowhere to be found; the message names the data folder and
            every way to get them.
    """
    if not isinstance(name, str) or name not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {name!r}")
    download = check_bool("download", download)
    if name == "digits32":
        x_tr, y_tr, x_te, y_te = digits_tensors()
        x_tr, x_te = _digits_to_cifar_shape(x_tr), _digits_to_cifar_shape(x_te)
    elif name == "fashion-mnist":
        root = Path(root) if root is not None else data_dir()
        x_tr, y_tr, x_te, y_te = _fashion_mnist(root, download)
    else:
        root = Path(root) if root is not None else data_dir()
        x_tr, y_tr = _torchvision_cifar(name, root, True, download)
        x_te, y_te = _torchvision_cifar(name, root, False, download)
    scaled = x_tr.float().div(255.0)
    mean, std = scaled.mean((0, 2, 3)), scaled.std((0, 2, 3))
    return ImageData(name, x_tr, y_tr, x_te, y_te, _CLASSES[name], mean, std)


def _digits_to_cifar_shape(x: torch.Tensor) -> torch.Tensor:
    """(N, 1, 8, 8) floats in [0, 1] -> (N, 3, 32, 32) uint8."""
    up = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False)
    return (up.clamp(0, 1) * 255).round().to(torch.uint8).repeat(1, 3, 1, 1).contiguous()


def _fashion_mnist(root: Path, download: bool):
    """Fashion-MNIST from ``root``, Debian's folder or a download (see :func:`load_images`), as
    uint8 (N, 1, 32, 32) images and int64 labels."""
    from torchvision import datasets  # torchvision is slow to import: only for image data

    raw = root / "FashionMNIST" / "raw"
    tried = []
    if not _decompressed(raw, raw):
        tried.append(f"(1) no Fashion-MNIST files in the data folder {raw}")
        if _decompressed(DEBIAN_FASHION_MNIST, raw):
            pass
        elif not download:
            tried.append(
                f"(2) Debian's package is not installed ({DEBIAN_FASHION_MNIST} is missing; "
                "apt-get install dataset-fashion-mnist)"
            )
            tried.append("(3) downloading is switched off")
            raise RuntimeError(_fashion_message(root, tried))
        else:
            try:
                datasets.FashionMNIST(str(root), train=True, download=True)
            except (urllib.error.URLError, OSError, RuntimeError) as err:
                tried.append(
                    f"(2) Debian's package is not installed ({DEBIAN_FASHION_MNIST} is missing; "
                    "apt-get install dataset-fashion-mnist)"
                )
                tried.append(f"(3) the torchvision download failed ({err})")
                raise RuntimeError(_fashion_message(root, tried)) from None
    parts = []
    for train in (True, False):
        ds = datasets.FashionMNIST(str(root), train=train, download=False)
        x = F.pad(ds.data[:, None], (2, 2, 2, 2))  # 28x28 -> 32x32, background 0
        parts += [x.contiguous(), ds.targets.to(torch.int64)]
    return tuple(parts)


def _decompressed(source: Path, raw: Path) -> bool:
    """Make ``raw`` hold the four decompressed IDX files, taking them from ``source`` (plain or
    ``.gz``); ``False`` when ``source`` does not have all four."""
    found = {}
    for stem in _FASHION_FILES:
        if (source / stem).is_file():
            found[stem] = source / stem
        elif (source / f"{stem}.gz").is_file():
            found[stem] = source / f"{stem}.gz"
        else:
            return False
    raw.mkdir(parents=True, exist_ok=True)
    for stem, path in found.items():
        target = raw / stem
        if target.is_file() and (path == target or target.stat().st_size > 0):
            continue
        # a name of its own per process: two runs started together must not share a half-written file
        partial = raw / f".{stem}.{os.getpid()}.partial"
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as src, open(partial, "wb") as dst:
            shutil.copyfileobj(src, dst)
        partial.replace(target)  # atomic: an interrupted copy never looks complete
    return True


def _fashion_message(root: Path, tried: list[str]) -> str:
    return (
        "Fashion-MNIST was not found. Tried: " + "; ".join(tried) + ". Any one of these fixes it: "
        f"put the four IDX files (or their .gz) into {root / 'FashionMNIST' / 'raw'}; install "
        "Debian's dataset-fashion-mnist; or connect to the internet (torchvision downloads it, "
        f"about 30 MB). {DATA_VARIABLE} names the data folder."
    )


def _torchvision_cifar(name: str, root: Path, train: bool, download: bool):
    from torchvision import datasets  # torchvision is slow to import: only for image data

    cls = datasets.CIFAR10 if name == "cifar10" else datasets.CIFAR100
    try:
        ds = cls(str(root), train=train, download=False)
    except RuntimeError:
        if not download:
            raise RuntimeError(
                _missing_message(name, root, "downloading is switched off")
            ) from None
        try:
            ds = cls(str(root), train=train, download=True)
        except (urllib.error.URLError, OSError, RuntimeError) as err:
            raise RuntimeError(
                _missing_message(name, root, f"the download failed ({err})")
            ) from None
    x = torch.from_numpy(np.ascontiguousarray(ds.data.transpose(0, 3, 1, 2)))
    return x, torch.as_tensor(ds.targets, dtype=torch.int64)


def _missing_message(name: str, root: Path, why: str) -> str:
    return (
        f"{name} is not in the data folder {root} and {why}. Either connect to the internet and "
        f"rerun (torchvision downloads it there, about 170 MB), or fetch {_URL[name]} yourself, "
        f"unpack it into {root}, or point the environment variable {DATA_VARIABLE} at a folder that "
        "already holds it. Quick mode (SPLINE_BOOK_MODE=quick) needs no download."
    )


def _check_images(x, channels: int | None = None) -> None:
    """A uint8 image batch (B, C, H, W)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor of uint8 images, got {type(x).__name__}")
    if x.dtype != torch.uint8 or x.dim() != 4 or (channels is not None and x.shape[1] != channels):
        c = "C" if channels is None else channels
        raise ValueError(
            f"x must be uint8 images of shape (B, {c}, H, W), got {x.dtype} {tuple(x.shape)}"
        )


def augment(x: torch.Tensor, generator: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Standard CIFAR augmentation of a uint8 batch (B, C, H, W): zero-pad ``pad`` pixels, take a
    random HxW crop and flip half of the images left-right. The random draws come from the CPU
    ``generator``, so a batch is augmented identically on any device."""
    _check_images(x)
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    pad = check_int("pad", pad, 0)
    b, _, h, w = x.shape
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
    flip = torch.rand(b, generator=generator) < 0.5
    dy, dx, flip = dy.to(x.device), dx.to(x.device), flip.to(x.device)
    padded = F.pad(x, (pad, pad, pad, pad))
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, :, None]  # (B, H, 1)
    cols = dx[:, None] + torch.arange(w, device=x.device)  # (B, W)
    cols = torch.where(flip[:, None], cols.flip(1), cols)[:, None, :]  # (B, 1, W)
    batch = torch.arange(b, device=x.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2).contiguous()
