"""Control points of an object model and its diameter."""

import itertools

import numpy as np
import pytest
import torch

from hfl_ros.constants import BOX_EDGES, CONTROL_POINT_CENTRE, NUM_CONTROL_POINTS
from hfl_ros.geometry.control_points import control_points_from_points, object_diameter


def _box_cloud(low, high, count: int = 500, seed: int = 0) -> np.ndarray:
    """Random points inside a box plus its 8 corners (so the box is exact)."""
    rng = np.random.default_rng(seed)
    corners = np.array(list(itertools.product(*zip(low, high))), dtype=np.float64)
    return np.concatenate((rng.uniform(low, high, size=(count, 3)), corners))


def test_control_points_follow_the_published_layout() -> None:
    low, high = np.array([-0.03, -0.05, -0.1]), np.array([0.04, 0.06, 0.1])
    points = control_points_from_points(_box_cloud(low, high))
    assert points.shape == (NUM_CONTROL_POINTS, 3)
    # Corners in the published order: (min,min,min), (max,min,min), (min,max,min), (max,max,min), then z max.
    expected_corners = [[low[0] if i == 0 else high[0], low[1] if j == 0 else high[1], low[2] if k == 0 else high[2]]
                        for k in (0, 1) for j in (0, 1) for i in (0, 1)]
    np.testing.assert_allclose(points[:8], expected_corners)
    np.testing.assert_allclose(points[CONTROL_POINT_CENTRE], (low + high) / 2)
    # Bottom x-min edge midpoint, top y-min edge midpoint, vertical (x-max, y-min) edge midpoint.
    np.testing.assert_allclose(points[8], [low[0], (low[1] + high[1]) / 2, low[2]])
    np.testing.assert_allclose(points[15], [(low[0] + high[0]) / 2, low[1], high[2]])
    np.testing.assert_allclose(points[19], [high[0], low[1], (low[2] + high[2]) / 2])
    # Every edge midpoint is the midpoint of one of the 12 box edges, each edge exactly once.
    midpoints = {tuple(np.round((points[a] + points[b]) / 2, 12)) for a, b in BOX_EDGES}
    assert {tuple(np.round(p, 12)) for p in points[8:20]} == midpoints


def test_control_points_accept_torch_and_reject_bad_shapes() -> None:
    cloud = _box_cloud(np.zeros(3), np.ones(3))
    np.testing.assert_allclose(control_points_from_points(torch.tensor(cloud)), control_points_from_points(cloud))
    with pytest.raises(ValueError, match="shape"):
        control_points_from_points(np.zeros((10, 2)))
    with pytest.raises(ValueError, match="shape"):
        control_points_from_points(np.zeros((0, 3)))


def test_diameter_box_diagonal_and_max_distance() -> None:
    cloud = _box_cloud(np.array([0.0, 0.0, 0.0]), np.array([0.03, 0.04, 0.12]))
    assert object_diameter(cloud) == pytest.approx(0.13)  # sqrt(3^2 + 4^2 + 12^2) cm
    assert object_diameter(cloud, "max_distance") == pytest.approx(0.13)  # opposite corners
    # A sphere: largest distance = 2 r, box diagonal = 2 r sqrt(3).
    rng = np.random.default_rng(1)
    sphere = rng.normal(size=(4000, 3))
    sphere = 0.05 * sphere / np.linalg.norm(sphere, axis=1, keepdims=True)
    assert object_diameter(sphere, "max_distance") == pytest.approx(0.1, rel=1e-3)
    assert object_diameter(sphere) == pytest.approx(0.1 * np.sqrt(3), rel=1e-2)
    # Brute force agrees on a small random cloud.
    small = rng.uniform(-1, 1, size=(300, 3))
    brute = np.sqrt(((small[:, None] - small[None]) ** 2).sum(-1)).max()
    assert object_diameter(small, "max_distance") == pytest.approx(brute)


def test_diameter_of_flat_and_tiny_sets() -> None:
    flat = np.random.default_rng(2).uniform(-1, 1, size=(200, 3))
    flat[:, 2] = 0.0
    brute = np.sqrt(((flat[:, None] - flat[None]) ** 2).sum(-1)).max()
    assert object_diameter(flat, "max_distance") == pytest.approx(brute, rel=1e-9)
    assert object_diameter(np.array([[0.0, 0, 0], [0.3, 0.4, 0]]), "max_distance") == pytest.approx(0.5)
    assert object_diameter(np.zeros((1, 3)), "max_distance") == 0.0
    with pytest.raises(ValueError, match="method"):
        object_diameter(flat, "radius")
