"""The node's outputs as an MCAP bag (`hfl-video --mcap`): `ros2 bag play` replays them as if the node ran live.

How the messages are made: by the node's own conversions (`hfl_ros.ros.conversions`, rclpy message objects)
and serialized by rclpy itself (`rclpy.serialization`, CDR); `rosbags` (the `bags` extra) only writes the
MCAP file, with each topic's message definition and type hash from its typestore (ROS 2 Jazzy's standard
types built in, ours and any other package's registered from the installed `share/<package>/msg/*.msg`, the
definitions the generated classes were built from). So there is one conversion path, the node's, and the bag
holds the very bytes the node would publish. It needs the ROS environment (`source .venv/ros_env.sh`), like
every module of `hfl_ros.ros`; reading the bag back needs only rosbags.

Every message is logged at its header stamp (the image's), so playback keeps the camera's timing.

What a frame gives is `hfl_ros.ros.outputs.frame_messages`, the function the node publishes with (every
output on, the markers included, no debug image; `OutputSettings.max_hands` 2 adds the per-side topics and
TF frames as in the node). Relative topics are placed under `namespace` as the node's are (default: none,
`/hand_object`).
"""

import os
import shutil
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Sequence, Set

import numpy as np
from rclpy.serialization import serialize_message
from std_msgs.msg import Header

from hfl_ros.geometry.object_pose import ObjectPoseSettings
from hfl_ros.inference.frames import InputError
from hfl_ros.objects import ObjectModel
from hfl_ros.perception import FrameResult
from hfl_ros.ros import conversions
from hfl_ros.ros.outputs import OutputSettings, frame_messages

try:
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore
except ImportError:  # the optional `bags` extra
    Writer = None

#: The typestore that holds the standard message types (std, geometry, sensor, visualization, tf2 msgs).
TYPESTORE = "ros2_jazzy"
#: The bag file written into the output folder.
OUTPUT_BAG = "outputs.mcap"


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


def topic_name(topic: str, namespace: str = "") -> str:
    """A node's topic as recorded: absolute names as they are, relative ones under `namespace`."""
    if topic.startswith("/"):
        return topic
    namespace = namespace.strip("/")
    return f"/{namespace}/{topic}" if namespace else f"/{topic}"


class FrameRecorder:
    """`hfl-video --mcap`: the node's messages of every frame into an OutputBag (`frame_messages` with
    `settings`: hfl-video gives the node's defaults with the run's max_hands)."""

    def __init__(self, path: Path, models: Callable[[str], ObjectModel], untrained: bool,
                 pose_settings: ObjectPoseSettings = ObjectPoseSettings(), namespace: str = "",
                 settings: OutputSettings = OutputSettings()) -> None:
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
