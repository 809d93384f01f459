"""2-D slices of input space: an affine plane through anchor points.

A slice is ``x(u, v) = origin + u * e1 + v * e2`` with ``e1, e2`` orthonormal (Euclidean inner
product on the flattened input). Restricting a CPA network to a slice gives a CPA map of two
variables, so its partition can be drawn.

* 3 anchors ``p0, p1, p2``: the plane through all three (origin ``p0``);
* 2 anchors ``p0, p1``: the plane through both *and the zero input*, i.e. the span of ``p0`` and
  ``p1`` -- the canvas ``alpha * p0 + beta * p1`` used for images in the paper's Fig. 3 and in
  the authors' early-bird code (origin at the zero input);
* 1 anchor ``p0``: the plane through ``p0`` spanned by two random orthonormal directions
  (seeded).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..checks import check_finite, check_int, check_real, check_tensor


@dataclass
class PlaneSlice:
    """An affine plane in input space, ``x(u, v) = origin + u * basis[0] + v * basis[1]``.

    Usually made by :meth:`through`; the constructor checks the shapes and that the basis is
    orthonormal.

    Attributes:
        origin: the point ``(u, v) = (0, 0)``, shape ``input_shape``.
        basis: shape ``(2, *input_shape)``, orthonormal when flattened.
        anchors: (n_anchors, 2) slice coordinates of the anchor points (for plotting).
    """

    origin: torch.Tensor
    basis: torch.Tensor
    anchors: torch.Tensor

    def __post_init__(self):
        check_tensor("origin", self.origin)
        check_tensor("basis", self.basis)
        check_tensor("anchors", self.anchors)
        if self.origin.dim() < 1 or self.origin.numel() < 2:
            raise ValueError(
                f"origin must be one input of at least 2 numbers, got shape {tuple(self.origin.shape)}"
            )
        if tuple(self.basis.shape) != (2, *self.origin.shape):
            raise ValueError(
                f"basis must have shape (2, *origin.shape) = {(2, *self.origin.shape)}, "
                f"got {tuple(self.basis.shape)}"
            )
        if self.anchors.dim() != 2 or self.anchors.shape[1] != 2:
            raise ValueError(
                f"anchors must be slice coordinates of shape (n, 2), got {tuple(self.anchors.shape)}"
            )
        flat = self.basis.reshape(2, -1).to(torch.float64)
        gram = flat @ flat.T
        if not torch.allclose(gram, torch.eye(2, dtype=torch.float64), atol=1e-5, rtol=0):
            raise ValueError(
                f"basis must be two orthonormal directions (flattened), got Gram matrix {gram.tolist()}"
            )

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.origin.shape)

    @classmethod
    def through(cls, anchors, seed: int = 0, tol: float = 1e-6) -> PlaneSlice:
        """The plane through 1-3 anchor points (see the module docstring).

        Three anchors: the plane through all three, origin at the first. Two: the plane through
        both and the zero input (origin at zero). One: the plane through it spanned by two
        random orthonormal directions drawn with ``seed``.

        Args:
            anchors: a tensor of shape ``(n, *input_shape)`` or a sequence of n tensors of one
                shape, n in {1, 2, 3}, finite, with at least 2 numbers per input.
            seed: seed of the random directions (one anchor only).
            tol: relative tolerance, in (0, 1), on the length of the second Gram-Schmidt
                direction below which the points count as not spanning a plane.

        Returns:
            The :class:`PlaneSlice`, in float64, with ``anchors`` holding the anchors' slice
            coordinates.

        Raises:
            ValueError: the points do not span a plane (collinear points, or two anchors on one
                line through the origin), there are not 1-3 of them, their shapes differ, or
                they are not finite.
            TypeError: ``anchors`` is neither a tensor nor a sequence of tensors.

        Example:
            >>> points = torch.tensor([[0.0, 0, 0], [1, 0, 0], [0, 2, 0]])
            >>> plane = su.PlaneSlice.through(points)
            >>> plane.anchors
            tensor([[0., 0.],
                    [1., 0.],
                    [0., 2.]], dtype=torch.float64)
            >>> plane.to_input(torch.tensor([[1.0, 2.0]]))
            tensor([[1., 2., 0.]], dtype=torch.float64)
            >>> images = torch.rand(2, 1, 8, 8)  # two anchors and the zero input
            >>> su.PlaneSlice.through(images).input_shape
            (1, 8, 8)
        """
        seed = check_int("seed", seed, 0)
        tol = check_real("tol", tol, 0.0, 1.0, low_open=True, high_open=True)
        if not isinstance(anchors, torch.Tensor):
            if isinstance(anchors, (str, bytes)) or not hasattr(anchors, "__len__"):
                raise TypeError(
                    f"anchors must be a tensor (n, *input_shape) or a sequence of tensors, "
                    f"got {type(anchors).__name__}"
                )
            if len(anchors) not in (1, 2, 3):
                raise ValueError(f"a plane needs 1, 2 or 3 anchor points, got {len(anchors)}")
            try:
                tensors = [torch.as_tensor(a) for a in anchors]
            except (TypeError, ValueError, RuntimeError):
                raise TypeError("anchors must be tensors (or arrays of numbers)") from None
            if any(t.shape != tensors[0].shape for t in tensors):
                raise ValueError(
                    f"anchors must all have one shape, got {[tuple(t.shape) for t in tensors]}"
                )
            points = torch.stack(tensors)
        else:
            points = anchors
        check_tensor("anchors", points, finite=False)
        if points.dim() < 2:
            raise ValueError(
                f"anchors must have shape (n, *input_shape), got {tuple(points.shape)}"
            )
        n = points.shape[0]
        if n not in (1, 2, 3):
            raise ValueError(f"a plane needs 1, 2 or 3 anchor points, got {n}")
        check_finite("anchors", points)
        points = points.to(torch.float64)
        flat = points.reshape(n, -1)
        if flat.shape[1] < 2:
            raise ValueError("input space has fewer than 2 dimensions: there is no 2-D slice")
        if n == 3:
            origin, directions = flat[0], flat[1:] - flat[0]
        elif n == 2:
            origin, directions = torch.zeros_like(flat[0]), flat
        else:
            generator = torch.Generator().manual_seed(seed)
            origin = flat[0]
            directions = torch.randn(2, flat.shape[1], generator=generator, dtype=torch.float64)
        scale = directions.norm(dim=1).max().clamp_min(1e-300)
        basis = _orthonormalise(directions, tol * scale, n)
        coords = (flat - origin) @ basis.T
        return cls(origin.reshape(points.shape[1:]), basis.reshape(2, *points.shape[1:]), coords)

    def to_input(self, uv: torch.Tensor) -> torch.Tensor:
        """Slice coordinates (..., 2) -> inputs ``(..., *input_shape)``, float64."""
        uv = torch.as_tensor(uv, dtype=torch.float64)
        if uv.dim() < 1 or uv.shape[-1] != 2:
            raise ValueError(
                f"slice coordinates must have last dimension 2, got shape {tuple(uv.shape)}"
            )
        check_finite("uv", uv)
        flat = self.origin.reshape(-1) + uv @ self.basis.reshape(2, -1)
        return flat.reshape(*uv.shape[:-1], *self.input_shape)

    def to_slice(self, x: torch.Tensor) -> torch.Tensor:
        """Inputs ``(..., *input_shape)`` -> slice coordinates (..., 2) of their orthogonal
        projection onto the plane."""
        x = torch.as_tensor(x, dtype=torch.float64)
        k = len(self.input_shape)
        if x.dim() < k or tuple(x.shape[x.dim() - k :]) != self.input_shape:
            raise ValueError(f"inputs must end in shape {self.input_shape}, got {tuple(x.shape)}")
        check_finite("x", x)
        flat = x.reshape(*x.shape[: x.dim() - k], -1) - self.origin.reshape(-1)
        return flat @ self.basis.reshape(2, -1).T

    def distance_to_plane(self, x: torch.Tensor) -> torch.Tensor:
        """Euclidean distance of inputs ``(..., *input_shape)`` to the plane, shape (...)."""
        back = self.to_input(self.to_slice(x))
        k = len(self.input_shape)
        diff = torch.as_tensor(x, dtype=torch.float64) - back
        return diff.reshape(*diff.shape[: diff.dim() - k], -1).norm(dim=-1)


def _orthonormalise(directions: torch.Tensor, tol: float, n_anchors: int) -> torch.Tensor:
    """Gram-Schmidt on two directions (2, D); raise if they are (nearly) parallel."""
    e1 = directions[0]
    if e1.norm() <= tol:
        raise ValueError(_degenerate_message(n_anchors))
    e1 = e1 / e1.norm()
    e2 = directions[1] - (directions[1] @ e1) * e1
    if e2.norm() <= tol:
        raise ValueError(_degenerate_message(n_anchors))
    e2 = e2 / e2.norm()
    return torch.stack([e1, e2])


def _degenerate_message(n_anchors: int) -> str:
    if n_anchors == 2:
        return "the two anchors and the zero input are collinear: they span no plane"
    return "the anchor points are collinear (or coincide): they span no plane"


def check_slice(plane) -> None:
    """``ValueError`` unless ``plane`` is ``None`` or a valid :class:`PlaneSlice` (its checks are
    re-run: its tensors may have been changed since it was made)."""
    if plane is not None and not isinstance(plane, PlaneSlice):
        raise ValueError(f"slice must be a PlaneSlice, got {type(plane).__name__}")
    if (
        plane is not None
    ):  # re-run the constructor's checks: the tensors may have been changed since
        plane.__post_init__()
