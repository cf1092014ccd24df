"""Driving the perception node from outside: an isolated ROS environment, the node as a child process,
camera message builders, and a recorder of every output. Used by the integration tests, the latency
benchmark and the demo.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseArray, PoseStamped
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header
from visualization_msgs.msg import MarkerArray

from hfl_ros.msg import HandObject
from hfl_ros.ros.image_conversion import rgb_to_image
from hfl_ros.ros.parameters import package_config_file
from tf2_msgs.msg import TFMessage

REPO_ROOT = Path(__file__).resolve().parents[2]

#: Output topics of the node (relative to its namespace) and their types, as recorded.
OUTPUT_TOPICS: Dict[str, type] = {
    "hand_object": HandObject,
    "object_pose": PoseStamped,
    "hand_joints": PoseArray,
    "markers": MarkerArray,
    "debug_image": Image,
}


def isolated_environment(domain_id: int, base: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """Environment for ROS processes on DDS domain `domain_id`, discovering peers on this host only,
    with the package's Fast DDS profile (large shared-memory segments) and this checkout importable."""
    if not 0 <= domain_id <= 101:
        raise ValueError(f"domain_id must be in [0, 101], got {domain_id}")
    env = dict(os.environ if base is None else base)
    env["ROS_DOMAIN_ID"] = str(domain_id)
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
    profile = package_config_file("fastdds_profile.xml")
    if profile.is_file():
        env["FASTRTPS_DEFAULT_PROFILES_FILE"] = str(profile)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if (REPO_ROOT / "hfl_ros").is_dir() and str(REPO_ROOT) not in paths:
        env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT)] + paths)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start_process(target: str, ros_arguments: Sequence[str], env: Mapping[str, str],
                  log_path: Path) -> subprocess.Popen:
    """`python -m <target> --ros-args <ros_arguments>` (or `python <target>` for a .py file) as a child
    process logging to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    entry = [target] if target.endswith(".py") else ["-m", target]
    command = [sys.executable, *entry, "--ros-args", *ros_arguments]
    with open(log_path, "wb") as log:  # the child keeps its own descriptor
        return subprocess.Popen(command, env=dict(env), stdout=log, stderr=subprocess.STDOUT, cwd=str(REPO_ROOT))


def stop_process(process: subprocess.Popen, timeout: float = 10.0) -> int:
    """SIGINT (a clean rclpy shutdown), then SIGKILL after `timeout` s; returns the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
    return process.returncode


def node_parameters(parameters: Mapping[str, object]) -> List[str]:
    """ROS arguments `-p name:=value` for each parameter. Values are YAML: strings are single-quoted so
    that "", "true" or "025" stay strings (ROS parameters are typed)."""
    arguments = []
    for name, value in parameters.items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, str):
            text = "'" + value.replace("'", "''") + "'"
        else:
            text = str(value)
        arguments += ["-p", f"{name}:={text}"]
    return arguments


def stamp(seconds: float) -> Time:
    """Seconds -> builtin_interfaces/Time."""
    sec = int(np.floor(seconds))
    return Time(sec=sec, nanosec=int(round((seconds - sec) * 1e9)) % 1_000_000_000)


def image_message(rgb: np.ndarray, header: Header) -> Image:
    """(H, W, 3) uint8 RGB -> rgb8 sensor_msgs/Image with `header`."""
    fields = rgb_to_image(rgb)
    return Image(header=header, encoding=fields.encoding, height=fields.height, width=fields.width,
                 step=fields.step, data=fields.data)


def camera_info_message(K: np.ndarray, width: int, height: int, header: Header) -> CameraInfo:
    """A distortion-free CameraInfo with intrinsics K (3, 3) px for a width x height image."""
    K = np.asarray(K, dtype=np.float64)
    P = np.zeros((3, 4))
    P[:, :3] = K
    return CameraInfo(header=header, width=int(width), height=int(height), distortion_model="plumb_bob",
                      d=[0.0] * 5, k=K.reshape(-1).tolist(), r=np.eye(3).reshape(-1).tolist(),
                      p=P.reshape(-1).tolist())


class OutputRecorder:
    """Subscribes to every output of a perception node (its namespace `namespace`), /tf and /diagnostics,
    and keeps (receive time.time(), message) per topic (wall clock: comparable with header stamps made on
    this machine). Thread-safe; spin its `node` elsewhere.

    debug_image is subscribed only with record_debug_image (the node renders it only while subscribed).
    """

    def __init__(self, node: Node, namespace: str = "", record_debug_image: bool = True,
                 on_message: Optional[Callable[[str, object], None]] = None) -> None:
        self.node = node
        self._lock = threading.Lock()
        self._condition = threading.Condition(self._lock)
        self._messages: Dict[str, List[Tuple[float, object]]] = defaultdict(list)
        self._on_message = on_message
        reliable = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        prefix = namespace.rstrip("/") + "/" if namespace else ""
        for topic, msg_type in OUTPUT_TOPICS.items():
            if topic == "debug_image" and not record_debug_image:
                continue
            node.create_subscription(msg_type, prefix + topic, self._callback(topic), reliable)
        node.create_subscription(TFMessage, "/tf", self._callback("tf"), QoSProfile(depth=100))
        node.create_subscription(DiagnosticArray, "/diagnostics", self._callback("diagnostics"), 10)

    def _callback(self, topic: str) -> Callable[[object], None]:
        def record(message: object) -> None:
            with self._condition:
                self._messages[topic].append((time.time(), message))
                self._condition.notify_all()
            if self._on_message is not None:
                self._on_message(topic, message)

        return record

    def messages(self, topic: str) -> List[object]:
        with self._lock:
            return [message for _, message in self._messages[topic]]

    def timed(self, topic: str) -> List[Tuple[float, object]]:
        with self._lock:
            return list(self._messages[topic])

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()

    def wait_for(self, predicate: Callable[["OutputRecorder"], bool], timeout: float) -> bool:
        """Wait until predicate(self) holds (re-checked on each message); False on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate(self):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with self._condition:
                self._condition.wait(min(remaining, 0.1))

    def latest_diagnostics(self, name_contains: str = "hfl_ros") -> Optional[Dict[str, str]]:
        """Key -> value (plus "level" and "message") of the newest hfl_ros DiagnosticStatus, or None."""
        for message in reversed(self.messages("diagnostics")):
            for status in message.status:
                if name_contains in status.name:
                    values = {kv.key: kv.value for kv in status.values}
                    values["level"] = str(status.level[0] if isinstance(status.level, bytes) else status.level)
                    values["message"] = status.message
                    return values
        return None
