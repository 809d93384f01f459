import pytest
import torch

import spline_utils as su


def _orthonormal(plane):
    b = plane.basis.reshape(2, -1)
    return torch.allclose(b @ b.T, torch.eye(2, dtype=b.dtype), atol=1e-12)


def test_three_anchors_lie_on_their_plane():
    pts = torch.randn(3, 1, 8, 8)
    plane = su.PlaneSlice.through(pts)
    assert _orthonormal(plane) and plane.input_shape == (1, 8, 8)
    back = plane.to_input(plane.anchors)
    assert torch.allclose(back, pts.double(), atol=1e-12)
    assert plane.distance_to_plane(pts).max() < 1e-12


def test_two_anchors_span_the_paper_canvas():
    p0, p1 = torch.rand(2, 64, dtype=torch.float64)
    plane = su.PlaneSlice.through([p0, p1])
    alpha, beta = torch.rand(100, 1, dtype=torch.float64), torch.rand(100, 1, dtype=torch.float64)
    canvas = alpha * p0 + beta * p1
    assert plane.distance_to_plane(canvas).max() < 1e-12
    assert torch.allclose(plane.to_input(plane.to_slice(canvas)), canvas, atol=1e-12)
    assert plane.distance_to_plane(torch.zeros(64)).item() < 1e-12


def test_one_anchor_plane_is_seeded():
    p = torch.randn(10)
    a, b = su.PlaneSlice.through([p], seed=3), su.PlaneSlice.through([p], seed=3)
    assert torch.equal(a.basis, b.basis) and _orthonormal(a)
    assert torch.allclose(a.to_input(torch.zeros(2)), p.double())


def test_collinear_anchors_refused():
    p = torch.randn(5)
    with pytest.raises(ValueError, match="collinear"):
        su.PlaneSlice.through([p, 2 * p, -p])
    with pytest.raises(ValueError, match="zero input are collinear"):
        su.PlaneSlice.through([p, 3 * p])


def test_bad_anchor_counts_and_shapes():
    with pytest.raises(ValueError, match="1, 2 or 3 anchor"):
        su.PlaneSlice.through(torch.randn(4, 3))
    plane = su.PlaneSlice.through(torch.randn(3, 4))
    with pytest.raises(ValueError, match="last dimension 2"):
        plane.to_input(torch.zeros(5, 3))
    with pytest.raises(ValueError, match="must end in shape"):
        plane.to_slice(torch.zeros(5, 3))
