"""A grasp in motion: the sway is smooth, periodic and peaks where named; the moved frames turn the pair
rigidly about its centre with the mesh following the pose; the true boxes hold the hand's joints and the
object's pixels."""

import numpy as np
import pytest

from hfl_ros.constants import HAND_BOX_EXPANSION
from hfl_ros.data.synthetic import SyntheticScene, draw_grasp, render_moved, sway, true_boxes
from hfl_ros.geometry.camera import project_points
from hfl_ros.geometry.so3 import exp_map, rotation_angle

ROTATION_PEAKS, SHIFT_PEAKS = (0.35, 0.2), (0.03, 0.015)


@pytest.fixture(scope="module")
def grasp(assets):
    scene = SyntheticScene(image_size=(160, 120), objects=("primitive_box",), noise_std=(0.0, 0.0))
    return draw_grasp(np.random.default_rng(3), scene, assets)


def test_sway_starts_at_rest_is_periodic_smooth_and_peaks_where_named():
    rotations, shifts = sway([0.0, 0.25, 0.1, 1.1, 0.01], ROTATION_PEAKS, SHIFT_PEAKS)
    assert rotations.shape == (5, 3, 3) and shifts.shape == (5, 3)
    np.testing.assert_allclose(rotations[0], np.eye(3), atol=1e-12)
    np.testing.assert_allclose(shifts[0], [0.0, SHIFT_PEAKS[1], 0.0], atol=1e-12)
    # A quarter period: the full turn about y (the x turn, at twice the frequency, is back at zero).
    np.testing.assert_allclose(rotations[1], exp_map(np.array([0.0, ROTATION_PEAKS[0], 0.0])), atol=1e-12)
    np.testing.assert_allclose(shifts[1], [SHIFT_PEAKS[0], 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(rotations[2], rotations[3], atol=1e-12)
    np.testing.assert_allclose(shifts[2], shifts[3], atol=1e-12)
    np.testing.assert_allclose(rotations @ rotations.swapaxes(-1, -2), np.broadcast_to(np.eye(3), (5, 3, 3)),
                               atol=1e-12)
    assert 0.01 < rotation_angle(rotations[0], rotations[4]) < 0.05  # a hundredth of the period moves little


def test_render_moved_without_motion_renders_the_drawn_grasp(assets, grasp):
    start = grasp.start
    frames = render_moved(assets, grasp, np.broadcast_to(np.eye(3), (2, 3, 3)), np.zeros((2, 3)), frame_id="still")
    assert [truth.frame_id for _, truth in frames] == ["still/0000", "still/0001"]
    np.testing.assert_array_equal(frames[0][0], frames[1][0])
    image, truth = frames[0]
    assert image.shape == (120, 160, 3) and image.dtype == np.uint8
    np.testing.assert_allclose(truth.joints_3d, start.joints_3d, atol=1e-12)
    np.testing.assert_allclose(truth.mano_pose, start.mano_pose, atol=1e-9)
    np.testing.assert_allclose(truth.object_rotation, start.object_rotation, atol=1e-12)
    np.testing.assert_allclose(truth.object_translation, start.object_translation, atol=1e-12)
    np.testing.assert_array_equal(truth.K, start.K)


def test_render_moved_turns_the_pair_rigidly_about_its_centre_and_the_mesh_follows_the_pose(assets, grasp):
    start, centre = grasp.start, grasp.centre
    rotation, shift = exp_map(np.array([0.2, -0.4, 0.3])), np.array([0.01, -0.02, 0.005])
    (still, _), (image, truth) = render_moved(assets, grasp, np.stack((np.eye(3), rotation)),
                                              np.stack((np.zeros(3), shift)))
    moved = lambda points: (points - centre) @ rotation.T + centre + shift  # noqa: E731
    np.testing.assert_allclose(truth.joints_3d, moved(start.joints_3d), atol=1e-9)
    np.testing.assert_allclose(truth.object_translation, moved(start.object_translation), atol=1e-12)
    np.testing.assert_allclose(truth.object_rotation, rotation @ start.object_rotation, atol=1e-12)
    # The rendered mesh is the MANO hand of the annotated (moved) pose.
    vertices, _ = assets.hand(truth.mano_pose, truth.mano_shape)
    np.testing.assert_allclose(truth.vertices_3d, vertices + truth.root_3d, atol=1e-5)
    assert np.abs(image.astype(int) - still.astype(int)).mean() > 0.5


def test_true_boxes_hold_the_joints_and_the_object_pixels(assets, grasp):
    (_, truth), = render_moved(assets, grasp, exp_map(np.array([[0.1, 0.3, 0.0]])), np.zeros((1, 3)))
    hand_box, object_box = true_boxes(truth)
    joints = project_points(truth.joints_3d, truth.K)
    extent = joints.max(axis=0) - joints.min(axis=0)
    np.testing.assert_allclose(hand_box[2:] - hand_box[:2], HAND_BOX_EXPANSION * extent, rtol=1e-9)
    np.testing.assert_allclose((hand_box[:2] + hand_box[2:]) / 2, (joints.max(axis=0) + joints.min(axis=0)) / 2)
    ys, xs = np.nonzero(truth.object_mask)
    assert len(xs) > 0
    assert xs.min() >= object_box[0] - 1 and xs.max() <= object_box[2] + 1
    assert ys.min() >= object_box[1] - 1 and ys.max() <= object_box[3] + 1


def test_render_moved_names_mismatched_motion(assets, grasp):
    with pytest.raises(ValueError, match="shifts"):
        render_moved(assets, grasp, np.broadcast_to(np.eye(3), (2, 3, 3)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="rotations"):
        render_moved(assets, grasp, np.eye(3), np.zeros((1, 3)))
