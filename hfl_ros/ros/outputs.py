"""What the perception node publishes for one frame, as (topic, message) pairs: the one place that decides
which outputs a `FrameResult` gives. The node publishes them (`perception_node`) and `hfl-video --mcap`
records them (`hfl_ros.ros.recording`), so the bag holds what the node would have sent.

For a processed frame, in order: `hand_object` (the primary hand, or hand_found = false), `hands` (every
hand), then for the primary hand, each part only when it passed the quality gate, `object_pose`,
`hand_joints`, `hand_joints_wrist`; with max_hands 2 every shown hand on `<side>/hand_joints` and
`<side>/hand_joints_wrist`; one `/tf` with every shown hand's wrist (`<prefix><side>_wrist`) and object
(`<prefix>object`, with max_hands 2 `<prefix><side>_object`: an object held in both hands is one object,
under both names with one pose, hfl_ros.perception.pipeline); `markers` (max_hands 1: the primary hand in namespace hfl_ros;
max_hands 2: one array per side in hfl_ros/<side>, DELETE for an absent side); with vision_msgs installed
`detections_3d` and `detections_2d`. The debug image is the node's alone (an overlay drawn only while
subscribed). Topic names are relative to the node's namespace except `/tf`.
"""

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Dict, FrozenSet, List, Optional, Sequence, Tuple

import numpy as np
from geometry_msgs.msg import PoseArray, PoseStamped
from std_msgs.msg import Header
from visualization_msgs.msg import MarkerArray

from hfl_ros.constants import SIDES
from hfl_ros.geometry.object_pose import ObjectPoseSettings
from hfl_ros.msg import HandObject, Hands
from hfl_ros.objects import ObjectModel
from hfl_ros.perception import FrameResult
from hfl_ros.ros import conversions
from hfl_ros.ros.parameters import NodeSettings
from tf2_msgs.msg import TFMessage

try:  # built by scripts/setup_ros.sh from ../shared/vision_msgs; without it no detections_3d / detections_2d
    from vision_msgs.msg import Detection2DArray, Detection3DArray

    from hfl_ros.ros import vision
except ImportError:
    vision = None

HAND_OBJECT = "hand_object"
HANDS = "hands"
OBJECT_POSE = "object_pose"
HAND_JOINTS = "hand_joints"
HAND_JOINTS_WRIST = "hand_joints_wrist"
TF = "/tf"
MARKERS = "markers"
DETECTIONS_3D = "detections_3d"
DETECTIONS_2D = "detections_2d"
#: Marker namespace (max_hands 2: one per side, <namespace>/<side>).
MARKER_NAMESPACE = "hfl_ros"

_NODE_DEFAULTS = {row.name: row.default for row in dataclasses.fields(NodeSettings)}


def side_topic(side: str, topic: str) -> str:
    """A per-side topic of max_hands 2, e.g. `left/hand_joints`."""
    return f"{side}/{topic}"


def topic_types(max_hands: int) -> Dict[str, type]:
    """Every topic `frame_messages` may give for `max_hands` (1 or 2) -> its message type."""
    types: Dict[str, type] = {HAND_OBJECT: HandObject, HANDS: Hands, OBJECT_POSE: PoseStamped,
                              HAND_JOINTS: PoseArray, HAND_JOINTS_WRIST: PoseArray, TF: TFMessage,
                              MARKERS: MarkerArray}
    if max_hands == 2:
        for side in SIDES:
            types[side_topic(side, HAND_JOINTS)] = PoseArray
            types[side_topic(side, HAND_JOINTS_WRIST)] = PoseArray
    if vision is not None:
        types[DETECTIONS_3D], types[DETECTIONS_2D] = Detection3DArray, Detection2DArray
    return types


@dataclass(frozen=True)
class OutputSettings:
    """The node parameters that choose and shape its messages (defaults: the node's).

    frame_prefix: TF frame prefix; publish_joint_tf: per-joint TF; marker_lifetime: s; max_hands: 1 or 2;
    topics: the topics published (None: every one of `topic_types(max_hands)`)."""

    frame_prefix: str = _NODE_DEFAULTS["frame_prefix"]
    publish_joint_tf: bool = _NODE_DEFAULTS["publish_joint_tf"]
    marker_lifetime: float = _NODE_DEFAULTS["marker_lifetime"]
    max_hands: int = _NODE_DEFAULTS["max_hands"]
    topics: Optional[FrozenSet[str]] = None

    def __post_init__(self) -> None:
        if self.max_hands not in (1, 2):
            raise ValueError(f"max_hands must be 1 or 2, got {self.max_hands!r}")

    @classmethod
    def from_node(cls, settings: NodeSettings) -> "OutputSettings":
        """The node's outputs: its publish_* parameters choose the topics."""
        chosen = {HAND_OBJECT: settings.publish_hand_object, HANDS: settings.publish_hands,
                  OBJECT_POSE: settings.publish_object_pose, HAND_JOINTS: settings.publish_hand_joints,
                  HAND_JOINTS_WRIST: settings.publish_hand_joints_wrist, TF: settings.publish_tf,
                  MARKERS: settings.publish_markers}
        for side in SIDES:
            chosen[side_topic(side, HAND_JOINTS)] = settings.publish_hand_joints
            chosen[side_topic(side, HAND_JOINTS_WRIST)] = settings.publish_hand_joints_wrist
        topics = frozenset(topic for topic in topic_types(settings.max_hands) if chosen.get(topic, True))
        return cls(settings.frame_prefix, settings.publish_joint_tf, settings.marker_lifetime, settings.max_hands,
                   topics)

    def publishes(self, topic: str) -> bool:
        return topic in (self.topics if self.topics is not None else topic_types(self.max_hands))


def frame_messages(result: FrameResult, header: Header, K: np.ndarray, image_size: Sequence[int], untrained: bool,
                   models: Callable[[str], ObjectModel], processing_time: float = 0.0,
                   settings: OutputSettings = OutputSettings(),
                   pose_settings: ObjectPoseSettings = ObjectPoseSettings(),
                   markers: bool = True) -> List[Tuple[str, Any]]:
    """(topic, message) of everything the node publishes for the processed frame `result` (module
    docstring), in its order; only topics `settings` publishes.

    header: the image's (stamp, camera frame_id); K: (3, 3) px intrinsics; image_size: (width, height) px;
    models: registry name -> ObjectModel (the object box of the markers, the detections' 3D box);
    processing_time: s from reading the frame to its messages; markers: build the markers (the node: only
    while `markers` has a subscriber; the hand mesh is 4614 points to build)."""
    wanted = settings.publishes
    both = settings.max_hands == 2
    primary = result.hand
    messages: List[Tuple[str, Any]] = []
    if wanted(HAND_OBJECT):
        messages.append((HAND_OBJECT, conversions.hand_object_message(primary, header, untrained, image_size,
                                                                      processing_time)))
    if wanted(HANDS):
        messages.append((HANDS, conversions.hands_message(result.hands, header, untrained, image_size,
                                                          processing_time)))
    if primary is not None:
        estimate = primary.output
        if wanted(OBJECT_POSE) and primary.object_shown:
            messages.append((OBJECT_POSE, conversions.object_pose_message(estimate, header)))
        if wanted(HAND_JOINTS) and primary.hand_shown:
            messages.append((HAND_JOINTS, conversions.hand_joints_message(estimate, header)))
        if wanted(HAND_JOINTS_WRIST) and primary.hand_shown:
            messages.append((HAND_JOINTS_WRIST, conversions.hand_joints_wrist_message(
                estimate, header, settings.frame_prefix)))
    transforms = []
    for hand in result.hands:
        estimate, side = hand.output, hand.side
        if both and hand.hand_shown:
            if wanted(side_topic(side, HAND_JOINTS)):
                messages.append((side_topic(side, HAND_JOINTS), conversions.hand_joints_message(estimate, header)))
            if wanted(side_topic(side, HAND_JOINTS_WRIST)):
                messages.append((side_topic(side, HAND_JOINTS_WRIST), conversions.hand_joints_wrist_message(
                    estimate, header, settings.frame_prefix)))
        transforms.extend(conversions.tf_message(
            estimate, header, settings.frame_prefix, hand.hand_shown, hand.object_shown,
            include_joints=settings.publish_joint_tf, object_side=side if both else None).transforms)
    if wanted(TF) and transforms:
        messages.append((TF, TFMessage(transforms=transforms)))
    if markers and wanted(MARKERS):
        if not both:
            if primary is not None:
                messages.append((MARKERS, conversions.marker_array(
                    primary.output, header, models(primary.object_name).control_points,
                    namespace=MARKER_NAMESPACE, lifetime=settings.marker_lifetime,
                    include_hand=primary.hand_shown, include_object=primary.object_shown)))
        else:
            for side in SIDES:
                hand, namespace = result.side(side), f"{MARKER_NAMESPACE}/{side}"
                messages.append((MARKERS, conversions.delete_markers(header, namespace) if hand is None else
                                 conversions.marker_array(
                                     hand.output, header, models(hand.object_name).control_points,
                                     namespace=namespace, lifetime=settings.marker_lifetime,
                                     include_hand=hand.hand_shown, include_object=hand.object_shown)))
    if vision is not None and wanted(DETECTIONS_3D):
        messages.append((DETECTIONS_3D, vision.detection_3d_array(header, result.hands, models, K, pose_settings)))
    if vision is not None and wanted(DETECTIONS_2D):
        messages.append((DETECTIONS_2D, vision.detection_2d_array(header, result.hands)))
    return messages
