"""SO(3) exp / log maps, geodesic angle and quaternion (numpy), checked against the torch conversions."""

import numpy as np
import pytest
import torch

from hfl_ros.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle, quaternion_to_matrix
from hfl_ros.geometry.so3 import exp_map, log_map, matrix_to_quaternion, relative_rotation_vector, rotation_angle


def _rotation_vectors(count: int, seed: int = 0) -> np.ndarray:
    """Random axes with angles over [0, pi), plus angles within 1e-9 of 0 and of pi."""
    rng = np.random.default_rng(seed)
    axes = rng.normal(size=(count, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    angles = rng.uniform(0, np.pi, count)
    angles[:4] = (0.0, 1e-12, 1e-7, 1e-3)
    angles[4:8] = np.pi - np.array((1e-9, 1e-6, 1e-3, 0.3))
    return axes * angles[:, None]


def test_exp_and_log_maps_agree_with_the_torch_conversions():
    vectors = _rotation_vectors(500)
    matrices = exp_map(vectors)
    np.testing.assert_allclose(matrices, axis_angle_to_matrix(torch.from_numpy(vectors)).numpy(), atol=1e-12)
    np.testing.assert_allclose(log_map(matrices), matrix_to_axis_angle(torch.from_numpy(matrices)).numpy(), atol=1e-7)


def test_log_map_inverts_exp_map_near_zero_and_near_pi():
    vectors = _rotation_vectors(500, seed=1)
    np.testing.assert_allclose(log_map(exp_map(vectors)), vectors, atol=1e-8)
    np.testing.assert_allclose(rotation_angle(np.eye(3), exp_map(vectors)), np.linalg.norm(vectors, axis=1), atol=1e-12)
    matrices = exp_map(vectors)
    np.testing.assert_allclose(matrices @ matrices.swapaxes(-1, -2), np.broadcast_to(np.eye(3), matrices.shape),
                               atol=1e-12)


def test_relative_rotation_vector_takes_the_short_way_across_pi():
    z = np.array([0.0, 0.0, 1.0])
    start, end = exp_map((np.pi - 0.1) * z), exp_map(-(np.pi - 0.1) * z)  # 0.2 rad apart through pi
    step = relative_rotation_vector(start, end)
    np.testing.assert_allclose(step, 0.2 * z, atol=1e-9)
    np.testing.assert_allclose(start @ exp_map(step), end, atol=1e-12)
    assert rotation_angle(start, end) == pytest.approx(0.2, abs=1e-9)


def test_matrix_to_quaternion_round_trips_through_the_torch_inverse_on_every_branch():
    # Angles near pi about each axis make x, y or z the largest component (the other three branches).
    axis_aligned = (np.eye(3)[:, None, :] * np.array([np.pi, np.pi - 1e-6, np.pi - 1e-3])[None, :, None]).reshape(-1, 3)
    matrices = exp_map(np.concatenate((_rotation_vectors(500, seed=2), axis_aligned)))
    q = matrix_to_quaternion(matrices)
    np.testing.assert_allclose(np.linalg.norm(q, axis=-1), 1.0, atol=1e-12)
    assert np.all(q[:, 0] >= 0)
    np.testing.assert_allclose(quaternion_to_matrix(torch.from_numpy(q)).numpy(), matrices, atol=1e-12)
    assert matrix_to_quaternion(matrices[:500].reshape(2, 250, 3, 3)).shape == (2, 250, 4)


def test_bad_shapes_and_non_finite_values_are_named():
    with pytest.raises(ValueError, match="rotation_vector"):
        exp_map(np.zeros(4))
    with pytest.raises(ValueError, match="rotation must be finite"):
        log_map(np.full((3, 3), np.nan))
    with pytest.raises(ValueError, match="rotation"):
        matrix_to_quaternion(np.eye(4))
