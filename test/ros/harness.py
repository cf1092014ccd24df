"""Test machinery for the ROS integration tests: a recorder of every output of a perception node, and
`ros2 launch` run as a user runs it.

Single node processes are started with the demo's helpers (hfl_ros.ros.demo), camera messages built with
the node's conversions (hfl_ros.ros.conversions).
"""

import os
import signal
import subprocess
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Tuple

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseArray, PoseStamped
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from visualization_msgs.msg import MarkerArray

from hfl_ros.msg import HandObject
from hfl_ros.ros.diagnostics import status_values
from tf2_msgs.msg import TFMessage

#: Output topics of the node (relative to its namespace) and their types, as recorded.
OUTPUT_TOPICS: Dict[str, type] = {
    "hand_object": HandObject,
    "object_pose": PoseStamped,
    "hand_joints": PoseArray,
    "hand_joints_wrist": PoseArray,
    "markers": MarkerArray,
    "debug_image": Image,
}
#: What a ros2 CLI command prints when its discovery has not seen the node yet, and how often to ask.
NODE_NOT_DISCOVERED = "Node not found"
DISCOVERY_ATTEMPTS = 3


class OutputRecorder:
    """Subscribes to every output of a perception node (its namespace `namespace`), /tf and /diagnostics,
    and keeps (receive time.time(), message) per topic (wall clock: comparable with header stamps made on
    this machine). Thread-safe; spin its `node` elsewhere.
    """

    def __init__(self, node: Node, namespace: str = "") -> None:
        self.node = node
        self._lock = threading.Lock()
        self._condition = threading.Condition(self._lock)
        self._messages: Dict[str, List[Tuple[float, object]]] = defaultdict(list)
        reliable = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        prefix = namespace.rstrip("/") + "/" if namespace else ""
        for topic, msg_type in OUTPUT_TOPICS.items():
            node.create_subscription(msg_type, prefix + topic, self._callback(topic), reliable)
        self.record(TFMessage, "/tf", "tf", QoSProfile(depth=100))
        self.record(DiagnosticArray, "/diagnostics", "diagnostics", 10)

    def record(self, msg_type: type, topic: str, key: str, qos) -> None:
        """Also record `topic` (absolute or relative to the node) under `key`."""
        self.node.create_subscription(msg_type, topic, self._callback(key), qos)

    def _callback(self, topic: str) -> Callable[[object], None]:
        def record(message: object) -> None:
            with self._condition:
                self._messages[topic].append((time.time(), message))
                self._condition.notify_all()

        return record

    def messages(self, topic: str) -> List[object]:
        with self._lock:
            return [message for _, message in self._messages[topic]]

    def timed(self, topic: str) -> List[Tuple[float, object]]:
        """(receive time.time(), message) of each message on `topic`."""
        with self._lock:
            return list(self._messages[topic])

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
        """Key -> value (plus "level" and "message") of the newest matching DiagnosticStatus, or None."""
        return status_values(self.messages("diagnostics"), name_contains)


class LaunchedSystem:
    """`ros2 launch hfl_ros perception.launch.py name:=value ...` as a user runs it in a terminal: in a
    process group of its own (Ctrl-C = SIGINT to the group), its output in `log_path`. `ros2(...)` runs the
    ros2 CLI in the same environment (the same DDS domain)."""

    def __init__(self, arguments: Mapping[str, str], env: Mapping[str, str], log_path: Path) -> None:
        self.env = dict(env)
        self.log_path = log_path
        self.interrupted_at: Optional[int] = None  # log size when SIGINT was sent
        command = ["ros2", "launch", "hfl_ros", "perception.launch.py",
                   *(f"{name}:={value}" for name, value in arguments.items())]
        with open(log_path, "wb") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def ros2(self, *arguments: str, timeout: float = 90.0) -> subprocess.CompletedProcess:
        """`ros2 <arguments>`; stdout and stderr as text. Without a daemon each call discovers the graph anew,
        which on a loaded machine can take longer than its --spin-time: a call that did not find the node
        yet is repeated (DISCOVERY_ATTEMPTS in all)."""
        for _ in range(DISCOVERY_ATTEMPTS):
            completed = subprocess.run(["ros2", *arguments], env=self.env, capture_output=True, text=True,
                                       timeout=timeout)
            if completed.returncode == 0 or NODE_NOT_DISCOVERED not in completed.stderr:
                break
        return completed

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def running(self) -> bool:
        return self.process.poll() is None

    def group_alive(self) -> bool:
        """True while any process of the launch's process group (ros2 launch and the nodes) exists."""
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def interrupt(self, timeout: float) -> Optional[int]:
        """Ctrl-C: SIGINT to the process group; the exit code of `ros2 launch`, None if it still runs after
        `timeout` s."""
        self.interrupted_at = self.log_path.stat().st_size
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def close(self) -> None:
        """Interrupt, then kill whatever of the group is left."""
        if self.running():
            self.interrupt(20.0)
        if self.group_alive():
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10.0)
