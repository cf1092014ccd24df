"""HandObjectEstimate -> ROS messages, and camera messages (pure functions: no node, no clock).

Every message built here carries the header passed in, which the node copies from the input image:
stamp and frame_id (the camera's optical frame) of the image the estimate came from. TF frames of the
hand carry its side: `<prefix><side>_wrist` (hfl/right_wrist) and, per joint, `<prefix><side>_<joint>`.
"""

from typing import Iterable, List, Optional, Sequence, Tuple

import numpy as np
from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import Point, Pose, PoseArray, PoseStamped, Quaternion, Transform, TransformStamped, Vector3
from sensor_msgs.msg import CameraInfo, Image, RegionOfInterest
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from hfl_ros.constants import BOX_EDGES, JOINT_NAMES, JOINT_PARENTS
from hfl_ros.detection.policy import ExternalRois
from hfl_ros.filtering import FilteredFrame, FilteredHand, FilteredObject
from hfl_ros.geometry.camera import transform_points
from hfl_ros.geometry.so3 import matrix_to_quaternion
from hfl_ros.perception import HandResult
from hfl_ros.results import HandObjectEstimate
from hfl_ros.msg import FilteredHand as FilteredHandMsg
from hfl_ros.msg import FilteredObject as FilteredObjectMsg
from hfl_ros.msg import HandEstimate as HandEstimateMsg
from hfl_ros.msg import HandObject, HandObjectRois, Hands
from hfl_ros.msg import ObjectEstimate as ObjectEstimateMsg
from hfl_ros.msg import Point2D
from hfl_ros.retargeting import joints_in_wrist_frame
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

#: TF child frame of the object, after the configured prefix.
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


def quaternion_from_matrix(rotation: np.ndarray) -> Quaternion:
    """(3, 3) rotation matrix -> unit geometry_msgs/Quaternion (w >= 0)."""
    w, x, y, z = matrix_to_quaternion(rotation)
    return Quaternion(w=float(w), x=float(x), y=float(y), z=float(z))


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


def external_rois(message: HandObjectRois) -> ExternalRois:
    """An external detector's HandObjectRois -> ExternalRois (a zero-size box is "not given": None)."""
    def box(roi: RegionOfInterest) -> Optional[np.ndarray]:
        return box_from_roi(roi) if roi.width > 0 and roi.height > 0 else None

    return ExternalRois(stamp_seconds(message.header.stamp), box(message.hand), box(message.object),
                        object_class=message.object_class, side=message.side)


def wrist_frame(frame_prefix: str, side: str) -> str:
    """TF frame of a hand's wrist: `<prefix><side>_wrist`, e.g. hfl/right_wrist."""
    return joint_frame(frame_prefix, side, JOINT_NAMES[0])


def joint_frame(frame_prefix: str, side: str, joint: str) -> str:
    """TF frame of one hand joint (a JOINT_NAMES entry): `<prefix><side>_<joint>`, e.g. hfl/left_thumb4."""
    return f"{frame_prefix}{side}_{joint}"


def filtered_hand_message(hand: Optional[FilteredHand]) -> FilteredHandMsg:
    """The filtered hand of a frame (None: no filtered hand, valid = false)."""
    if hand is None:
        return FilteredHandMsg(valid=False)
    return FilteredHandMsg(valid=True, gated=bool(hand.gated), reset=hand.reset or "", joints=_points(hand.joints),
                           joints_wrist=_points(hand.joints_wrist),
                           wrist_pose=pose_from_rotation_translation(hand.wrist_pose[:3, :3], hand.wrist_pose[:3, 3]))


def filtered_object_message(obj: Optional[FilteredObject]) -> FilteredObjectMsg:
    """The filtered object pose of a frame (None: no filtered object, valid = false)."""
    if obj is None:
        return FilteredObjectMsg(valid=False)
    return FilteredObjectMsg(valid=True, gated=bool(obj.gated), reset=obj.reset or "",
                             pose=pose_from_rotation_translation(obj.pose[:3, :3], obj.pose[:3, 3]))


def hand_object_message(hand: Optional[HandResult], header: Header, untrained: bool, image_size: Sequence[int],
                        processing_time: float) -> HandObject:
    """The per-hand message: the raw estimate of `hand` (None: no hand found, hand_found = false), its side,
    track ids, box sources, and the filter's output (invalid when the filter is off). image_size: (width,
    height) px; processing_time: s since the frame arrived."""
    filtered = None if hand is None else hand.filtered
    message = HandObject(
        header=copy_header(header), hand_found=hand is not None, passes=0 if hand is None else int(hand.passes),
        hand_box_source="" if hand is None else hand.hand_source,
        object_box_source="" if hand is None else hand.object_source or "",
        hand_filtered=filtered_hand_message(None if filtered is None else filtered.hand),
        object_filtered=filtered_object_message(None if filtered is None else filtered.object),
        untrained=bool(untrained), processing_time=float(processing_time),
    )
    if hand is None:
        return message
    message.side = hand.side
    message.track_id = max(int(hand.track_id), 0)
    message.object_track_id = max(int(hand.object_track_id), 0)
    width, height = image_size
    raw, obj = hand.estimate.hand, hand.estimate.object
    message.hand = HandEstimateMsg(
        side=raw.side, score=float(raw.score), joints=_points(raw.joints), joints_2d=_points_2d(raw.joints_2d),
        wrist_pose=pose_from_rotation_translation(raw.wrist_pose[:3, :3], raw.wrist_pose[:3, 3]),
        mano_pose=np.asarray(raw.mano_pose, dtype=np.float32),
        mano_shape=np.asarray(raw.mano_shape, dtype=np.float32),
        box=roi_from_box(raw.box, width, height),
    )
    message.object = ObjectEstimateMsg(
        name=obj.name, score=float(obj.score), has_pose=obj.has_pose,
        control_points_2d=_points_2d(obj.control_points_2d),
        control_point_scores=np.asarray(obj.control_point_scores, dtype=np.float32),
        inliers=int(obj.inliers), box=roi_from_box(obj.box, width, height),
    )
    if obj.has_pose:
        message.object.pose = pose_from_rotation_translation(obj.rotation, obj.translation)
    message.network_time = float(hand.estimate.timings.get("network", 0.0))
    return message


def hands_message(hands: Sequence[HandResult], header: Header, untrained: bool, image_size: Sequence[int],
                  processing_time: float) -> Hands:
    """Every hand of a frame (primary first; none when no hand was found), each as `hand_object_message`."""
    return Hands(header=copy_header(header),
                 hands=[hand_object_message(hand, header, untrained, image_size, processing_time) for hand in hands])


def object_pose_message(estimate: HandObjectEstimate, header: Header) -> Optional[PoseStamped]:
    """Camera-from-object pose, or None when the estimate has no object pose."""
    obj = estimate.object
    if not obj.has_pose:
        return None
    return PoseStamped(header=copy_header(header), pose=pose_from_rotation_translation(obj.rotation, obj.translation))


def _positions(header: Header, points: np.ndarray) -> PoseArray:
    poses = [Pose(position=point, orientation=Quaternion(w=1.0)) for point in _points(points)]
    return PoseArray(header=header, poses=poses)


def hand_joints_message(estimate: HandObjectEstimate, header: Header) -> PoseArray:
    """The 21 hand joints (JOINT_NAMES order) as positions, m, camera frame; orientations are identity."""
    return _positions(copy_header(header), estimate.hand.joints)


def hand_joints_wrist_message(estimate: HandObjectEstimate, header: Header, frame_prefix: str) -> PoseArray:
    """The 21 hand joints (JOINT_NAMES order = MediaPipe's landmarks) in the wrist frame, m: the frame_id is
    `<prefix><side>_wrist`, the stamp the image's; orientations are identity. For robot-hand retargeters."""
    hand = estimate.hand
    wrist_header = copy_header(header)
    wrist_header.frame_id = wrist_frame(frame_prefix, hand.side)
    return _positions(wrist_header, joints_in_wrist_frame(hand.joints, hand.wrist_pose))


def _transform(header: Header, child: str, rotation: np.ndarray, translation: np.ndarray) -> TransformStamped:
    pose = pose_from_rotation_translation(rotation, translation)
    return TransformStamped(
        header=copy_header(header), child_frame_id=child,
        transform=Transform(translation=Vector3(x=pose.position.x, y=pose.position.y, z=pose.position.z),
                            rotation=pose.orientation),
    )


def object_frame(frame_prefix: str, side: Optional[str] = None) -> str:
    """TF frame of a held object: `<prefix>object` (one hand followed), or `<prefix><side>_object` (the object
    of that hand when both hands are followed, e.g. hfl/left_object)."""
    return frame_prefix + (OBJECT_FRAME if side is None else f"{side}_{OBJECT_FRAME}")


def tf_message(estimate: HandObjectEstimate, header: Header, frame_prefix: str, include_hand: bool = True,
               include_object: bool = True, include_joints: bool = False,
               object_side: Optional[str] = None) -> TFMessage:
    """TF from the image's frame to `<prefix><side>_wrist` (hand) and the object frame (only with an object
    pose; `object_frame(frame_prefix, object_side)`); include_joints adds `<prefix><side>_wrist` ->
    `<prefix><side>_<joint>` for the other 20 joints (translation = the joint in the wrist frame, identity
    rotation)."""
    transforms = []
    hand = estimate.hand
    if include_hand:
        wrist = wrist_frame(frame_prefix, hand.side)
        transforms.append(_transform(header, wrist, hand.wrist_pose[:3, :3], hand.wrist_pose[:3, 3]))
        if include_joints:
            joint_header = Header(stamp=header.stamp, frame_id=wrist)
            joints = joints_in_wrist_frame(hand.joints, hand.wrist_pose)
            transforms.extend(_transform(joint_header, joint_frame(frame_prefix, hand.side, name), np.eye(3), point)
                              for name, point in zip(JOINT_NAMES[1:], joints[1:]))
    obj = estimate.object
    if include_object and obj.has_pose:
        transforms.append(_transform(header, object_frame(frame_prefix, object_side), obj.rotation,
                                     obj.translation))
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


def delete_markers(header: Header, namespace: str = "hfl_ros") -> MarkerArray:
    """DELETE for every marker of `namespace` (a hand that is no longer seen)."""
    return MarkerArray(markers=[_delete(header, namespace, marker_id)
                                for marker_id in (MARKER_HAND_MESH, MARKER_HAND_SKELETON, MARKER_OBJECT_BOX)])


def _pose_record(pose: Pose) -> dict:
    p, q = pose.position, pose.orientation
    return {"position": [p.x, p.y, p.z], "orientation_xyzw": [q.x, q.y, q.z, q.w]}


def _roi_record(roi: RegionOfInterest) -> List[int]:
    return [roi.x_offset, roi.y_offset, roi.x_offset + roi.width, roi.y_offset + roi.height]


def _xyz(points: Iterable[Point]) -> List[List[float]]:
    return [[p.x, p.y, p.z] for p in points]


def _filtered_record(message, **values: object) -> Optional[dict]:
    """gated, reset and `values` of a FilteredHand / FilteredObject message; None when it is not valid."""
    return {"gated": bool(message.gated), "reset": message.reset or None, **values} if message.valid else None


def hand_object_record(message: HandObject) -> dict:
    """A HandObject message as plain JSON-ready data (metres, pixels, seconds; boxes [x1, y1, x2, y2]).
    `hand` and `object` are None when no hand was found; their `filtered` None when the filter gave none."""
    record = {
        "stamp": stamp_seconds(message.header.stamp),
        "frame_id": message.header.frame_id,
        "untrained": bool(message.untrained),
        "hand_found": bool(message.hand_found),
        "passes": int(message.passes),
        "side": message.side,
        "track_id": int(message.track_id),
        "object_track_id": int(message.object_track_id),
        "network_time": float(message.network_time),
        "processing_time": float(message.processing_time),
        "hand": None,
        "object": None,
    }
    if not message.hand_found:
        return record
    hand, obj = message.hand, message.object
    hand_filtered, object_filtered = message.hand_filtered, message.object_filtered
    record.update({
        "hand": {
            "side": hand.side, "score": float(hand.score),
            "joints": _xyz(hand.joints),
            "joints_2d": [[p.x, p.y] for p in hand.joints_2d],
            "wrist_pose": _pose_record(hand.wrist_pose),
            "mano_pose": [float(v) for v in hand.mano_pose], "mano_shape": [float(v) for v in hand.mano_shape],
            "box": _roi_record(hand.box), "box_source": message.hand_box_source,
            "filtered": _filtered_record(hand_filtered, joints=_xyz(hand_filtered.joints),
                                         joints_wrist=_xyz(hand_filtered.joints_wrist),
                                         wrist_pose=_pose_record(hand_filtered.wrist_pose)),
        },
        "object": {
            "name": obj.name, "score": float(obj.score), "has_pose": bool(obj.has_pose),
            "pose": _pose_record(obj.pose) if obj.has_pose else None,
            "control_points_2d": [[p.x, p.y] for p in obj.control_points_2d],
            "inliers": int(obj.inliers), "box": _roi_record(obj.box), "box_source": message.object_box_source,
            "filtered": _filtered_record(object_filtered, pose=_pose_record(object_filtered.pose)),
        },
    })
    return record
