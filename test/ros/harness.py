"""Test machinery for the ROS integration tests: a recorder of every output of a perception node.

The node processes themselves are started with the demo's helpers (hfl_ros.ros.demo), the camera messages
built with the node's conversions (hfl_ros.ros.conversions).
"""

import threading
import time
from collections import defaultdict
from typing import Callable, Dict, List, Optional, Tuple

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
    "markers": MarkerArray,
    "debug_image": Image,
}


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
        node.create_subscription(TFMessage, "/tf", self._callback("tf"), QoSProfile(depth=100))
        node.create_subscription(DiagnosticArray, "/diagnostics", self._callback("diagnostics"), 10)

    def _callback(self, topic: str) -> Callable[[object], None]:
        def record(message: object) -> None:
            with self._condition:
                self._messages[topic].append((time.time(), message))
                self._condition.notify_all()

        return record

    def messages(self, topic: str) -> List[object]:
        with self._lock:
            return [message for _, message in self._messages[topic]]

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
