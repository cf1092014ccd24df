"""Rotations as a manifold (numpy, float64): exp / log maps and geodesic angle on SO(3), and the unit
quaternion of a rotation (for messages).

For filtering and gating rotations frame by frame without ever averaging matrix or quaternion entries:
the slerp from A towards B by a fraction t is ``A @ exp_map(t * relative_rotation_vector(A, B))``.
Plain numpy rather than the torch conversions of `hfl_ros.geometry.rotations` (which agree with these;
the tests compare them): for one rotation at a time, torch's per-call overhead makes them 3-4 times
slower. ``...`` stands for any number of leading batch dimensions; matrices rotate column vectors.
"""

import numpy as np

from hfl_ros.geometry.checks import as_numpy

#: Below this sine of the angle, log_map's angle / sin(angle) factor is 1 to double precision.
_SMALL_SINE = 1e-9
#: Below this cosine of the angle (about 154 degrees), log_map reads the axis from the symmetric part.
_NEAR_PI_COSINE = -0.9
#: 4 w^2, 4 x^2, 4 y^2, 4 z^2 of a rotation's quaternion are 1 + these signs times (m00, m11, m22).
_SQUARE_SIGNS = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]])
#: 4 q q^T (row-major) from (4 w^2, 4 x^2, 4 y^2, 4 z^2, 4 wx, 4 wy, 4 wz, 4 xy, 4 xz, 4 yz).
_OUTER_ENTRIES = np.array([0, 4, 5, 6, 4, 1, 7, 8, 5, 7, 2, 9, 6, 8, 9, 3])


def _skew(vector: np.ndarray) -> np.ndarray:
    x, y, z = vector[..., 0], vector[..., 1], vector[..., 2]
    zero = np.zeros_like(x)
    return np.stack((zero, -z, y, z, zero, -x, -y, x, zero), axis=-1).reshape(vector.shape + (3,))


def exp_map(rotation_vector: np.ndarray) -> np.ndarray:
    """Rotation vector (..., 3), radians (axis times angle) -> rotation matrix (..., 3, 3) (Rodrigues)."""
    vector = as_numpy(rotation_vector, "rotation_vector", shape="*,3", finite=True)
    angle = np.linalg.norm(vector, axis=-1)[..., None, None]
    small = angle < 1e-6
    safe = np.where(small, 1.0, angle)
    # Taylor series below 1e-6 rad: sin(a)/a = 1 - a^2/6, (1 - cos(a))/a^2 = 1/2 - a^2/24.
    first = np.where(small, 1 - angle**2 / 6, np.sin(safe) / safe)
    second = np.where(small, 0.5 - angle**2 / 24, (1 - np.cos(safe)) / safe**2)
    skew = _skew(vector)
    return np.eye(3) + first * skew + second * (skew @ skew)


def _axial_and_cosine(matrix: np.ndarray) -> tuple:
    """The axial vector of the antisymmetric part, sin(angle) times the axis, (..., 3); cos(angle) (...,)."""
    v = 0.5 * np.stack((matrix[..., 2, 1] - matrix[..., 1, 2], matrix[..., 0, 2] - matrix[..., 2, 0],
                        matrix[..., 1, 0] - matrix[..., 0, 1]), axis=-1)
    return v, np.clip((np.trace(matrix, axis1=-2, axis2=-1) - 1) / 2, -1.0, 1.0)


def log_map(rotation: np.ndarray) -> np.ndarray:
    """Rotation matrix (..., 3, 3) -> rotation vector (..., 3), radians, angle in [0, pi].

    The angle is atan2(|v|, (trace - 1) / 2) with v the axial vector of the antisymmetric part
    (sin(angle) times the axis); near pi, where v vanishes, the axis comes from the symmetric part
    (1 - cos(angle)) a a^T instead, signed to agree with v.
    """
    matrix = as_numpy(rotation, "rotation", shape="*,3,3", finite=True)
    v, cosine = _axial_and_cosine(matrix)
    sine = np.linalg.norm(v, axis=-1)
    angle = np.arctan2(sine, cosine)
    vector = v * np.where(sine > _SMALL_SINE, angle / np.maximum(sine, _SMALL_SINE), 1.0)[..., None]
    near_pi = cosine < _NEAR_PI_COSINE
    if not np.any(near_pi):
        return vector
    outer = (matrix + np.swapaxes(matrix, -1, -2)) / 2 - cosine[..., None, None] * np.eye(3)
    column = np.take_along_axis(
        outer, np.argmax(np.diagonal(outer, axis1=-2, axis2=-1), axis=-1)[..., None, None], axis=-1)[..., 0]
    axis = column / np.linalg.norm(column, axis=-1, keepdims=True).clip(min=1e-300)
    axis = np.where((axis * v).sum(-1, keepdims=True) < 0, -axis, axis)
    return np.where(near_pi[..., None], axis * angle[..., None], vector)


def relative_rotation_vector(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """The shortest rotation from `start` to `end` (both (..., 3, 3)) as a rotation vector (..., 3), radians.

    Expressed in `start`'s own frame: ``end = start @ exp_map(result)``; its norm is the geodesic angle
    between them, in [0, pi].
    """
    start = as_numpy(start, "start", shape="*,3,3", finite=True)
    return log_map(np.swapaxes(start, -1, -2) @ as_numpy(end, "end", shape="*,3,3", finite=True))


def rotation_angle(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Geodesic angle (...,), radians in [0, pi], between rotation matrices `start` and `end` (..., 3, 3)."""
    start = as_numpy(start, "start", shape="*,3,3", finite=True)
    v, cosine = _axial_and_cosine(np.swapaxes(start, -1, -2) @ as_numpy(end, "end", shape="*,3,3", finite=True))
    return np.arctan2(np.linalg.norm(v, axis=-1), cosine)


def matrix_to_quaternion(rotation: np.ndarray) -> np.ndarray:
    """Rotation matrix (..., 3, 3) -> unit quaternion (..., 4) as (w, x, y, z) with w >= 0.

    The matrix entries give 4 q q^T; its row with the largest diagonal entry (4 w^2, 4 x^2, 4 y^2 or
    4 z^2) is the best-conditioned multiple of q, normalised here.
    """
    m = as_numpy(rotation, "rotation", shape="*,3,3", finite=True)
    squares = 1 + np.diagonal(m, axis1=-2, axis2=-1) @ _SQUARE_SIGNS.T
    with_w = m[..., [2, 0, 1], [1, 2, 0]] - m[..., [1, 2, 0], [2, 0, 1]]  # m21 - m12, m02 - m20, m10 - m01
    without_w = m[..., [1, 0, 2], [0, 2, 1]] + m[..., [0, 2, 1], [1, 0, 2]]  # m10 + m01, m02 + m20, m21 + m12
    outer = np.concatenate((squares, with_w, without_w), axis=-1)[..., _OUTER_ENTRIES].reshape(m.shape[:-2] + (4, 4))
    q = np.take_along_axis(outer, np.argmax(squares, axis=-1)[..., None, None], axis=-2)[..., 0, :]
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    return np.where(q[..., :1] < 0, -q, q)
