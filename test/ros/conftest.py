"""Shared pieces of the ROS tests: hand-made estimates with known geometry (pure tests); this directory
on sys.path for the integration tests' machinery (harness.py, imported as `harness`)."""

import sys
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import pytest

from hfl_ros.constants import NUM_JOINTS, NUM_MANO_FACES, NUM_MANO_VERTICES
from hfl_ros.geometry.camera import project_points
from hfl_ros.results import HandEstimate, HandObjectEstimate, ObjectEstimate

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

K = np.array([[500.0, 0.0, 160.0], [0.0, 500.0, 120.0], [0.0, 0.0, 1.0]])


def _rotation_z(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def make_estimate(object_angle: Optional[float] = None, hand_score: float = 0.6, object_score: float = 0.7,
                  inliers: int = 12, wrist_angle: float = 0.3) -> HandObjectEstimate:
    """A hand 0.5 m in front of the camera and an object beside it, with a pose (rotated `object_angle`
    rad about z) unless object_angle is None."""
    object_rotation = None if object_angle is None else _rotation_z(object_angle)
    rng = np.random.default_rng(3)
    joints = np.array([0.0, 0.0, 0.5]) + rng.uniform(-0.05, 0.05, size=(NUM_JOINTS, 3))
    vertices = np.array([0.0, 0.0, 0.5]) + rng.uniform(-0.06, 0.06, size=(NUM_MANO_VERTICES, 3))
    faces = rng.integers(0, NUM_MANO_VERTICES, size=(NUM_MANO_FACES, 3))
    wrist = np.eye(4)
    wrist[:3, :3] = _rotation_z(wrist_angle)
    wrist[:3, 3] = joints[0]
    hand = HandEstimate(
        joints=joints, vertices=vertices, faces=faces, joints_2d=project_points(joints, K), wrist_pose=wrist,
        mano_pose=rng.normal(size=48) * 0.1, mano_shape=rng.normal(size=10) * 0.1,
        box=np.array([100.0, 60.0, 220.0, 180.0]), score=hand_score,
    )
    obj = ObjectEstimate(
        name="box", rotation=object_rotation,
        translation=None if object_rotation is None else np.array([0.05, 0.02, 0.55]),
        control_points_2d=rng.uniform(120, 200, size=(21, 2)), control_point_scores=np.full(21, object_score),
        inliers=inliers if object_rotation is not None else 0, box=np.array([120.0, 80.0, 200.0, 170.0]),
        score=object_score,
    )
    return HandObjectEstimate(hand=hand, object=obj, timings={"crop": 0.001, "network": 0.4, "geometry": 0.002})


@pytest.fixture()
def estimate_factory() -> Callable[..., HandObjectEstimate]:
    """make_estimate(object_angle=None, hand_score=0.6, object_score=0.7, inliers=12, wrist_angle=0.3)."""
    return make_estimate


@pytest.fixture()
def intrinsics() -> np.ndarray:
    """(3, 3) intrinsics the hand-made estimates were projected with."""
    return K.copy()
