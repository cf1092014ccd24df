"""Round trips between 6D, matrix, axis-angle and quaternion, including angles near 0 and near pi."""

import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from hfl_ros.geometry.rotations import (
    axis_angle_to_matrix,
    axis_angle_to_quaternion,
    matrix_to_axis_angle,
    matrix_to_quaternion,
    matrix_to_rot6d,
    quaternion_to_axis_angle,
    quaternion_to_matrix,
    rot6d_to_matrix,
)


def _axis_angles(generator: torch.Generator) -> torch.Tensor:
    """Random axes with angles spanning (0, pi], plus angles very close to 0 and to pi."""
    axes = torch.nn.functional.normalize(torch.randn(64, 3, generator=generator, dtype=torch.float64), dim=-1)
    angles = torch.cat((
        torch.rand(40, generator=generator, dtype=torch.float64) * math.pi,
        torch.tensor([0.0, 1e-9, 1e-7, 1e-5, 1e-3, 0.1], dtype=torch.float64),
        math.pi - torch.tensor([0.0, 1e-9, 1e-7, 1e-5, 1e-3, 0.1], dtype=torch.float64),
        torch.tensor([math.pi / 2] * 6, dtype=torch.float64),
        torch.tensor([2.0, 2.5, 3.0, 3.1, 3.14, 1.0], dtype=torch.float64),
    ))
    return axes * angles[:, None]


def _scipy_matrix(axis_angle: torch.Tensor) -> np.ndarray:
    return Rotation.from_rotvec(axis_angle.numpy()).as_matrix()


def _same_rotation_vector(a: torch.Tensor, b: torch.Tensor, atol: float) -> None:
    """Axis-angles equal, or both of angle pi with opposite axes (the same rotation)."""
    direct = (a - b).norm(dim=-1)
    flipped = (a + b).norm(dim=-1)
    near_pi = (a.norm(dim=-1) - math.pi).abs() < 1e-6
    ok = (direct < atol) | (near_pi & (flipped < atol))
    assert bool(ok.all()), f"max mismatch {direct[~ok]}"


def test_axis_angle_to_matrix_matches_scipy() -> None:
    aa = _axis_angles(torch.Generator().manual_seed(0))
    np.testing.assert_allclose(axis_angle_to_matrix(aa).numpy(), _scipy_matrix(aa), atol=1e-12)


def test_axis_angle_matrix_round_trip() -> None:
    aa = _axis_angles(torch.Generator().manual_seed(1))
    back = matrix_to_axis_angle(axis_angle_to_matrix(aa))
    _same_rotation_vector(back, aa, atol=1e-6)
    assert bool((back.norm(dim=-1) <= math.pi + 1e-9).all())


def test_axis_angle_quaternion_round_trip() -> None:
    aa = _axis_angles(torch.Generator().manual_seed(2))
    q = axis_angle_to_quaternion(aa)
    np.testing.assert_allclose(q.norm(dim=-1).numpy(), 1.0, atol=1e-12)
    _same_rotation_vector(quaternion_to_axis_angle(q), aa, atol=1e-9)


def test_quaternion_matrix_round_trip_up_to_sign() -> None:
    random = torch.randn(200, 4, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    q = torch.cat((torch.nn.functional.normalize(random, dim=-1), torch.eye(4, dtype=torch.float64)))
    back = matrix_to_quaternion(quaternion_to_matrix(q))
    assert bool((back[:, 0] >= 0).all())
    sign = torch.where(q[:, :1] < 0, -1.0, 1.0).to(q)
    # w == 0 leaves the sign free: compare rotations there.
    np.testing.assert_allclose(quaternion_to_matrix(back).numpy(), quaternion_to_matrix(q).numpy(), atol=1e-12)
    nonzero_w = q[:, 0].abs() > 1e-6
    np.testing.assert_allclose(back[nonzero_w].numpy(), (sign * q)[nonzero_w].numpy(), atol=1e-10)


def test_quaternion_to_matrix_matches_scipy_and_accepts_any_norm() -> None:
    q = torch.randn(50, 4, generator=torch.Generator().manual_seed(4), dtype=torch.float64) * 3
    scipy_xyzw = torch.cat((q[:, 1:], q[:, :1]), dim=-1).numpy()
    np.testing.assert_allclose(quaternion_to_matrix(q).numpy(), Rotation.from_quat(scipy_xyzw).as_matrix(), atol=1e-12)


def test_rot6d_round_trip_and_gram_schmidt() -> None:
    aa = _axis_angles(torch.Generator().manual_seed(5))
    matrix = axis_angle_to_matrix(aa)
    six = matrix_to_rot6d(matrix)
    assert six.shape == (aa.shape[0], 6)
    np.testing.assert_allclose(rot6d_to_matrix(six).numpy(), matrix.numpy(), atol=1e-12)
    # Unnormalised, non-orthogonal inputs become proper rotations whose first column follows a1.
    raw = torch.randn(100, 6, generator=torch.Generator().manual_seed(6), dtype=torch.float64) * 5
    rotation = rot6d_to_matrix(raw)
    identity = torch.eye(3, dtype=torch.float64).expand(100, 3, 3)
    np.testing.assert_allclose((rotation.transpose(-1, -2) @ rotation).numpy(), identity.numpy(), atol=1e-12)
    np.testing.assert_allclose(torch.linalg.det(rotation).numpy(), 1.0, atol=1e-12)
    first_axis = torch.nn.functional.normalize(raw[:, :3], dim=-1)
    np.testing.assert_allclose(rotation[..., :, 0].numpy(), first_axis.numpy(), atol=1e-12)
    # The second column stays in the plane of a1 and a2.
    normal = torch.cross(raw[:, :3], raw[:, 3:], dim=-1)
    np.testing.assert_allclose((rotation[..., :, 1] * normal).sum(-1).numpy(), 0.0, atol=1e-9)


def test_matrix_to_quaternion_near_pi_all_branches() -> None:
    # Rotations by (nearly) pi about each axis exercise the x, y and z branches of the candidate choice.
    for axis in torch.eye(3, dtype=torch.float64):
        for angle in (math.pi, math.pi - 1e-6, math.pi - 1e-3):
            aa = (axis * angle)[None]
            matrix = axis_angle_to_matrix(aa)
            back = quaternion_to_matrix(matrix_to_quaternion(matrix))
            np.testing.assert_allclose(back.numpy(), matrix.numpy(), atol=1e-12)
            _same_rotation_vector(matrix_to_axis_angle(matrix), aa, atol=1e-6)


def test_batch_shapes_are_preserved() -> None:
    aa = torch.randn(2, 5, 16, 3, generator=torch.Generator().manual_seed(7))
    matrix = axis_angle_to_matrix(aa)
    assert matrix.shape == (2, 5, 16, 3, 3)
    assert axis_angle_to_quaternion(aa).shape == (2, 5, 16, 4)
    assert matrix_to_quaternion(matrix).shape == (2, 5, 16, 4)
    assert matrix_to_axis_angle(matrix).shape == (2, 5, 16, 3)
    assert matrix_to_rot6d(matrix).shape == (2, 5, 16, 6)
    assert rot6d_to_matrix(matrix_to_rot6d(matrix)).shape == (2, 5, 16, 3, 3)
    assert axis_angle_to_matrix(torch.zeros(3)).shape == (3, 3)


def test_float32_round_trip_is_accurate() -> None:
    aa = _axis_angles(torch.Generator().manual_seed(8)).float()
    back = matrix_to_axis_angle(axis_angle_to_matrix(aa))
    _same_rotation_vector(back.double(), aa.double(), atol=1e-5)
    np.testing.assert_allclose(axis_angle_to_matrix(back).numpy(), axis_angle_to_matrix(aa).numpy(), atol=1e-5)


def test_gradients_are_finite_at_zero_and_match_the_skew_matrix() -> None:
    aa = torch.zeros(4, 3, dtype=torch.float64, requires_grad=True)
    matrix = axis_angle_to_matrix(aa)
    # d R / d aa at 0 is the cross-product matrix: R[2, 1] grows with aa_x.
    (grad,) = torch.autograd.grad(matrix[:, 2, 1].sum(), aa)
    np.testing.assert_allclose(grad.numpy(), np.tile([1.0, 0.0, 0.0], (4, 1)), atol=1e-12)
    eye = torch.eye(3, dtype=torch.float64).repeat(4, 1, 1).requires_grad_(True)
    (grad_m,) = torch.autograd.grad(matrix_to_axis_angle(eye)[:, 0].sum(), eye)
    assert bool(torch.isfinite(grad_m).all())
    six = matrix_to_rot6d(torch.eye(3, dtype=torch.float64).repeat(4, 1, 1)).requires_grad_(True)
    (grad_6d,) = torch.autograd.grad(rot6d_to_matrix(six).sum(), six)
    assert bool(torch.isfinite(grad_6d).all())


@pytest.mark.parametrize(
    "function, shape",
    [
        (rot6d_to_matrix, (4, 5)),
        (matrix_to_rot6d, (4, 3, 2)),
        (axis_angle_to_matrix, (4, 4)),
        (axis_angle_to_quaternion, (2,)),
        (quaternion_to_axis_angle, (4, 3)),
        (quaternion_to_matrix, (3, 3)),
        (matrix_to_quaternion, (4, 9)),
        (matrix_to_axis_angle, (2, 3, 4)),
    ],
)
def test_bad_shapes_raise(function, shape) -> None:
    with pytest.raises(ValueError, match="must have shape"):
        function(torch.zeros(shape))
