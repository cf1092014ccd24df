"""The node's outputs as an MCAP bag (`hfl-video --mcap`): `ros2 bag play` replays them as if the node ran live.

How the messages are made: by the node's own conversions (`hfl_ros.ros.conversions`, rclpy message objects)
and serialized by rclpy itself (`rclpy.serialization`, CDR); `rosbags` (the `bags` extra) only writes the
MCAP file, with each topic's message definition and type hash from its typestore (ROS 2 Jazzy's standard
types built in, ours and any other package's registered from the installed `share/<package>/msg/*.msg`, the
definitions the generated classes were built from). So there is one conversion path, the node's, and the bag
holds the very bytes the node would publish. It needs the ROS environment (`source .venv/ros_env.sh`), like
every module of `hfl_ros.ros`; reading the bag back needs only rosbags.

Every message is logged at its header stamp (the image's), so playback keeps the camera's timing.

`frame_messages` is what the node publishes for one frame (`perception_node._publish`, every output on, the
markers included, no debug image): `hand_object`, then for the primary hand, each part only when it passed
the quality gate, `object_pose`, `hand_joints`, `hand_joints_wrist`, `/tf`, `markers`; with vision_msgs
installed `detections_3d` and `detections_2d`. Relative topics are placed under `namespace` as the node's
are (default: none, `/hand_object`).
"""

import dataclasses
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

import numpy as np
from rclpy.serialization import serialize_message
from std_msgs.msg import Header

from hfl_ros.geometry.object_pose import ObjectPoseSettings
from hfl_ros.inference.frames import InputError
from hfl_ros.objects import ObjectModel
from hfl_ros.perception import FrameResult
from hfl_ros.ros import conversions
from hfl_ros.ros.parameters import NodeSettings

try:  # built by scripts/setup_ros.sh from ../shared/vision_msgs; without it no detections (as in the node)
    from hfl_ros.ros import vision
except ImportError:
    vision = None

try:
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore
except ImportError:  # the optional `bags` extra
    Writer = None

#: The typestore that holds the standard message types (std, geometry, sensor, visualization, tf2 msgs).
TYPESTORE = "ros2_jazzy"
#: The bag file written into the output folder.
OUTPUT_BAG = "outputs.mcap"
_NODE_DEFAULTS = {row.name: row.default for row in dataclasses.fields(NodeSettings)}


@dataclass(frozen=True)
class RecordingSettings:
    """The node parameters that shape its messages (defaults: the node's): TF frame prefix, per-joint TF,
    marker lifetime s."""

    frame_prefix: str = _NODE_DEFAULTS["frame_prefix"]
    publish_joint_tf: bool = _NODE_DEFAULTS["publish_joint_tf"]
    marker_lifetime: float = _NODE_DEFAULTS["marker_lifetime"]


def ros_type_name(message: Any) -> str:
    """`package/msg/Type` of a generated rclpy message object (its module is `package.msg._type`)."""
    cls = type(message)
    package = cls.__module__.split(".")[0]
    return f"{package}/msg/{cls.__name__}"


def _share_directories() -> list:
    prefixes = [Path(prefix) for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if prefix]
    return [prefix / "share" for prefix in prefixes]


class OutputBag:
    """An MCAP bag being written: `write(topic, message, stamp_ns)` for rclpy messages; `close()` finishes it.

    The bag is written as a rosbag2 folder beside `path` and moved to the single file `path` when closed
    (`ros2 bag play path` and rosbags read it as it is). Use as a context manager.
    """

    def __init__(self, path: Path) -> None:
        if Writer is None:
            raise InputError(f"{path}: writing an MCAP bag needs the `bags` extra (pip install 'hfl_ros[bags]')")
        self.path = Path(path)
        if self.path.exists():
            raise InputError(f"{self.path} exists already; the bag is not appended to")
        self._folder = self.path.with_name(self.path.name + ".writing")
        if self._folder.exists():
            shutil.rmtree(self._folder)
        self._store = get_typestore(Stores(TYPESTORE))
        self._packages: Set[str] = set()
        self._writer = Writer(self._folder, version=Writer.VERSION_LATEST, storage_plugin=StoragePlugin.MCAP)
        self._writer.open()
        self._connections: Dict[tuple, Any] = {}
        self.messages = 0

    def _register_package(self, msgtype: str) -> None:
        """Register every message of msgtype's package from its installed .msg files (needed once)."""
        package = msgtype.split("/")[0]
        if package in self._packages:
            return
        for share in _share_directories():
            folder = share / package / "msg"
            if folder.is_dir():
                types: Dict[str, Any] = {}
                for definition in sorted(folder.glob("*.msg")):
                    types.update(get_types_from_msg(definition.read_text(), f"{package}/msg/{definition.stem}"))
                self._store.register(types)
                self._packages.add(package)
                return
        raise InputError(f"no message definitions for {msgtype}: share/{package}/msg not found under "
                         f"AMENT_PREFIX_PATH ({os.environ.get('AMENT_PREFIX_PATH', '')!r})")

    def write(self, topic: str, message: Any, stamp_ns: int) -> None:
        """Log an rclpy `message` on `topic` at `stamp_ns` (ns)."""
        msgtype = ros_type_name(message)
        key = (topic, msgtype)
        connection = self._connections.get(key)
        if connection is None:
            if msgtype not in self._store.fielddefs:
                self._register_package(msgtype)
            connection = self._writer.add_connection(topic, msgtype, typestore=self._store)
            self._connections[key] = connection
        self._writer.write(connection, int(stamp_ns), serialize_message(message))
        self.messages += 1

    def close(self) -> Optional[Path]:
        """Finish the bag and move its MCAP file to `path`; returns it (None when nothing was written)."""
        if self._writer is None:
            return self.path if self.path.exists() else None
        self._writer.close()
        self._writer = None
        written = next(self._folder.glob("*.mcap"), None)
        if written is not None and self.messages:
            shutil.move(str(written), str(self.path))
        shutil.rmtree(self._folder, ignore_errors=True)
        return self.path if self.path.exists() else None

    def __enter__(self) -> "OutputBag":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def frame_messages(result: FrameResult, header: Header, K: np.ndarray, image_size: Sequence[int], untrained: bool,
                   models: Callable[[str], ObjectModel], processing_time: float = 0.0,
                   settings: RecordingSettings = RecordingSettings(),
                   pose_settings: ObjectPoseSettings = ObjectPoseSettings()) -> List[Tuple[str, Any]]:
    """(topic, message) of everything the node publishes for `result` (module docstring), in its order.

    header: the image's (stamp, camera frame_id); K: (3, 3) px intrinsics; image_size: (width, height) px;
    models: registry name -> ObjectModel (the object box of the markers, the detections' 3D box);
    processing_time: s from reading the frame to its messages."""
    hand = result.hand
    messages: List[Tuple[str, Any]] = [
        ("hand_object", conversions.hand_object_message(hand, header, untrained, image_size, processing_time))]
    if hand is not None:
        estimate, hand_ok, object_ok = hand.output, hand.hand_shown, hand.object_shown
        if object_ok:
            messages.append(("object_pose", conversions.object_pose_message(estimate, header)))
        if hand_ok:
            messages.append(("hand_joints", conversions.hand_joints_message(estimate, header)))
            messages.append(("hand_joints_wrist", conversions.hand_joints_wrist_message(
                estimate, header, settings.frame_prefix)))
        if hand_ok or object_ok:
            messages.append(("/tf", conversions.tf_message(estimate, header, settings.frame_prefix, hand_ok, object_ok,
                                                           include_joints=settings.publish_joint_tf)))
        messages.append(("markers", conversions.marker_array(
            estimate, header, models(hand.object_name).control_points, lifetime=settings.marker_lifetime,
            include_hand=hand_ok, include_object=object_ok)))
    if vision is not None:
        messages.append(("detections_3d", vision.detection_3d_array(header, result.hands, models, K, pose_settings)))
        messages.append(("detections_2d", vision.detection_2d_array(header, result.hands)))
    return messages


def topic_name(topic: str, namespace: str = "") -> str:
    """A node's topic as recorded: absolute names as they are, relative ones under `namespace`."""
    if topic.startswith("/"):
        return topic
    namespace = namespace.strip("/")
    return f"/{namespace}/{topic}" if namespace else f"/{topic}"


class FrameRecorder:
    """`hfl-video --mcap`: the node's messages of every frame into an OutputBag (`frame_messages`)."""

    def __init__(self, path: Path, models: Callable[[str], ObjectModel], untrained: bool,
                 pose_settings: ObjectPoseSettings = ObjectPoseSettings(), namespace: str = "",
                 settings: RecordingSettings = RecordingSettings()) -> None:
        self.bag = OutputBag(path)
        self._models, self._untrained, self._pose_settings = models, untrained, pose_settings
        self._namespace, self._settings = namespace, settings

    def write(self, result: FrameResult, stamp_ns: int, frame_id: str, K: np.ndarray, image_size: Sequence[int],
              processing_time: float = 0.0) -> None:
        """The messages of one frame, stamped `stamp_ns` (ns, the image's) in camera frame `frame_id`."""
        header = Header(stamp=conversions.stamp_from_seconds(0.0), frame_id=frame_id)
        header.stamp.sec, header.stamp.nanosec = divmod(int(stamp_ns), 1_000_000_000)
        for topic, message in frame_messages(result, header, K, image_size, self._untrained, self._models,
                                             processing_time, self._settings, self._pose_settings):
            self.bag.write(topic_name(topic, self._namespace), message, stamp_ns)

    def close(self) -> Optional[Path]:
        return self.bag.close()
