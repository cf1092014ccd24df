"""Wrist-frame joints (round trip, MANO meaning) and the MediaPipe landmark order."""

import numpy as np
import pytest
import torch

from hfl_ros.constants import JOINT_NAMES, MEDIAPIPE_LANDMARK_NAMES
from hfl_ros.geometry.hand_pose import wrist_pose
from hfl_ros.geometry.rotations import axis_angle_to_matrix
from hfl_ros.geometry.so3 import exp_map
from hfl_ros.retargeting import (
    from_mediapipe_order, joints_in_camera_frame, joints_in_wrist_frame, to_mediapipe_order,
)


def test_wrist_frame_and_camera_frame_joints_are_the_same_points():
    rng = np.random.default_rng(0)
    poses = np.tile(np.eye(4), (5, 1, 1))
    poses[:, :3, :3] = exp_map(rng.normal(size=(5, 3)))
    poses[:, :3, 3] = rng.normal(size=(5, 3))
    joints = rng.normal(size=(5, 21, 3))
    joints_wrist = joints_in_wrist_frame(joints, poses)
    np.testing.assert_allclose(joints_in_camera_frame(joints_wrist, poses), joints, atol=1e-12)
    # Same points: every distance between joints is kept, and the wrist pose maps each back by R p + t.
    np.testing.assert_allclose(np.linalg.norm(joints_wrist[:, 3] - joints_wrist[:, 7], axis=-1),
                               np.linalg.norm(joints[:, 3] - joints[:, 7], axis=-1), atol=1e-12)
    np.testing.assert_allclose(np.einsum("bij,bnj->bni", poses[:, :3, :3], joints_wrist) + poses[:, None, :3, 3],
                               joints, atol=1e-12)


def test_wrist_frame_joints_are_the_mano_hand_without_its_global_rotation(mano_layer):
    rng = np.random.default_rng(1)
    articulation = torch.from_numpy(rng.normal(0, 0.2, 45)).float()
    global_rotation = torch.tensor([0.4, -1.1, 2.0])
    with torch.no_grad():
        posed = mano_layer(torch.cat((global_rotation, articulation))[None], torch.zeros(1, 10)).joints[0]
        unrotated = mano_layer(torch.cat((torch.zeros(3), articulation))[None], torch.zeros(1, 10)).joints[0]
    translation = np.array([0.05, -0.03, 0.55])
    camera_joints = posed.double().numpy() + translation
    pose = wrist_pose(axis_angle_to_matrix(global_rotation.double()), camera_joints[0])
    np.testing.assert_allclose(joints_in_wrist_frame(camera_joints, pose), unrotated.double().numpy(), atol=1e-5)


_MEDIAPIPE_FINGERS = {"thumb": "THUMB", "index": "INDEX_FINGER", "middle": "MIDDLE_FINGER", "ring": "RING_FINGER",
                      "little": "PINKY"}
_MEDIAPIPE_SEGMENTS = {"thumb": ("CMC", "MCP", "IP", "TIP"), "other": ("MCP", "PIP", "DIP", "TIP")}


def _mediapipe_name(our_name: str) -> str:
    """The MediaPipe landmark of one of our joints, from anatomy: finger, then segment from the palm."""
    if our_name == "wrist":
        return "WRIST"
    finger, segment = our_name[:-1], int(our_name[-1])
    segments = _MEDIAPIPE_SEGMENTS["thumb" if finger == "thumb" else "other"]
    return f"{_MEDIAPIPE_FINGERS[finger]}_{segments[segment - 1]}"


def test_mediapipe_order_puts_each_joint_at_its_anatomical_landmark():
    ours = np.arange(21, dtype=float)[:, None].repeat(3, axis=1)  # row i holds our joint index i
    in_mediapipe = to_mediapipe_order(ours)[:, 0].astype(int)
    for landmark_index, our_index in enumerate(in_mediapipe):
        assert MEDIAPIPE_LANDMARK_NAMES[landmark_index] == _mediapipe_name(JOINT_NAMES[our_index])
    assert MEDIAPIPE_LANDMARK_NAMES.index("THUMB_TIP") == 4 and in_mediapipe[4] == JOINT_NAMES.index("thumb4")


def test_mediapipe_order_round_trips_batches_of_2d_and_3d_points():
    rng = np.random.default_rng(2)
    for points in (rng.normal(size=(4, 21, 3)), rng.normal(size=(21, 2))):
        np.testing.assert_array_equal(from_mediapipe_order(to_mediapipe_order(points)), points)
        np.testing.assert_array_equal(to_mediapipe_order(from_mediapipe_order(points)), points)


def test_wrong_shapes_are_named():
    with pytest.raises(ValueError, match="joints must have shape"):
        joints_in_wrist_frame(np.zeros((20, 3)), np.eye(4))
    with pytest.raises(ValueError, match="wrist_pose"):
        joints_in_camera_frame(np.zeros((21, 3)), np.eye(3))
    with pytest.raises(ValueError, match="landmarks"):
        from_mediapipe_order(np.zeros((22, 3)))
