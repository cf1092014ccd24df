"""The hand as a robot-hand retargeter consumes it: joints in the wrist's own frame, in a known order.

The wrist frame is the camera-from-wrist pose of `HandEstimate.wrist_pose`: its origin is the wrist
joint and its axes are MANO's model axes turned by the MANO global rotation, so wrist-frame joints are
the hand's articulation alone (the MANO hand posed with a zero global rotation, wrist at the origin),
metres. Joint order: `hfl_ros.constants.JOINT_NAMES`; its index table to MediaPipe's 21 landmarks
(`MEDIAPIPE_LANDMARK_NAMES`, `MEDIAPIPE_FROM_OUTPUT_JOINTS`) is the identity, and `to_mediapipe_order` /
`from_mediapipe_order` go through that table so that code says which order it holds.
"""

import numpy as np

from hfl_ros.constants import MEDIAPIPE_FROM_OUTPUT_JOINTS, NUM_JOINTS
from hfl_ros.geometry.camera import transform_points

#: For each joint of our order, the index of the same landmark in MediaPipe's order.
OUTPUT_FROM_MEDIAPIPE_JOINTS = tuple(int(i) for i in np.argsort(MEDIAPIPE_FROM_OUTPUT_JOINTS))


def _joints(name: str, joints: np.ndarray) -> np.ndarray:
    joints = np.asarray(joints, dtype=np.float64)
    if joints.shape[-2:] != (NUM_JOINTS, 3):
        raise ValueError(f"{name} must have shape (..., {NUM_JOINTS}, 3), got {joints.shape}")
    return joints


def _wrist_pose(wrist_pose: np.ndarray) -> np.ndarray:
    wrist_pose = np.asarray(wrist_pose, dtype=np.float64)
    if wrist_pose.shape[-2:] != (4, 4):
        raise ValueError(f"wrist_pose must have shape (..., 4, 4), got {wrist_pose.shape}")
    return wrist_pose


def joints_in_wrist_frame(joints: np.ndarray, wrist_pose: np.ndarray) -> np.ndarray:
    """joints: (..., 21, 3) m, camera frame; wrist_pose: (..., 4, 4) camera-from-wrist.
    Returns (..., 21, 3) m, wrist frame (MANO wrist axes, origin at the wrist joint)."""
    joints, wrist_pose = _joints("joints", joints), _wrist_pose(wrist_pose)
    rotation_t = np.swapaxes(wrist_pose[..., :3, :3], -1, -2)
    return transform_points(joints, rotation_t, -(rotation_t @ wrist_pose[..., :3, 3:])[..., 0])


def joints_in_camera_frame(joints_wrist: np.ndarray, wrist_pose: np.ndarray) -> np.ndarray:
    """The inverse of `joints_in_wrist_frame`: joints_wrist (..., 21, 3) m, wrist frame;
    wrist_pose (..., 4, 4) camera-from-wrist. Returns (..., 21, 3) m, camera frame."""
    joints_wrist, wrist_pose = _joints("joints_wrist", joints_wrist), _wrist_pose(wrist_pose)
    return transform_points(joints_wrist, wrist_pose[..., :3, :3], wrist_pose[..., :3, 3])


def to_mediapipe_order(joints: np.ndarray) -> np.ndarray:
    """joints: (..., 21, D) in our order (JOINT_NAMES) -> (..., 21, D) in MediaPipe's landmark order."""
    return _ordered("joints", joints, MEDIAPIPE_FROM_OUTPUT_JOINTS)


def from_mediapipe_order(landmarks: np.ndarray) -> np.ndarray:
    """landmarks: (..., 21, D) in MediaPipe's landmark order -> (..., 21, D) in our order (JOINT_NAMES)."""
    return _ordered("landmarks", landmarks, OUTPUT_FROM_MEDIAPIPE_JOINTS)


def _ordered(name: str, values: np.ndarray, order: tuple) -> np.ndarray:
    values = np.asarray(values)
    if values.ndim < 2 or values.shape[-2] != NUM_JOINTS:
        raise ValueError(f"{name} must have shape (..., {NUM_JOINTS}, D), got {values.shape}")
    return values[..., list(order), :]
