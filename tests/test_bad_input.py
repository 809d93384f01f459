"""Every bad input gets an error that names the problem."""

import pytest
import torch
from torch import nn

import spline_utils as su


def test_wrong_input_shape_for_the_model():
    with pytest.raises(ValueError, match=r"could not be evaluated on an input of shape \(4, 3\)"):
        su.activation_codes(su.make_mlp([2, 3, 1]), torch.randn(4, 3))


def test_empty_batch():
    with pytest.raises(ValueError, match="empty batch"):
        su.activation_codes(su.make_mlp([2, 3, 1]), torch.zeros(0, 2))
    with pytest.raises(ValueError, match="non-empty batch"):
        su.packed_codes(su.make_mlp([2, 3, 1]), torch.zeros(0, 2))


def test_unbatched_input():
    with pytest.raises(ValueError, match=r"batch of shape \(N, ...\)"):
        su.region_affine_map(su.make_mlp([2, 3, 1]), torch.zeros(2))


def test_not_a_tensor():
    with pytest.raises(TypeError, match="torch.Tensor"):
        su.activation_codes(su.make_mlp([2, 3, 1]), [[0.0, 1.0]])


def test_unsupported_activation_in_affine_map():
    with pytest.raises(ValueError, match="GELU"):
        su.region_affine_map(nn.Sequential(nn.Linear(2, 2), nn.GELU()), torch.zeros(1, 2))


def test_mismatched_code_sets():
    a = su.packed_codes(su.make_mlp([2, 3, 1]), torch.randn(5, 2))
    b = su.packed_codes(su.make_mlp([2, 3, 3, 1]), torch.randn(5, 2))
    with pytest.raises(ValueError, match="do not match"):
        su.code_distance(a, b)


def test_unpack_bits_checks_sizes():
    with pytest.raises(ValueError, match="does not fit"):
        su.unpack_bits(torch.zeros(2, 1, dtype=torch.uint8), 9)
    with pytest.raises(ValueError, match="uint8"):
        su.unpack_bits(torch.zeros(2, 1), 3)


def test_bad_model_builders_and_training_arguments():
    with pytest.raises(ValueError, match="widths"):
        su.make_mlp([2])
    with pytest.raises(ValueError, match="activation"):
        su.make_mlp([2, 3, 1], activation="tanh")
    with pytest.raises(ValueError, match="same non-zero number"):
        su.train_classifier(su.make_mlp([2, 3, 2]), torch.zeros(4, 2), torch.zeros(3, dtype=torch.long))


def test_bad_resolution_and_upto():
    with pytest.raises(ValueError, match="resolution"):
        su.grid_partition(su.make_mlp([2, 3, 1]), (0, 1, 0, 1), 1)
    part = su.grid_partition(su.make_mlp([2, 3, 1]), (0, 1, 0, 1), 5)
    with pytest.raises(ValueError, match="upto"):
        part.region_ids(5)


def test_digits_split_argument():
    with pytest.raises(ValueError, match="test_size"):
        su.digits_tensors(test_size=1.5)


def test_single_output_models_train_as_binary_classifiers():
    x, y = su.x_shaped_data(400, seed=1)
    model = su.make_mlp([2, 16, 16, 1])
    history = su.train_classifier(model, x, y, epochs=60, lr=0.02, progress=False)
    assert history[-1] < history[0]
    assert su.accuracy(model, x, y) > 0.8
