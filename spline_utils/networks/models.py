"""Small networks used throughout the book, all built from supported (piecewise-affine) layers."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..checks import check_bool, check_int, check_module, check_real, is_int

_ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.1)}

#: VGG-16 configuration of the CIFAR variant (numbers are conv output channels, "M" is 2x2 max-pooling)
VGG16_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)


def _activation(name: str) -> nn.Module:
    if name not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {name!r}")
    return _ACTIVATIONS[name]()


def make_mlp(
    widths: Sequence[int], activation: str = "relu", batch_norm: bool = False
) -> nn.Sequential:
    """A fully connected network ``widths[0] -> widths[1] -> ... -> widths[-1]``.

    Every hidden layer is ``Linear [-> BatchNorm1d] -> activation``; the last is ``Linear``.
    ``make_mlp([2, 6, 6, 1])`` is the toy network of the paper's Fig. 1a.
    Weights use PyTorch's default initialisation (seed first for reproducibility).

    Args:
        widths: layer widths, input first and output last (at least two, each >= 1).
        activation: ``"relu"`` or ``"leaky_relu"`` (negative slope 0.1).
        batch_norm: put a ``BatchNorm1d`` between each hidden Linear and its activation.

    Returns:
        The ``nn.Sequential``, in train mode; layers are named ``"0"``, ``"1"``, ... in order.

    Raises:
        ValueError: fewer than two widths, a width < 1, or an unknown activation.
        TypeError: ``widths`` is not a sequence.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> su.make_mlp([2, 6, 6, 1])
        Sequential(
          (0): Linear(in_features=2, out_features=6, bias=True)
          (1): ReLU()
          (2): Linear(in_features=6, out_features=6, bias=True)
          (3): ReLU()
          (4): Linear(in_features=6, out_features=1, bias=True)
        )
    """
    if isinstance(widths, (str, bytes)) or not hasattr(widths, "__iter__"):
        raise TypeError(f"widths must be a sequence of layer widths, got {widths!r}")
    widths = list(widths)
    if len(widths) < 2:
        raise ValueError(
            f"widths must list at least an input and an output width, all >= 1; got {widths}"
        )
    widths = [check_int(f"widths[{i}]", w, 1) for i, w in enumerate(widths)]
    batch_norm = check_bool("batch_norm", batch_norm)
    layers: list[nn.Module] = []
    for i, (w_in, w_out) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(w_in, w_out))
        if i < len(widths) - 2:
            if batch_norm:
                layers.append(nn.BatchNorm1d(w_out))
            layers.append(_activation(activation))
    return nn.Sequential(*layers)


def he_init_(
    model: nn.Module, bias_std: float = 0.0, generator: torch.Generator | None = None
) -> nn.Module:
    """He (Kaiming normal, fan-in, ReLU gain) initialisation of every Linear / Conv2d weight, in place.

    Biases are drawn from N(0, bias_std^2) (zero when ``bias_std = 0``). Returns the model.
    """
    check_module("model", model)
    bias_std = check_real("bias_std", bias_std, 0.0)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator or None, got {type(generator).__name__}"
        )
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            fan_in = module.weight[0].numel()
            with torch.no_grad():
                module.weight.normal_(0.0, (2.0 / fan_in) ** 0.5, generator=generator)
                if module.bias is not None:
                    module.bias.normal_(
                        0.0, bias_std, generator=generator
                    ) if bias_std > 0 else module.bias.zero_()
    return model


def conv_bn_relu(c_in: int, c_out: int) -> list[nn.Module]:
    """``Conv2d 3x3 (padding 1, no bias) -> BatchNorm2d -> ReLU``."""
    c_in, c_out = check_int("c_in", c_in, 1), check_int("c_out", c_out, 1)
    return [
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]


def vgg(cfg: Sequence = VGG16_CFG, num_classes: int = 10, in_channels: int = 3) -> nn.Sequential:
    """A VGG-style network: ``cfg`` lists conv widths (``conv_bn_relu``) and ``"M"`` (2x2 max-pool);
    then global average pooling and one Linear classifier (the CIFAR variant used in network
    slimming and early-bird work). ``vgg()`` is VGG-16 with BN for 32x32 inputs.

    Args:
        cfg: conv output widths (ints >= 1) and ``"M"`` entries, in order (default
            :data:`VGG16_CFG`).
        num_classes: outputs of the classifier.
        in_channels: channels of the input images.

    Returns:
        The ``nn.Sequential`` (``Conv2d``, ``BatchNorm2d``, ``ReLU``, ..., ``AdaptiveAvgPool2d``,
        ``Flatten``, ``Linear``), in train mode.

    Raises:
        ValueError: a ``cfg`` entry is neither a positive int nor ``"M"``, or ``num_classes`` /
            ``in_channels`` < 1.
        TypeError: ``cfg`` is not a sequence.

    Example:
        >>> net = su.vgg((8, "M", 16, "M"), in_channels=1)  # a small VGG
        >>> [type(m).__name__ for m in net][:4]
        ['Conv2d', 'BatchNorm2d', 'ReLU', 'MaxPool2d']
        >>> tuple(net(torch.rand(2, 1, 8, 8)).shape)
        (2, 10)
    """
    num_classes = check_int("num_classes", num_classes, 1)
    in_channels = check_int("in_channels", in_channels, 1)
    if isinstance(cfg, (str, bytes)) or not hasattr(cfg, "__iter__"):
        raise TypeError(f"cfg must be a sequence of channel counts and 'M', got {cfg!r}")
    layers: list[nn.Module] = []
    c = in_channels
    for item in cfg:
        if isinstance(item, str) and item == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            if not is_int(item) or item < 1:
                raise ValueError(
                    f"cfg entries must be positive channel counts or 'M', got {item!r}"
                )
            layers.extend(conv_bn_relu(c, item))
            c = item
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes)]
    return nn.Sequential(*layers)


def digits_convnet(channels: Sequence[int] = (8, 16), num_classes: int = 10) -> nn.Sequential:
    """A small ConvNet for 8x8 digit images (1 channel): two ``conv_bn_relu -> MaxPool2d(2)``
    stages (8x8 -> 4x4 -> 2x2) and a Linear classifier.

    Args:
        channels: the two stages' conv widths ``(c1, c2)``, each >= 1.
        num_classes: outputs of the classifier.

    Returns:
        The ``nn.Sequential`` (layers ``"0"`` ... ``"9"``; convs ``"0"`` and ``"4"``, ReLUs
        ``"2"`` and ``"6"``, max-pools ``"3"`` and ``"7"``), in train mode.

    Raises:
        ValueError: ``channels`` is not a pair of positive ints, or ``num_classes`` < 1.

    Example:
        >>> net = su.digits_convnet((8, 16))
        >>> tuple(net(torch.rand(4, 1, 8, 8)).shape)
        (4, 10)
        >>> sum(p.numel() for p in net.parameters())
        1922
    """
    if isinstance(channels, (str, bytes)) or not hasattr(channels, "__len__") or len(channels) != 2:
        raise ValueError(f"channels must be a pair (c1, c2) of channel counts, got {channels!r}")
    c1, c2 = (check_int(f"channels[{i}]", c, 1) for i, c in enumerate(channels))
    num_classes = check_int("num_classes", num_classes, 1)
    return nn.Sequential(
        *conv_bn_relu(1, c1),
        nn.MaxPool2d(2),
        *conv_bn_relu(c1, c2),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(c2 * 2 * 2, num_classes),
    )


class ResidualBlock(nn.Module):
    """Pre-activation-free basic residual block ``x + BN(conv(ReLU(BN(conv(x)))))`` followed by ReLU.

    Used to show that residual additions keep the network continuous piecewise affine.
    """

    def __init__(self, channels: int):
        super().__init__()
        channels = check_int("channels", channels, 1)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu2 = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        return self.relu2(out + x)


def _shortcut(c_in: int, c_out: int, stride: int) -> nn.Module | None:
    """A 1x1 strided conv where a residual block changes shape, else ``None`` (identity)."""
    return (
        nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False)
        if stride != 1 or c_in != c_out
        else None
    )


class PreActBlock(nn.Module):
    """Pre-activation basic block (CIFAR PreResNet): ``BN-ReLU-conv3x3-BN-ReLU-conv3x3`` plus the
    shortcut (a 1x1 conv on the block input where the shape changes). ``mid`` is the internal
    width (output channels of ``conv1``), the one that pruning may shrink."""

    expansion = 1

    def __init__(self, c_in: int, planes: int, stride: int = 1, mid: int | None = None):
        super().__init__()
        mid = planes if mid is None else int(mid)
        c_out = planes * self.expansion
        self.bn1, self.relu1 = nn.BatchNorm2d(c_in), nn.ReLU()
        self.conv1 = nn.Conv2d(c_in, mid, 3, stride=stride, padding=1, bias=False)
        self.bn2, self.relu2 = nn.BatchNorm2d(mid), nn.ReLU()
        self.conv2 = nn.Conv2d(mid, c_out, 3, padding=1, bias=False)
        self.downsample = _shortcut(c_in, c_out, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(self.relu1(self.bn1(x)))
        out = self.conv2(self.relu2(self.bn2(out)))
        return out + (x if self.downsample is None else self.downsample(x))


class PreActBottleneck(nn.Module):
    """Pre-activation bottleneck block: ``BN-ReLU-conv1x1-BN-ReLU-conv3x3-BN-ReLU-conv1x1`` (4x
    expansion) plus the shortcut. ``mid`` = (width of conv1's output, width of conv2's output)."""

    expansion = 4

    def __init__(self, c_in: int, planes: int, stride: int = 1, mid=None):
        super().__init__()
        m1, m2 = (planes, planes) if mid is None else (int(mid[0]), int(mid[1]))
        c_out = planes * self.expansion
        self.bn1, self.relu1 = nn.BatchNorm2d(c_in), nn.ReLU()
        self.conv1 = nn.Conv2d(c_in, m1, 1, bias=False)
        self.bn2, self.relu2 = nn.BatchNorm2d(m1), nn.ReLU()
        self.conv2 = nn.Conv2d(m1, m2, 3, stride=stride, padding=1, bias=False)
        self.bn3, self.relu3 = nn.BatchNorm2d(m2), nn.ReLU()
        self.conv3 = nn.Conv2d(m2, c_out, 1, bias=False)
        self.downsample = _shortcut(c_in, c_out, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(self.relu1(self.bn1(x)))
        out = self.conv2(self.relu2(self.bn2(out)))
        out = self.conv3(self.relu3(self.bn3(out)))
        return out + (x if self.downsample is None else self.downsample(x))


class PreResNet(nn.Module):
    """Pre-activation ResNet for 32x32 inputs (the CIFAR variant of network slimming and the
    early-bird work): a 3x3 stem conv, three stages of blocks at 16 / 32 / 64 planes (strides
    1, 2, 2), then ``BN-ReLU``, global average pooling and a Linear classifier.

    depth: ``6n + 2`` with basic blocks (20, 56, 110) or ``9n + 2`` with bottlenecks (101, 164;
    ``bottleneck=None`` picks bottlenecks for exactly these two depths).
    mid: optional internal widths, one entry per block in order (an int for basic blocks, a pair
    for bottlenecks): a physically pruned PreResNet is this model with smaller ``mid``. The
    residual stream keeps its full width.
    width: channel multiplier of the stem and of the three stages (``round(16 * width)`` etc.,
    at least 1 channel each); 1 is the published network.
    """

    def __init__(
        self,
        depth: int = 20,
        num_classes: int = 10,
        in_channels: int = 3,
        mid=None,
        bottleneck: bool | None = None,
        width: float = 1.0,
    ):
        super().__init__()
        depth = check_int("depth", depth, 1)
        width = check_real("width", width, 0.0, low_open=True)
        num_classes = check_int("num_classes", num_classes, 1)
        in_channels = check_int("in_channels", in_channels, 1)
        if bottleneck is not None:
            bottleneck = check_bool("bottleneck", bottleneck)
        if bottleneck is None:
            bottleneck = depth in (101, 164)
        step = 9 if bottleneck else 6
        if depth < step + 2 or (depth - 2) % step:
            kind = "bottleneck blocks need 9n + 2" if bottleneck else "basic blocks need 6n + 2"
            raise ValueError(
                f"depth {depth} does not fit: {kind} (e.g. 20, 56, 110 basic; 101, 164 bottleneck)"
            )
        block, n = (PreActBottleneck if bottleneck else PreActBlock), (depth - 2) // step
        n_blocks = 3 * n
        if mid is not None and (not hasattr(mid, "__len__") or len(mid) != n_blocks):
            raise ValueError(f"mid must list {n_blocks} blocks' internal widths, got {mid!r}")
        if mid is not None:
            mid = [_check_mid(i, m, bottleneck) for i, m in enumerate(mid)]
        self.depth, self.width = depth, width
        stem, *stages = (max(1, int(round(p * width))) for p in (16, 16, 32, 64))
        self.conv1 = nn.Conv2d(in_channels, stem, 3, padding=1, bias=False)
        blocks, c, i = [], stem, 0
        for planes, stride in zip(stages, (1, 2, 2)):
            for j in range(n):
                blocks.append(
                    block(c, planes, stride if j == 0 else 1, None if mid is None else mid[i])
                )
                c, i = planes * block.expansion, i + 1
        self.blocks = nn.Sequential(*blocks)
        self.bn, self.relu = nn.BatchNorm2d(c), nn.ReLU()
        self.pool, self.flatten = nn.AdaptiveAvgPool2d(1), nn.Flatten()
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.blocks(self.conv1(x))
        return self.fc(self.flatten(self.pool(self.relu(self.bn(out)))))

    def pruning_edges(self) -> dict[str, tuple[str, str]]:
        """The pruning-edge protocol of :mod:`spline_utils.spline_view.structure`: for every
        convolution inside a block whose output channels pruning may remove (``conv1``, and
        ``conv2`` of a bottleneck), the BatchNorm over its outputs and the convolution that reads
        them, ``{conv: (bn, next conv)}``. The convolutions that write to the residual stream
        (the stem, each block's last conv, the shortcuts) and the classifier have no edge: the
        stream keeps its full width, as in network slimming.

        Example:
            >>> su.preresnet(20).pruning_edges()["blocks.0.conv1"]
            ('blocks.0.bn2', 'blocks.0.conv2')
        """
        edges = {}
        for index, block in enumerate(self.blocks):
            prefix = f"blocks.{index}."
            edges[prefix + "conv1"] = (prefix + "bn2", prefix + "conv2")
            if isinstance(block, PreActBottleneck):
                edges[prefix + "conv2"] = (prefix + "bn3", prefix + "conv3")
        return edges


def _check_mid(i: int, m, bottleneck: bool):
    """One block's internal width: an int >= 1 (basic block) or a pair of them (bottleneck)."""
    if bottleneck:
        if not hasattr(m, "__len__") or len(m) != 2:
            raise ValueError(f"mid[{i}] must be a pair of widths (a bottleneck block), got {m!r}")
        return tuple(check_int(f"mid[{i}][{j}]", w, 1) for j, w in enumerate(m))
    return check_int(f"mid[{i}]", m, 1)


def preresnet(
    depth: int = 20,
    num_classes: int = 10,
    in_channels: int = 3,
    mid=None,
    bottleneck: bool | None = None,
    width: float = 1.0,
) -> PreResNet:
    """A CIFAR PreResNet (see :class:`PreResNet`); e.g. ``preresnet(56)``, ``preresnet(164)``,
    ``preresnet(20, width=0.5)`` (8 / 8 / 16 / 32 channels)."""
    return PreResNet(depth, num_classes, in_channels, mid, bottleneck, width)
