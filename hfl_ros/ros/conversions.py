"""HandObjectEstimate -> ROS messages, and camera messages (pure functions: no node, no clock).

Every message built here carries the header passed in, which the node copies from the input image:
stamp and frame_id (the camera's optical frame) of the image the estimate came from.
"""

from typing import Iterable, List, Optional, Sequence, Tuple

import numpy as np
from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import Point, Pose, PoseArray, PoseStamped, Quaternion, Transform, TransformStamped, Vector3
from sensor_msgs.msg import CameraInfo, Image, RegionOfInterest
from std_msgs.msg import ColorRGBA, Header
from transforms3d.quaternions import mat2quat
from visualization_msgs.msg import Marker, MarkerArray

from hfl_ros.constants import BOX_EDGES, JOINT_PARENTS
from hfl_ros.geometry.camera import transform_points
from hfl_ros.results import HandObjectEstimate
from hfl_ros.msg import HandEstimate as HandEstimateMsg
from hfl_ros.msg import HandObject
from hfl_ros.msg import ObjectEstimate as ObjectEstimateMsg
from hfl_ros.msg import Point2D
from hfl_ros.ros.image_conversion import rgb_to_image
from tf2_msgs.msg import TFMessage

#: Marker ids within the marker namespace.
MARKER_HAND_MESH = 0
MARKER_HAND_SKELETON = 1
MARKER_OBJECT_BOX = 2

HAND_MESH_RGBA = (0.9, 0.7, 0.6, 0.8)
HAND_SKELETON_RGBA = (1.0, 0.25, 0.25, 1.0)
OBJECT_BOX_RGBA = (0.25, 0.9, 0.25, 1.0)
SKELETON_LINE_WIDTH = 0.004
BOX_LINE_WIDTH = 0.003

#: TF child frame names, after the configured prefix.
WRIST_FRAME = "wrist"
OBJECT_FRAME = "object"


def stamp_seconds(stamp: Time) -> float:
    """builtin_interfaces/Time -> seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


def _sec_nanosec(seconds: float) -> Tuple[int, int]:
    sec, nanosec = divmod(int(round(seconds * 1e9)), 1_000_000_000)
    return sec, nanosec


def stamp_from_seconds(seconds: float) -> Time:
    """Seconds -> builtin_interfaces/Time (to the nearest nanosecond)."""
    sec, nanosec = _sec_nanosec(seconds)
    return Time(sec=sec, nanosec=nanosec)


def copy_header(header: Header) -> Header:
    """A new Header with the same stamp and frame_id."""
    return Header(stamp=Time(sec=header.stamp.sec, nanosec=header.stamp.nanosec), frame_id=header.frame_id)


def duration(seconds: float) -> Duration:
    """Seconds (>= 0) -> builtin_interfaces/Duration (to the nearest nanosecond)."""
    sec, nanosec = _sec_nanosec(seconds)
    return Duration(sec=sec, nanosec=nanosec)


def image_message(rgb: np.ndarray, header: Header) -> Image:
    """(H, W, 3) uint8 RGB -> rgb8 sensor_msgs/Image with a copy of `header`."""
    fields = rgb_to_image(rgb)
    return Image(header=copy_header(header), encoding=fields.encoding, height=fields.height, width=fields.width,
                 step=fields.step, data=fields.data)


def camera_info_message(K: np.ndarray, width: int, height: int, header: Header) -> CameraInfo:
    """A distortion-free CameraInfo with intrinsics K (3, 3) px for a width x height image (P = [K | 0])."""
    K = np.asarray(K, dtype=np.float64)
    P = np.zeros((3, 4))
    P[:, :3] = K
    return CameraInfo(header=copy_header(header), width=int(width), height=int(height),
                      distortion_model="plumb_bob", d=[0.0] * 5, k=K.reshape(-1).tolist(),
                      r=np.eye(3).reshape(-1).tolist(), p=P.reshape(-1).tolist())


def non_finite_fields(estimate: HandObjectEstimate) -> List[str]:
    """Names of the estimate's arrays / scores that hold NaN or infinity (empty when all are finite)."""
    hand, obj = estimate.hand, estimate.object
    fields = {
        "hand.joints": hand.joints, "hand.vertices": hand.vertices, "hand.joints_2d": hand.joints_2d,
        "hand.wrist_pose": hand.wrist_pose, "hand.mano_pose": hand.mano_pose, "hand.mano_shape": hand.mano_shape,
        "hand.box": hand.box, "hand.score": hand.score,
        "object.control_points_2d": obj.control_points_2d, "object.control_point_scores": obj.control_point_scores,
        "object.box": obj.box, "object.score": obj.score,
    }
    if obj.has_pose:
        fields.update({"object.rotation": obj.rotation, "object.translation": obj.translation})
    return [name for name, value in fields.items() if not np.all(np.isfinite(np.asarray(value, dtype=np.float64)))]


def quaternion_from_matrix(rotation: np.ndarray) -> Quaternion:
    """(3, 3) rotation matrix -> unit geometry_msgs/Quaternion (w >= 0)."""
    w, x, y, z = mat2quat(np.asarray(rotation, dtype=np.float64))
    q = np.array([w, x, y, z])
    q = q / np.linalg.norm(q)
    if q[0] < 0:
        q = -q
    return Quaternion(w=float(q[0]), x=float(q[1]), y=float(q[2]), z=float(q[3]))


def pose_from_rotation_translation(rotation: np.ndarray, translation: np.ndarray) -> Pose:
    """Rotation (3, 3) and translation (3,) m -> geometry_msgs/Pose."""
    t = np.asarray(translation, dtype=np.float64)
    return Pose(position=Point(x=float(t[0]), y=float(t[1]), z=float(t[2])),
                orientation=quaternion_from_matrix(rotation))


def _points(array: np.ndarray) -> List[Point]:
    return [Point(x=float(x), y=float(y), z=float(z)) for x, y, z in np.asarray(array, dtype=np.float64)]


def _points_2d(array: np.ndarray) -> List[Point2D]:
    return [Point2D(x=float(x), y=float(y)) for x, y in np.asarray(array, dtype=np.float64)]


def roi_from_box(box: np.ndarray, width: int, height: int) -> RegionOfInterest:
    """[x1, y1, x2, y2] px -> sensor_msgs/RegionOfInterest (outward-rounded integers, clipped to the image)."""
    box = np.asarray(box, dtype=np.float64)
    x1, y1 = np.clip(np.floor(box[:2]), 0, (width, height)).astype(int)
    x2, y2 = np.clip(np.ceil(box[2:]), 0, (width, height)).astype(int)
    return RegionOfInterest(x_offset=int(x1), y_offset=int(y1), width=int(max(x2 - x1, 0)),
                            height=int(max(y2 - y1, 0)), do_rectify=False)


def box_from_roi(roi: RegionOfInterest) -> np.ndarray:
    """sensor_msgs/RegionOfInterest -> (4,) [x1, y1, x2, y2] px."""
    return np.array([roi.x_offset, roi.y_offset, roi.x_offset + roi.width, roi.y_offset + roi.height],
                    dtype=np.float64)


def hand_object_message(estimate: HandObjectEstimate, header: Header, box_source: str, untrained: bool,
                        image_size: Sequence[int], processing_time: float) -> HandObject:
    """The per-frame message. image_size: (width, height) px; processing_time: s since the frame arrived."""
    width, height = image_size
    hand, obj = estimate.hand, estimate.object
    hand_msg = HandEstimateMsg(
        side=hand.side, score=float(hand.score), joints=_points(hand.joints), joints_2d=_points_2d(hand.joints_2d),
        wrist_pose=pose_from_rotation_translation(hand.wrist_pose[:3, :3], hand.wrist_pose[:3, 3]),
        mano_pose=np.asarray(hand.mano_pose, dtype=np.float32),
        mano_shape=np.asarray(hand.mano_shape, dtype=np.float32),
        box=roi_from_box(hand.box, width, height),
    )
    object_msg = ObjectEstimateMsg(
        name=obj.name, score=float(obj.score), has_pose=obj.has_pose,
        control_points_2d=_points_2d(obj.control_points_2d),
        control_point_scores=np.asarray(obj.control_point_scores, dtype=np.float32),
        inliers=int(obj.inliers), box=roi_from_box(obj.box, width, height),
    )
    if obj.has_pose:
        object_msg.pose = pose_from_rotation_translation(obj.rotation, obj.translation)
    return HandObject(
        header=copy_header(header), hand=hand_msg, object=object_msg, box_source=box_source,
        untrained=bool(untrained), network_time=float(estimate.timings.get("network", 0.0)),
        processing_time=float(processing_time),
    )


def object_pose_message(estimate: HandObjectEstimate, header: Header) -> Optional[PoseStamped]:
    """Camera-from-object pose, or None when the estimate has no object pose."""
    obj = estimate.object
    if not obj.has_pose:
        return None
    return PoseStamped(header=copy_header(header), pose=pose_from_rotation_translation(obj.rotation, obj.translation))


def hand_joints_message(estimate: HandObjectEstimate, header: Header) -> PoseArray:
    """The 21 hand joints (JOINT_NAMES order) as positions, m, camera frame; orientations are identity."""
    poses = [Pose(position=point, orientation=Quaternion(w=1.0)) for point in _points(estimate.hand.joints)]
    return PoseArray(header=copy_header(header), poses=poses)


def _transform(header: Header, child: str, rotation: np.ndarray, translation: np.ndarray) -> TransformStamped:
    pose = pose_from_rotation_translation(rotation, translation)
    return TransformStamped(
        header=copy_header(header), child_frame_id=child,
        transform=Transform(translation=Vector3(x=pose.position.x, y=pose.position.y, z=pose.position.z),
                            rotation=pose.orientation),
    )


def tf_message(estimate: HandObjectEstimate, header: Header, frame_prefix: str, include_hand: bool = True,
               include_object: bool = True) -> TFMessage:
    """TF from the image's frame to `<prefix>wrist` (hand) and `<prefix>object` (only with an object pose)."""
    transforms = []
    if include_hand:
        wrist = estimate.hand.wrist_pose
        transforms.append(_transform(header, frame_prefix + WRIST_FRAME, wrist[:3, :3], wrist[:3, 3]))
    obj = estimate.object
    if include_object and obj.has_pose:
        transforms.append(_transform(header, frame_prefix + OBJECT_FRAME, obj.rotation, obj.translation))
    return TFMessage(transforms=transforms)


def _colour(rgba: Iterable[float]) -> ColorRGBA:
    r, g, b, a = rgba
    return ColorRGBA(r=float(r), g=float(g), b=float(b), a=float(a))


def _marker(header: Header, namespace: str, marker_id: int, marker_type: int, lifetime: float) -> Marker:
    marker = Marker(header=copy_header(header), ns=namespace, id=marker_id, type=marker_type, action=Marker.ADD)
    marker.pose.orientation.w = 1.0
    marker.scale = Vector3(x=1.0, y=1.0, z=1.0)
    marker.lifetime = duration(lifetime)
    marker.frame_locked = False
    return marker


def _delete(header: Header, namespace: str, marker_id: int) -> Marker:
    return Marker(header=copy_header(header), ns=namespace, id=marker_id, action=Marker.DELETE)


def marker_array(estimate: HandObjectEstimate, header: Header, object_control_points: Optional[np.ndarray],
                 namespace: str = "hfl_ros", lifetime: float = 0.0, include_hand: bool = True,
                 include_object: bool = True) -> MarkerArray:
    """RViz markers in the image's frame: hand mesh (TRIANGLE_LIST, 3 points per MANO face), skeleton
    (LINE_LIST, 2 points per bone) and the object's control-point box (LINE_LIST, 2 points per edge).

    object_control_points: (21, 3) m, object frame (None: no box). Parts that are not shown in this frame
    are sent as DELETE so that RViz drops the previous frame's. lifetime: s, 0 = until replaced.
    """
    markers = []
    hand = estimate.hand
    if include_hand:
        mesh = _marker(header, namespace, MARKER_HAND_MESH, Marker.TRIANGLE_LIST, lifetime)
        mesh.points = _points(hand.vertices[hand.faces].reshape(-1, 3))
        mesh.color = _colour(HAND_MESH_RGBA)
        skeleton = _marker(header, namespace, MARKER_HAND_SKELETON, Marker.LINE_LIST, lifetime)
        bones = [(parent, child) for child, parent in enumerate(JOINT_PARENTS) if parent >= 0]
        skeleton.points = _points(hand.joints[np.asarray(bones).reshape(-1)])
        skeleton.scale.x = SKELETON_LINE_WIDTH
        skeleton.color = _colour(HAND_SKELETON_RGBA)
        markers.extend((mesh, skeleton))
    else:
        markers.extend((_delete(header, namespace, MARKER_HAND_MESH), _delete(header, namespace, MARKER_HAND_SKELETON)))
    obj = estimate.object
    if include_object and obj.has_pose and object_control_points is not None:
        corners = transform_points(np.asarray(object_control_points, dtype=np.float64), obj.rotation, obj.translation)
        box = _marker(header, namespace, MARKER_OBJECT_BOX, Marker.LINE_LIST, lifetime)
        box.points = _points(corners[np.asarray(BOX_EDGES).reshape(-1)])
        box.scale.x = BOX_LINE_WIDTH
        box.color = _colour(OBJECT_BOX_RGBA)
        markers.append(box)
    else:
        markers.append(_delete(header, namespace, MARKER_OBJECT_BOX))
    return MarkerArray(markers=markers)


def _pose_record(pose: Pose) -> dict:
    p, q = pose.position, pose.orientation
    return {"position": [p.x, p.y, p.z], "orientation_xyzw": [q.x, q.y, q.z, q.w]}


def _roi_record(roi: RegionOfInterest) -> List[int]:
    return [roi.x_offset, roi.y_offset, roi.x_offset + roi.width, roi.y_offset + roi.height]


def hand_object_record(message: HandObject) -> dict:
    """A HandObject message as plain JSON-ready data (metres, pixels, seconds; boxes [x1, y1, x2, y2])."""
    hand, obj = message.hand, message.object
    return {
        "stamp": stamp_seconds(message.header.stamp),
        "frame_id": message.header.frame_id,
        "untrained": bool(message.untrained),
        "box_source": message.box_source,
        "network_time": float(message.network_time),
        "processing_time": float(message.processing_time),
        "hand": {
            "side": hand.side, "score": float(hand.score),
            "joints": [[p.x, p.y, p.z] for p in hand.joints],
            "joints_2d": [[p.x, p.y] for p in hand.joints_2d],
            "wrist_pose": _pose_record(hand.wrist_pose),
            "mano_pose": [float(v) for v in hand.mano_pose], "mano_shape": [float(v) for v in hand.mano_shape],
            "box": _roi_record(hand.box),
        },
        "object": {
            "name": obj.name, "score": float(obj.score), "has_pose": bool(obj.has_pose),
            "pose": _pose_record(obj.pose) if obj.has_pose else None,
            "control_points_2d": [[p.x, p.y] for p in obj.control_points_2d],
            "inliers": int(obj.inliers), "box": _roi_record(obj.box),
        },
    }
