"""Mirroring a view: pixels, intrinsics, 3D points, rotations and poses stay consistent, and PnP in the
mirrored view with the mirrored model gives back the real object's proper pose."""

import numpy as np
import pytest

from hfl_ros.constants import CONTROL_POINT_LAYOUT
from hfl_ros.geometry.camera import points_box, project_points, transform_points
from hfl_ros.geometry.mirror import (
    MIRROR, mirror_axis_angles, mirror_box, mirror_faces, mirror_image, mirror_intrinsics, mirror_pixels,
    mirror_points, mirror_pose, mirror_rotation,
)
from hfl_ros.geometry.object_pose import solve_object_pose
from hfl_ros.geometry.so3 import exp_map

WIDTH = 640
K = np.array([[600.0, 0.0, 301.5], [0.0, 610.0, 244.0], [0.0, 0.0, 1.0]])


def _random_rotation(rng):
    return exp_map(rng.normal(size=3))


def test_mirrored_points_project_onto_the_flipped_pixels():
    rng = np.random.default_rng(0)
    points = rng.uniform((-0.2, -0.2, 0.3), (0.2, 0.2, 0.9), size=(50, 3))
    flipped = project_points(mirror_points(points), mirror_intrinsics(K, WIDTH))
    np.testing.assert_allclose(flipped, mirror_pixels(project_points(points, K), WIDTH), atol=1e-9)


def test_flipped_image_pixel_u_lands_at_width_minus_one_minus_u():
    image = np.zeros((4, WIDTH, 3), np.uint8)
    image[2, 10] = 255
    assert mirror_image(image)[2, int(mirror_pixels(np.array([10.0, 2.0]), WIDTH)[0])].tolist() == [255, 255, 255]


def test_mirroring_twice_is_the_identity():
    rng = np.random.default_rng(1)
    pixels, box = rng.uniform(0, WIDTH, size=(7, 2)), np.array([12.0, 30.0, 200.0, 310.0])
    rotation, axis_angles = _random_rotation(rng), rng.normal(size=48)
    pose = np.eye(4)
    pose[:3, :3], pose[:3, 3] = rotation, rng.normal(size=3)
    np.testing.assert_allclose(mirror_pixels(mirror_pixels(pixels, WIDTH), WIDTH), pixels)
    np.testing.assert_allclose(mirror_box(mirror_box(box, WIDTH), WIDTH), box)
    np.testing.assert_allclose(mirror_rotation(mirror_rotation(rotation)), rotation)
    np.testing.assert_allclose(mirror_pose(mirror_pose(pose)), pose)
    np.testing.assert_allclose(mirror_axis_angles(mirror_axis_angles(axis_angles)), axis_angles)
    np.testing.assert_allclose(mirror_intrinsics(mirror_intrinsics(K, WIDTH), WIDTH), K)


def test_mirrored_box_is_the_box_of_the_mirrored_points():
    points = np.random.default_rng(2).uniform(0, WIDTH, size=(21, 2))
    np.testing.assert_allclose(mirror_box(points_box(points), WIDTH), points_box(mirror_pixels(points, WIDTH)))


def test_mirrored_rotation_is_proper_and_matches_the_mirrored_axis_angle():
    rng = np.random.default_rng(3)
    axis_angle = rng.normal(size=3)
    mirrored = mirror_rotation(exp_map(axis_angle))
    assert np.linalg.det(mirrored) == pytest.approx(1.0)
    np.testing.assert_allclose(mirrored, exp_map(mirror_axis_angles(axis_angle)), atol=1e-12)
    np.testing.assert_allclose(mirrored, MIRROR @ exp_map(axis_angle) @ MIRROR)


def test_mirrored_mesh_keeps_its_outward_orientation():
    vertices = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    faces = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])

    def signed_volume(v, f):
        a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
        return np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6

    assert signed_volume(vertices, faces) > 0
    assert signed_volume(mirror_points(vertices), mirror_faces(faces)) == pytest.approx(signed_volume(vertices, faces))


def test_pnp_in_the_mirrored_view_with_the_mirrored_model_recovers_the_real_pose():
    """An asymmetric box seen in a flipped image: solving with the mirrored control points and mirroring back
    gives the real pose (det +1); solving with the real control points does not."""
    rng = np.random.default_rng(4)
    control_points = np.array(CONTROL_POINT_LAYOUT) * (0.06, 0.1, 0.18) - (0.03, 0.05, 0.09)
    rotation, translation = _random_rotation(rng), np.array([0.05, -0.02, 0.5])
    pixels = project_points(transform_points(control_points, rotation, translation), K)
    flipped, flipped_K, ids = mirror_pixels(pixels, WIDTH), mirror_intrinsics(K, WIDTH), np.arange(21)

    pose = solve_object_pose(mirror_points(control_points), ids, flipped, flipped_K)
    assert pose is not None
    np.testing.assert_allclose(mirror_rotation(pose.rotation), rotation, atol=1e-6)
    np.testing.assert_allclose(mirror_points(pose.translation), translation, atol=1e-6)
    assert np.linalg.det(mirror_rotation(pose.rotation)) == pytest.approx(1.0)

    naive = solve_object_pose(control_points, ids, flipped, flipped_K)
    assert naive is None or np.abs(mirror_rotation(naive.rotation) - rotation).max() > 0.1
