"""The real perception_node process with a deterministic stand-in for HandObjectEstimator (tests only).

Everything ROS is the shipped node: lifecycle, subscriptions, worker, conversions, publishers. Only the
estimator is replaced (the node's estimator_factory), so that integration tests get valid, known
estimates at a controlled speed:
- the hand is the MANO rest pose (the real MANO loader and mesh), its wrist 0.5 m deep on the ray through
  the hand box's centre; the object sits 0.55 m deep on the ray through the object box's centre;
- each estimate takes HFL_STANDIN_DELAY seconds (default 0.2), reported as the network time;
- an image whose top-left pixel is magenta (255, 0, 255) yields NaN joints (to test the NaN guard).

Run: python test/ros/standin_node.py --ros-args --params-file config/perception.yaml -p mano_dir:=...
"""

import os
import sys
import time
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from hfl_ros.geometry.camera import project_points  # noqa: E402
from hfl_ros.geometry.object_pose import ObjectPoseSettings  # noqa: E402
from hfl_ros.objects import ObjectModel  # noqa: E402
from hfl_ros.results import HandEstimate, HandObjectEstimate, ObjectEstimate  # noqa: E402
from hfl_ros.mano import load_mano  # noqa: E402
from hfl_ros.ros import perception_node  # noqa: E402

NAN_TRIGGER = (255, 0, 255)
HAND_DEPTH = 0.5
OBJECT_DEPTH = 0.55


def _ray_point(box: np.ndarray, K: np.ndarray, depth: float) -> np.ndarray:
    u, v = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return np.array([(u - K[0, 2]) / K[0, 0] * depth, (v - K[1, 2]) / K[1, 1] * depth, depth])


class StandInEstimator:
    """HandObjectEstimator's interface with known outputs; see the module docstring."""

    def __init__(self, vertices: np.ndarray, joints: np.ndarray, faces: np.ndarray, delay: float) -> None:
        self.vertices, self.joints, self.faces = vertices, joints, faces
        self.delay = delay
        self.untrained = True
        self.device = torch.device("cpu")
        self.pose_settings = ObjectPoseSettings()  # the covariance of detections_3d reads its thresholds

    @classmethod
    def from_files(cls, checkpoint: Optional[str], mano_dir: str, device: str = "cpu",
                   inference: object = None) -> "StandInEstimator":
        layer = load_mano(mano_dir, side="right")
        with torch.no_grad():
            rest = layer(torch.zeros(1, 48), torch.zeros(1, 10))
        return cls(rest.vertices[0].double().numpy(), rest.joints[0].double().numpy(),
                   layer.faces.numpy(), float(os.environ.get("HFL_STANDIN_DELAY", "0.2")))

    def estimate(self, image: np.ndarray, K: np.ndarray, hand_box: np.ndarray, object_box: np.ndarray,
                 object_model: ObjectModel) -> HandObjectEstimate:
        time.sleep(self.delay)
        return self._known(image, K, hand_box, object_box, object_model)

    def estimate_batch(self, image: np.ndarray, requests: Sequence) -> List[HandObjectEstimate]:
        """One delay for the whole batch (one network call), then each request's known estimate in its view."""
        time.sleep(self.delay)
        return [self._known(image, r.K, r.hand_box, r.object_box, r.object_model) for r in requests]

    def _known(self, image: np.ndarray, K: np.ndarray, hand_box: np.ndarray, object_box: np.ndarray,
               object_model: ObjectModel) -> HandObjectEstimate:
        wrist = _ray_point(hand_box, K, HAND_DEPTH)
        joints = self.joints + wrist
        if tuple(image[0, 0]) == NAN_TRIGGER:
            joints = joints * np.nan
        pose = np.eye(4)
        pose[:3, 3] = wrist
        angle = float(image.mean()) / 255.0 * np.pi
        rotation = np.array([[np.cos(angle), -np.sin(angle), 0.0], [np.sin(angle), np.cos(angle), 0.0],
                             [0.0, 0.0, 1.0]])
        translation = _ray_point(object_box, K, OBJECT_DEPTH)
        control_points_2d = project_points(object_model.control_points @ rotation.T + translation, K)
        hand = HandEstimate(
            joints=joints, vertices=self.vertices + wrist, faces=self.faces, joints_2d=project_points(joints, K),
            wrist_pose=pose, mano_pose=np.zeros(48), mano_shape=np.zeros(10), box=np.asarray(hand_box, float),
            score=0.9,
        )
        obj = ObjectEstimate(
            name=object_model.name, rotation=rotation, translation=translation,
            control_points_2d=control_points_2d, control_point_scores=np.full(21, 0.8), inliers=21,
            box=np.asarray(object_box, float), score=0.8,
        )
        return HandObjectEstimate(hand=hand, object=obj, timings={"crop": 0.0, "network": self.delay,
                                                                  "geometry": 0.0})


if __name__ == "__main__":
    sys.exit(perception_node.main(estimator_factory=StandInEstimator.from_files))
