"""Typed results of one estimation: what the inference API returns and the ROS layer publishes."""

from dataclasses import dataclass, field
from typing import Dict, Optional

import numpy as np


@dataclass(frozen=True)
class HandEstimate:
    """The hand of one frame, camera frame (OpenCV optical), metres and pixels.

    joints: (21, 3) m, camera frame, JOINT_NAMES order.
    vertices: (778, 3) m, camera frame; faces: (1538, 3) vertex indices.
    joints_2d: (21, 2) px, image.
    wrist_pose: (4, 4) camera-from-wrist transform (rotation = MANO global rotation, translation = wrist joint).
    mano_pose: (48,) axis-angle rad (3 global + 45 articulation, flat-hand mean); mano_shape: (10,).
    box: (4,) px, image, [x1, y1, x2, y2] of the hand box the network saw.
    score: in [0, 1], the mean peak of the joint heatmaps.
    side: "right" or "left".
    """

    joints: np.ndarray
    vertices: np.ndarray
    faces: np.ndarray
    joints_2d: np.ndarray
    wrist_pose: np.ndarray
    mano_pose: np.ndarray
    mano_shape: np.ndarray
    box: np.ndarray
    score: float
    side: str = "right"


@dataclass(frozen=True)
class ObjectEstimate:
    """The object of one frame.

    name: registry name of the object model.
    rotation: (3, 3) camera-from-object; translation: (3,) m, camera frame. Both None when PnP found no pose.
    control_points_2d: (21, 2) px, image, the decoder's best cell per control point.
    control_point_scores: (21,) in [0, 1], that cell's confidence.
    inliers: number of RANSAC inliers (0 when there is no pose).
    box: (4,) px, image, the object box the network saw.
    score: in [0, 1], the mean of control_point_scores.
    """

    name: str
    rotation: Optional[np.ndarray]
    translation: Optional[np.ndarray]
    control_points_2d: np.ndarray
    control_point_scores: np.ndarray
    inliers: int
    box: np.ndarray
    score: float

    @property
    def has_pose(self) -> bool:
        return self.rotation is not None


@dataclass(frozen=True)
class HandObjectEstimate:
    """Everything estimated from one image; `timings` holds seconds per stage (crop, network, geometry)."""

    hand: HandEstimate
    object: ObjectEstimate
    timings: Dict[str, float] = field(default_factory=dict)


def _listed(value: Optional[np.ndarray]) -> Optional[list]:
    return None if value is None else np.asarray(value, dtype=np.float64).round(6).tolist()


def estimate_to_dict(estimate: HandObjectEstimate) -> Dict[str, object]:
    """A JSON-serialisable dict of an estimate (metres, pixels, radians; the mesh's vertices left out)."""
    hand, obj = estimate.hand, estimate.object
    return {
        "hand": {
            "side": hand.side,
            "score": round(hand.score, 6),
            "box": _listed(hand.box),
            "joints": _listed(hand.joints),
            "joints_2d": _listed(hand.joints_2d),
            "wrist_pose": _listed(hand.wrist_pose),
            "mano_pose": _listed(hand.mano_pose),
            "mano_shape": _listed(hand.mano_shape),
        },
        "object": {
            "name": obj.name,
            "score": round(obj.score, 6),
            "box": _listed(obj.box),
            "has_pose": obj.has_pose,
            "rotation": _listed(obj.rotation),
            "translation": _listed(obj.translation),
            "inliers": obj.inliers,
            "control_points_2d": _listed(obj.control_points_2d),
            "control_point_scores": _listed(obj.control_point_scores),
        },
        "timings_s": {name: round(seconds, 6) for name, seconds in estimate.timings.items()},
    }
