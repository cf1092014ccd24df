"""A frame's hands and objects as vision_msgs (pure functions: no node, no clock).

What planners and grasp pipelines read beside TF (Isaac ROS FoundationPose and DOPE publish the same):

- `detection_3d_array`: vision_msgs/Detection3DArray, one Detection3D per held object with a pose: class id =
  the object's registry name, score = the object decoder's score, the camera-from-object pose (the pose the
  node publishes on TF and `object_pose`: filtered where the filter has one) with its covariance, the box of
  the object's mesh (its axis-aligned extent in the object frame, placed by the pose) and `id` =
  "object-<object_track_id>" (the same while the object is tracked, a new one once it was lost and found).
- `detection_2d_array`: vision_msgs/Detection2DArray, one Detection2D per hand (class `right_hand` /
  `left_hand`, the hand box, the hand score, `id` = "hand-<track_id>") and one per object box beside it
  (class = registry name, `id` as in the 3D array).

Every message carries a copy of the image's header: stamp and frame_id (the camera's optical frame), so a
pose is camera-from-object in that frame.

Covariance (`pose_covariance`): 6 x 6, row-major, in the order geometry_msgs/PoseWithCovariance names
(x, y, z in m, camera frame; then rotations in rad about the camera's x, y, z axes through the object's
origin). It is the first-order covariance of the PnP solution, sigma^2 (J^T J)^-1, with J the Jacobian of the
reprojected control points with respect to the pose and sigma^2 the residual variance of the control points
that agree with the pose (the decoder's best cell per control point, confidence above the PnP threshold,
reprojected within the RANSAC inlier threshold); sigma is at least `MIN_REPROJECTION_SIGMA`. With fewer
than `MIN_COVARIANCE_POINTS` such points the covariance is unknown: all zeros, the ROS convention for an
unknown covariance (sensor_msgs/Imu.msg: "A covariance matrix of all zeros will be interpreted as
'covariance unknown'"; -1 in the first element would mean "no estimate", yet the pose is one).
"""

from typing import Callable, Iterable, List, Optional, Tuple

import numpy as np
from geometry_msgs.msg import Pose, PoseWithCovariance, Vector3
from std_msgs.msg import Header
from vision_msgs.msg import (
    BoundingBox2D, BoundingBox3D, Detection2D, Detection2DArray, Detection3D, Detection3DArray, ObjectHypothesis,
    ObjectHypothesisWithPose, Point2D, Pose2D,
)

from hfl_ros.geometry.camera import transform_points
from hfl_ros.geometry.checks import as_numpy
from hfl_ros.geometry.object_pose import ObjectPoseSettings
from hfl_ros.objects import ObjectModel
from hfl_ros.perception import HandResult
from hfl_ros.results import ObjectEstimate
from hfl_ros.ros.conversions import copy_header, pose_from_rotation_translation

#: Class id of a hand detection, per side.
HAND_CLASSES = {"right": "right_hand", "left": "left_hand"}
#: Prefixes of the detection ids: hands and objects are counted apart, their ids never collide.
HAND_ID_PREFIX = "hand-"
OBJECT_ID_PREFIX = "object-"
#: px, the smallest reprojection standard deviation the covariance assumes (a perfect fit of a few points
#: does not make the pose exact, and an all-zero covariance would read as "unknown").
MIN_REPROJECTION_SIGMA = 0.5
#: Control points needed for a covariance: 2N residuals must exceed the 6 pose parameters.
MIN_COVARIANCE_POINTS = 4

#: registry name -> ObjectModel (e.g. ObjectRegistry.model).
ModelLookup = Callable[[str], ObjectModel]


def _skew(vectors: np.ndarray) -> np.ndarray:
    """(N, 3) -> (N, 3, 3) cross-product matrices."""
    x, y, z = vectors[:, 0], vectors[:, 1], vectors[:, 2]
    zero = np.zeros_like(x)
    return np.stack([np.stack([zero, -z, y], -1), np.stack([z, zero, -x], -1), np.stack([-y, x, zero], -1)], -2)


def project_with_derivative(points: np.ndarray, K: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Pinhole projections of camera-frame points and their derivative with respect to the points.

    points: (N, 3) m, camera frame, in front of the camera; K: (3, 3) intrinsics.
    Returns uv (N, 2) px and d(uv)/d(point) (N, 2, 3) px per m.
    """
    homogeneous = points @ K.T
    depth = homogeneous[:, 2:3]
    uv = homogeneous[:, :2] / depth
    return uv, (K[None, :2, :] - uv[:, :, None] * K[None, 2:3, :]) / depth[:, :, None]


def pose_covariance(obj: ObjectEstimate, control_points: np.ndarray, K: np.ndarray,
                    settings: ObjectPoseSettings = ObjectPoseSettings()) -> np.ndarray:
    """The 6 x 6 covariance of an object's PnP pose (see the module docstring), or zeros when unknown.

    obj: the raw estimate (a pose, control_points_2d (21, 2) px and control_point_scores (21,));
    control_points: (21, 3) m, object frame, the model's; K: (3, 3) intrinsics of the image.
    settings: `threshold` (confidence a control point needs) and `reprojection_error` (px, inlier threshold).
    Returns (6, 6): m^2, m rad, rad^2; order x, y, z, rotation about x, y, z (camera frame).
    """
    if not obj.has_pose:
        raise ValueError(f"object {obj.name!r} has no pose: no covariance")
    K = as_numpy(K, "K", shape="3,3", finite=True)
    points = as_numpy(control_points, "control_points", shape=(len(obj.control_points_2d), 3), finite=True)
    rotation = np.asarray(obj.rotation, dtype=np.float64)
    translation = np.asarray(obj.translation, dtype=np.float64)
    offsets = points @ rotation.T  # R X, (21, 3)
    camera = offsets + translation
    uv, projection = project_with_derivative(camera, K)
    residuals = np.asarray(obj.control_points_2d, dtype=np.float64) - uv
    agree = ((np.asarray(obj.control_point_scores, dtype=np.float64) > settings.threshold)
             & (np.linalg.norm(residuals, axis=1) <= settings.reprojection_error) & (camera[:, 2] > 0))
    count = int(agree.sum())
    if count < MIN_COVARIANCE_POINTS:
        return np.zeros((6, 6))
    # a pose perturbed as t + dt and exp(dtheta) R moves R X + t by dt - [R X]x dtheta
    motion = np.concatenate([np.broadcast_to(np.eye(3), (count, 3, 3)), -_skew(offsets[agree])], axis=2)
    jacobian = (projection[agree] @ motion).reshape(2 * count, 6)
    variance = max(float(np.sum(residuals[agree] ** 2)) / (2 * count - 6), MIN_REPROJECTION_SIGMA ** 2)
    information = jacobian.T @ jacobian
    if np.linalg.cond(information) > 1.0 / np.finfo(np.float64).eps:
        return np.zeros((6, 6))
    covariance = variance * np.linalg.inv(information)
    return 0.5 * (covariance + covariance.T)


def box_3d(model: ObjectModel, rotation: np.ndarray, translation: np.ndarray) -> BoundingBox3D:
    """The axis-aligned box of the model's vertices (object frame) placed by the camera-from-object pose:
    centre and orientation in the camera frame, size (m) along the object's axes."""
    vertices = np.asarray(model.vertices, dtype=np.float64)
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    centre = transform_points(((low + high) / 2)[None], rotation, translation)[0]
    size = high - low
    return BoundingBox3D(center=pose_from_rotation_translation(rotation, centre),
                         size=Vector3(x=float(size[0]), y=float(size[1]), z=float(size[2])))


def _track_id(prefix: str, track_id: int) -> str:
    """"<prefix><n>", or "" for an untracked detection (id < 0; the field may be empty)."""
    return f"{prefix}{int(track_id)}" if track_id >= 0 else ""


def _hypothesis(class_id: str, score: float, pose: Optional[PoseWithCovariance] = None) -> ObjectHypothesisWithPose:
    result = ObjectHypothesisWithPose(hypothesis=ObjectHypothesis(class_id=class_id, score=float(score)))
    if pose is not None:
        result.pose = pose
    return result


def object_detection_3d(header: Header, hand: HandResult, model: ObjectModel, K: np.ndarray,
                        settings: ObjectPoseSettings = ObjectPoseSettings()) -> Detection3D:
    """The Detection3D of a hand's held object: the pose of `hand.output` (what TF shows), the covariance of
    the raw PnP pose in `hand.estimate`. Raises ValueError when the output has no object pose."""
    shown, raw = hand.output.object, hand.estimate.object
    if not shown.has_pose:
        raise ValueError(f"object {shown.name!r} has no pose: no Detection3D")
    covariance = pose_covariance(raw, model.control_points, K, settings) if raw.has_pose else np.zeros((6, 6))
    pose: Pose = pose_from_rotation_translation(shown.rotation, shown.translation)
    return Detection3D(
        header=copy_header(header),
        results=[_hypothesis(shown.name, shown.score,
                             PoseWithCovariance(pose=pose, covariance=covariance.reshape(-1).tolist()))],
        bbox=box_3d(model, shown.rotation, shown.translation),
        id=_track_id(OBJECT_ID_PREFIX, hand.object_track_id),
    )


def detection_3d_array(header: Header, hands: Iterable[HandResult], models: ModelLookup, K: np.ndarray,
                       settings: ObjectPoseSettings = ObjectPoseSettings()) -> Detection3DArray:
    """One Detection3D per hand whose object is shown (`object_shown`: it has a pose that passed the quality
    gate, as on TF and `object_pose`); an empty array says "no object this frame".
    models: registry name -> ObjectModel; K: (3, 3) intrinsics of the image."""
    detections = [object_detection_3d(header, hand, models(hand.output.object.name), K, settings)
                  for hand in hands if hand.object_shown]
    return Detection3DArray(header=copy_header(header), detections=detections)


def box_2d(box: np.ndarray) -> BoundingBox2D:
    """[x1, y1, x2, y2] px -> an axis-aligned BoundingBox2D (centre and size, px)."""
    x1, y1, x2, y2 = (float(value) for value in as_numpy(box, "box", shape=(4,), finite=True))
    return BoundingBox2D(center=Pose2D(position=Point2D(x=(x1 + x2) / 2, y=(y1 + y2) / 2), theta=0.0),
                         size_x=x2 - x1, size_y=y2 - y1)


def detection_2d_array(header: Header, hands: Iterable[HandResult]) -> Detection2DArray:
    """Per hand: its Detection2D (class `right_hand` / `left_hand`, hand box, hand score, "hand-<track_id>")
    when the hand is shown (`hand_shown`: it passed the quality gate), then, when it has an object box, the
    object's (class = registry name, the object score, "object-<object_track_id>")."""
    detections: List[Detection2D] = []
    for hand in hands:
        if hand.side not in HAND_CLASSES:
            raise ValueError(f"hand side must be one of {sorted(HAND_CLASSES)}, got {hand.side!r}")
        if hand.hand_shown:
            detections.append(Detection2D(header=copy_header(header),
                                          results=[_hypothesis(HAND_CLASSES[hand.side], hand.hand_score)],
                                          bbox=box_2d(hand.hand_box), id=_track_id(HAND_ID_PREFIX, hand.track_id)))
        if hand.object_box is not None:
            detections.append(Detection2D(header=copy_header(header),
                                          results=[_hypothesis(hand.object_name, hand.estimate.object.score)],
                                          bbox=box_2d(hand.object_box),
                                          id=_track_id(OBJECT_ID_PREFIX, hand.object_track_id)))
    return Detection2DArray(header=copy_header(header), detections=detections)
