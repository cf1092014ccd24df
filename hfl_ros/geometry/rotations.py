"""Rotation representations: 6D, matrix, axis-angle and quaternion (w, x, y, z).

Pure, batched torch functions; ``...`` stands for any number of leading batch dimensions.
Matrices rotate column vectors (``x' = R @ x``).
"""

import torch
import torch.nn.functional as F

from hfl_ros.geometry.checks import check_shape

_EPS = 1e-8


def rot6d_to_matrix(rot6d: torch.Tensor) -> torch.Tensor:
    """6D rotation (Zhou et al. 2019) to matrix.

    rot6d: (..., 6), two 3-vectors a1 = rot6d[..., :3], a2 = rot6d[..., 3:].
    Returns (..., 3, 3) whose COLUMNS are the Gram-Schmidt orthonormalised a1, a2 and their cross
    product (HFL-Net's convention).
    """
    check_shape(rot6d, "*,6", "rot6d")
    a1, a2 = rot6d[..., :3], rot6d[..., 3:]
    b1 = F.normalize(a1, dim=-1)
    b2 = F.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.cross(b1, b2, dim=-1)
    return torch.stack((b1, b2, b3), dim=-1)


def matrix_to_rot6d(matrix: torch.Tensor) -> torch.Tensor:
    """Matrix (..., 3, 3) to 6D (..., 6): its first two columns, concatenated."""
    check_shape(matrix, "*,3,3", "matrix")
    return torch.cat((matrix[..., :, 0], matrix[..., :, 1]), dim=-1)


def axis_angle_to_matrix(axis_angle: torch.Tensor) -> torch.Tensor:
    """Axis-angle (..., 3), radians, to matrix (..., 3, 3) by Rodrigues' formula."""
    check_shape(axis_angle, "*,3", "axis_angle")
    return quaternion_to_matrix(axis_angle_to_quaternion(axis_angle))


def axis_angle_to_quaternion(axis_angle: torch.Tensor) -> torch.Tensor:
    """Axis-angle (..., 3), radians, to unit quaternion (..., 4) as (w, x, y, z)."""
    check_shape(axis_angle, "*,3", "axis_angle")
    angle = axis_angle.norm(dim=-1, keepdim=True)
    half = angle / 2
    small = angle < 1e-6
    # sin(a/2)/a ~ 1/2 - a^2/48 near zero keeps gradients finite.
    sin_half_over_angle = torch.where(small, 0.5 - angle**2 / 48, torch.sin(half) / angle.clamp_min(1e-6))
    return torch.cat((torch.cos(half), axis_angle * sin_half_over_angle), dim=-1)


def quaternion_to_axis_angle(quaternion: torch.Tensor) -> torch.Tensor:
    """Quaternion (..., 4) as (w, x, y, z), any norm, to axis-angle (..., 3) with angle in [0, pi]."""
    check_shape(quaternion, "*,4", "quaternion")
    q = F.normalize(quaternion, dim=-1)
    q = torch.where(q[..., :1] < 0, -q, q)
    sin_half = q[..., 1:].norm(dim=-1, keepdim=True)
    angle = 2 * torch.atan2(sin_half, q[..., :1])
    small = sin_half < 1e-6
    scale = torch.where(small, 2.0 + angle**2 / 12, angle / sin_half.clamp_min(1e-6))
    return q[..., 1:] * scale


def quaternion_to_matrix(quaternion: torch.Tensor) -> torch.Tensor:
    """Quaternion (..., 4) as (w, x, y, z), any norm, to matrix (..., 3, 3)."""
    check_shape(quaternion, "*,4", "quaternion")
    w, x, y, z = F.normalize(quaternion, dim=-1).unbind(-1)
    rows = (
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    )
    return torch.stack(rows, dim=-1).reshape(quaternion.shape[:-1] + (3, 3))


def matrix_to_quaternion(matrix: torch.Tensor) -> torch.Tensor:
    """Rotation matrix (..., 3, 3) to unit quaternion (..., 4) as (w, x, y, z) with w >= 0.

    Uses the numerically best-conditioned of the four standard candidates per matrix.
    """
    check_shape(matrix, "*,3,3", "matrix")
    m = matrix
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    # 4 * component^2 for w, x, y, z.
    squares = torch.stack(
        (1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22), dim=-1
    )
    roots = torch.sqrt(squares.clamp_min(_EPS))
    candidates = torch.stack(
        (
            torch.stack((squares[..., 0], m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]), -1),
            torch.stack((m[..., 2, 1] - m[..., 1, 2], squares[..., 1], m[..., 1, 0] + m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0]), -1),
            torch.stack((m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] + m[..., 0, 1], squares[..., 2], m[..., 2, 1] + m[..., 1, 2]), -1),
            torch.stack((m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0], m[..., 2, 1] + m[..., 1, 2], squares[..., 3]), -1),
        ),
        dim=-2,
    ) / (2 * roots[..., None])
    best = squares.argmax(dim=-1)
    q = torch.gather(candidates, -2, best[..., None, None].expand(best.shape + (1, 4))).squeeze(-2)
    q = F.normalize(q, dim=-1)
    return torch.where(q[..., :1] < 0, -q, q)


def matrix_to_axis_angle(matrix: torch.Tensor) -> torch.Tensor:
    """Rotation matrix (..., 3, 3) to axis-angle (..., 3), radians, angle in [0, pi]."""
    return quaternion_to_axis_angle(matrix_to_quaternion(matrix))
