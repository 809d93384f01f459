"""The book's networks: architectures, and the small trained networks shipped with the package.

* :mod:`.models`     -- MLPs, the digits ConvNet, VGG and PreResNet (all max-affine spline networks);
* :mod:`.pretrained` -- the theory chapters' trained networks, loaded from shipped weights.
"""

from .models import (
    VGG16_CFG,
    PreResNet,
    ResidualBlock,
    conv_bn_relu,
    digits_convnet,
    he_init_,
    make_mlp,
    preresnet,
    vgg,
)
from .pretrained import NETWORKS, describe, load_network, train_network

__all__ = [
    "conv_bn_relu",
    "describe",
    "digits_convnet",
    "he_init_",
    "load_network",
    "make_mlp",
    "NETWORKS",
    "PreResNet",
    "preresnet",
    "ResidualBlock",
    "train_network",
    "vgg",
    "VGG16_CFG",
]
