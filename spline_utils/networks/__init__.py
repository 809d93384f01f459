"""The book's networks: architectures, and the small trained networks shipped with the package.

* :mod:`.models`     -- MLPs, the digits ConvNet, VGG and PreResNet (all max-affine spline networks);
* :mod:`.pretrained` -- the theory chapters' trained networks: architectures, shipped weights and
  their records (the recipes that trained them: :mod:`spline_utils.studies.shipped_networks`).
"""

from . import models, pretrained
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
from .pretrained import NETWORKS, describe, shipped_network

__all__ = [
    "models",
    "pretrained",
    "conv_bn_relu",
    "describe",
    "digits_convnet",
    "he_init_",
    "make_mlp",
    "NETWORKS",
    "PreResNet",
    "preresnet",
    "ResidualBlock",
    "shipped_network",
    "vgg",
    "VGG16_CFG",
]
