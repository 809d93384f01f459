import numpy as np
import pytest
import torch
from torch import nn

import spline_utils as su
from spline_utils.spline_view.bit_packing import _pack_bits_torch


def test_pack_bits_matches_numpy_and_round_trips():
    g = torch.Generator().manual_seed(1)
    for width in (1, 7, 8, 9, 64, 133):
        bits = torch.rand(5, width, generator=g) > 0.5
        packed = su.pack_bits(bits)
        assert packed.dtype == torch.uint8 and packed.shape == (5, (width + 7) // 8)
        assert np.array_equal(packed.numpy(), np.packbits(bits.numpy(), axis=1))
        assert torch.equal(su.unpack_bits(packed, width), bits)
        assert torch.equal(_pack_bits_torch(bits), packed)  # the accelerator path


def test_packed_codes_take_an_eighth_of_the_bool_form(convnet):
    x = torch.randn(64, 1, 8, 8)
    codes = su.activation_codes(convnet, x)
    packed = codes.packed()
    bool_bytes = codes.bool_nbytes()
    assert (
        packed.nbytes * 8 <= bool_bytes + 7 * 8 * len(codes) * x.shape[0]
    )  # padding: < 1 byte per layer
    for layer in range(len(codes)):
        per_input = packed.data[layer].shape[1]
        assert per_input == -(-codes[layer].n_bits // 8)
        assert np.array_equal(packed.unpack(layer), codes[layer].bits().numpy())


def test_relu_codes_are_signs_of_preactivations():
    model = su.make_mlp([3, 5, 4, 2]).double()
    x = torch.randn(100, 3, dtype=torch.float64)
    codes = su.activation_codes(model, x, keep_preactivations=True)
    assert codes.names == ["1", "3"]
    h1 = model[0](x)
    assert torch.equal(codes[0].values, h1 > 0)
    assert torch.allclose(codes[0].preactivation, h1)
    h2 = model[2](model[1](h1))
    assert torch.equal(codes[1].values, h2 > 0)
    assert torch.allclose(codes.outputs, model(x))


@pytest.mark.parametrize(
    "kernel, stride, padding, dilation",
    [(3, 2, 1, 1), (2, 2, 0, 1), (2, 1, 1, 2), ((2, 3), (1, 2), (1, 0), 1)],
)
def test_maxpool_code_is_the_argmax_position_in_each_window(kernel, stride, padding, dilation):
    pool = nn.MaxPool2d(kernel, stride=stride, padding=padding, dilation=dilation)
    model = nn.Sequential(nn.Conv2d(1, 2, 1), pool)
    x = torch.randn(4, 1, 9, 9)
    codes = su.activation_codes(model, x)
    (layer,) = codes.layers
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    assert layer.kind == "maxpool" and layer.window == kh * kw
    assert layer.bits_per_unit == max(1, (kh * kw - 1).bit_length())
    z = torch.nn.functional.pad(model[0](x).detach(), (pw, pw, ph, ph), value=-float("inf"))
    # every window as a (kh*kw)-vector, via dilated unfolding
    windows = torch.nn.functional.unfold(z, (kh, kw), dilation=dilation, stride=(sh, sw))
    windows = windows.reshape(4, 2, kh * kw, *codes.outputs.shape[-2:])
    picked = windows.gather(2, layer.values.long().unsqueeze(2)).squeeze(2)
    assert torch.equal(picked, codes.outputs)
    assert int(layer.values.max()) < kh * kw


def test_repeated_module_calls_are_separate_layers():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.relu = nn.Linear(2, 3), nn.Linear(3, 3), nn.ReLU()

        def forward(self, x):
            return self.relu(self.b(self.relu(self.a(x))))

    codes = su.activation_codes(Twice(), torch.randn(6, 2))
    assert codes.names == ["relu", "relu#2"]


def test_codes_constant_on_segments_between_points_of_one_region():
    """Regions are convex: points on the segment between two inputs of one region share its code."""
    model = su.make_mlp([2, 8, 8, 1]).double()
    x = torch.rand(4000, 2, dtype=torch.float64) * 2 - 1
    ids = su.activation_codes(model, x).region_ids()
    checked = 0
    for r in np.unique(ids)[:40]:
        members = np.nonzero(ids == r)[0]
        if len(members) < 2:
            continue
        a, b = x[members[0]], x[members[-1]]
        t = torch.linspace(0, 1, 25, dtype=torch.float64)[:, None]
        seg_ids = su.activation_codes(model, torch.cat([a[None], (1 - t) * a + t * b])).region_ids()
        assert (seg_ids == seg_ids[0]).all()
        checked += 1
    assert checked >= 10


def test_same_region_id_means_same_affine_map(resnet):
    model = resnet.double()
    base = torch.randn(1, 1, 8, 8, dtype=torch.float64)
    x = base + 1e-7 * torch.randn(50, 1, 8, 8, dtype=torch.float64)  # tiny ball: mostly one region
    ids = su.activation_codes(model, x).region_ids()
    a, _ = su.region_affine_map(model, x)
    for r in np.unique(ids):
        members = torch.as_tensor(np.nonzero(ids == r)[0])
        assert torch.allclose(a[members], a[members[0]].expand_as(a[members]), atol=1e-10)


def test_code_distance_is_the_fraction_of_differing_bits():
    model = su.make_mlp([2, 16, 16, 1])
    x = torch.randn(200, 2)
    before = su.packed_codes(model, x, batch_size=64)
    with torch.no_grad():
        model[0].weight[:4] *= -1  # flip four of the 16 first-layer units
    after = su.packed_codes(model, x)
    dist = su.code_distance(before, after)
    flipped = (before.unpack(0) != after.unpack(0)).mean()
    assert dist[0] == pytest.approx(flipped)
    assert 0 < dist[0] <= 4 / 16 + 1e-12
    assert su.code_distance(before, before).tolist() == [0.0, 0.0]


def test_packed_codes_in_batches_equal_one_batch(convnet):
    x = torch.randn(70, 1, 8, 8)
    whole = su.activation_codes(convnet, x).packed()
    batched = su.packed_codes(convnet, x, batch_size=16)
    assert batched.names == whole.names
    for a, b in zip(batched.data, whole.data):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("arch", ["digits-convnet", "vgg16/8", "preresnet20/2"])
def test_batchnorm_output_signs_are_the_relu_codes(arch):
    """The authors' code takes the sign of every BatchNorm output; the book codes the ReLU
    inputs. In the Chapter 4 networks (conv-BN-ReLU in the digits ConvNet and VGG-16,
    BN-ReLU-conv in PreResNet-20)
    every BatchNorm feeds one ReLU directly and every ReLU reads one, so the two are equal."""
    torch.manual_seed(0)
    x = torch.randn(16, 1, 32, 32)
    if arch == "digits-convnet":
        model, x = su.digits_convnet(), torch.randn(16, 1, 8, 8)
    elif arch == "vgg16/8":
        cfg = [c if c == "M" else max(4, c // 8) for c in su.VGG16_CFG]
        model = su.vgg(cfg, num_classes=10, in_channels=1)
    else:
        model = su.preresnet(20, num_classes=10, in_channels=1, width=0.5)
    for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):  # untrained stats
        bn.running_mean.normal_(0, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.data.normal_(0, 1)
        bn.bias.data.normal_(0, 0.5)
    codes = su.activation_codes(model, x)  # runs the model more than once (its checks)
    outputs = []
    hooks = [
        m.register_forward_hook(lambda _m, _i, out: outputs.append(out.detach() > 0))
        for m in model.modules()
        if isinstance(m, nn.BatchNorm2d)
    ]
    try:
        with torch.no_grad():
            model.eval()(x)  # one pass, as the authors' code reads it
    finally:
        for hook in hooks:
            hook.remove()
    relu = [layer.values for layer in codes.layers if layer.kind == "relu"]
    assert len(outputs) == len(relu) >= 2
    for bn_sign, code in zip(outputs, relu):
        assert torch.equal(bn_sign, code)
        assert 0 < code.float().mean() < 1  # both signs occur: the comparison is not vacuous
