"""`ros2 launch hfl_ros perception.launch.py` and the ros2 CLI, driven as a user drives them, against the
real nodes over real DDS (Fast DDS, this host only, a DDS domain per launched system).

One launched system (module-scoped, started again only if a test stopped it) serves most checks: the
synthetic camera and the perception node with a CI-sized checkpoint, every per-camera launch argument
set to a value other than its default. A second launch gives a MANO directory that does not exist. A third
replays a bag as `ros2 bag play --clock` does (the test publishes /clock and the stamped frames) into a launch
with use_sim_time:=true, log_level:=warn, the default namespace and RViz. A fourth runs max_hands:=2 on the
synthetic camera's two-hand frames (synthetic_hands:=2). The launch arguments are checked on the running node
(`ros2 param get`, `ros2 node info`, its log), not in the file.

The CI-sized network has random weights except its object decoder, which always puts the control points of
the launched object (025_mug) at one place in the object box: PnP then finds a pose in every frame, so the
object's outputs (object_pose, TF, detections_3d) are there to compare.

`ros2 launch` and the CLI are not on PyPI: scripts/setup_ros.sh installs them from ../shared/ros2_launch;
without that folder these tests are skipped. RViz is not installable here either: a stand-in `rviz2`
package (found through the ament index like the real one) records the command line launch gives it.
"""

import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import numpy as np
import pytest
import torch
import yaml

rclpy = pytest.importorskip("rclpy", exc_type=ImportError,
                            reason="rclpy is not importable: run scripts/setup_ros.sh (ROS 2 Jazzy wheels)")
if shutil.which("ros2") is None:
    pytest.skip("`ros2 launch` and the ros2 CLI are not installed: scripts/setup_ros.sh installs them from "
                "../shared/ros2_launch, which this checkout lacks", allow_module_level=True)

from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.expand_topic_name import expand_topic_name  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from rclpy.signals import SignalHandlerOptions  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from hfl_ros.config import ModelConfig  # noqa: E402
from hfl_ros.constants import OBJECT_OFFSET_SCALE, ROI_SIZE  # noqa: E402
from hfl_ros.evaluation.tracking_scenes import render_sequence  # noqa: E402
from hfl_ros.geometry.camera import project_points, transform_points  # noqa: E402
from hfl_ros.geometry.so3 import exp_map  # noqa: E402
from hfl_ros.model.checkpoint import save_checkpoint  # noqa: E402
from hfl_ros.model.hflnet import HFLNet  # noqa: E402
from hfl_ros.objects import ObjectRegistry  # noqa: E402
from hfl_ros.ros.conversions import camera_info_message, image_message, stamp_from_seconds, stamp_seconds  # noqa: E402
from hfl_ros.ros.demo import isolated_environment  # noqa: E402
from hfl_ros.ros.parameters import package_config_file  # noqa: E402

import harness  # noqa: E402  (test/ros/harness.py)

REPO = Path(__file__).resolve().parents[2]
NAMESPACE = "/cli_test"
NODE = f"{NAMESPACE}/perception_node"
IMAGE = "/cli_test_camera/image"
CAMERA_INFO = "/cli_test_camera/info"
CAMERA_FRAME = "cli_test_camera_optical_frame"
#: Launched with this object; the test of `ros2 param set` moves to the second one.
OBJECTS = ("025_mug", "006_mustard_bottle")
FRAME_PREFIX = "cli_test/"  # set in the test's params_file (the shipped file says "hfl/")
#: The node's outputs as the README and the node's docstring list them (topic -> type).
DOCUMENTED_OUTPUTS = {
    f"{NAMESPACE}/hand_object": "hfl_ros/msg/HandObject",
    f"{NAMESPACE}/object_pose": "geometry_msgs/msg/PoseStamped",
    f"{NAMESPACE}/hand_joints": "geometry_msgs/msg/PoseArray",
    f"{NAMESPACE}/hand_joints_wrist": "geometry_msgs/msg/PoseArray",
    f"{NAMESPACE}/markers": "visualization_msgs/msg/MarkerArray",
    f"{NAMESPACE}/debug_image": "sensor_msgs/msg/Image",
    "/tf": "tf2_msgs/msg/TFMessage",
    "/diagnostics": "diagnostic_msgs/msg/DiagnosticArray",
}
HAND_OBJECT = (f"{NAMESPACE}/hand_object", "hfl_ros/msg/HandObject")
STARTUP_TIMEOUT = 300.0
#: A user's Ctrl-C must end everything within this many seconds.
SHUTDOWN_TIMEOUT = 10.0
OUR_NODES = ("[perception_node-", "[synthetic_camera-")
#: Every CLI call discovers the graph itself (no ros2 daemon left behind), for up to 3 s.
NO_DAEMON = ("--no-daemon", "--spin-time", "3")
#: vision_msgs is built by setup_ros.sh from ../shared/vision_msgs; without it the node publishes no detections.
VISION_MSGS = importlib.util.find_spec("vision_msgs") is not None
needs_vision_msgs = pytest.mark.skipif(not VISION_MSGS, reason="vision_msgs is not built (no ../shared/vision_msgs)")
if VISION_MSGS:
    DOCUMENTED_OUTPUTS.update({f"{NAMESPACE}/detections_3d": "vision_msgs/msg/Detection3DArray",
                               f"{NAMESPACE}/detections_2d": "vision_msgs/msg/Detection2DArray"})


# ------------------------------------------------------------------------------------------------ fixtures
def posing_object_head(head: torch.nn.Module, points_in_box: np.ndarray) -> None:
    """Set an ObjectHead's weights (in place) so that, whatever its input, exactly one cell (the last row's
    last) is confident (0.73; every other cell below 0.5) and predicts control point k at points_in_box[k]
    ((21, 2), normalised [0, 1] in the object box).

    The head's input is ignored (first 1x1 convolution: zero weights, bias 1); the 3x3 convolution of the
    first block makes channel 0 the share of a cell's 3 x 3 neighbourhood inside the map (4/9 at a corner)
    and channel 1 its up-left neighbour's presence (0 on the first row and column); the other blocks pass
    both on; the logits -9 c0 + 2 c1 + 3 are positive at the last corner alone."""
    corner = (ROI_SIZE - 0.5) / ROI_SIZE
    k = head.num_points
    with torch.no_grad():
        for block in head.blocks:
            conv1, norm1, _, conv3, norm3, _ = block
            for norm in (norm1, norm3):
                norm.running_mean.zero_()
                norm.running_var.fill_(1.0)
                norm.weight.fill_(1.0)
                norm.bias.zero_()
            for conv in (conv1, conv3):
                conv.weight.zero_()
                conv.bias.zero_()
        first = head.blocks[0]
        first[0].bias[0] = 1.0
        first[3].weight[0, 0] = 1.0 / 9.0
        first[3].weight[1, 0, 0, 0] = 1.0
        for block in head.blocks[1:]:
            block[0].weight[0, 0, 0, 0] = block[0].weight[1, 1, 0, 0] = 1.0
            block[3].weight[0, 0, 1, 1] = block[3].weight[1, 1, 1, 1] = 1.0
        out = head.out_conv
        out.weight.zero_()
        out.bias.zero_()
        out.weight[:k, 0], out.weight[:k, 1], out.bias[:k] = -9.0, 2.0, 3.0
        out.bias[k:2 * k] = torch.as_tensor(OBJECT_OFFSET_SCALE * (points_in_box[:, 0] - corner))
        out.bias[2 * k:] = torch.as_tensor(OBJECT_OFFSET_SCALE * (points_in_box[:, 1] - corner))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, mano_layer) -> Path:
    """An hfl_ros checkpoint of the CI-sized network: random weights, except an object decoder that always
    sees OBJECTS[0] 3 m away in the middle of its box (posing_object_head), so that PnP finds its pose."""
    config = ModelConfig(resnet_width=16, resnet_blocks=(1, 1, 1, 1), feature_channels=64)
    network = HFLNet(config, mano_layer)
    model = ObjectRegistry.from_yaml(package_config_file("objects.yaml")).model(OBJECTS[0])
    K = np.array([[600.0, 0.0, 320.0], [0.0, 600.0, 240.0], [0.0, 0.0, 1.0]])
    uv = project_points(transform_points(model.control_points, exp_map(np.array([0.3, -0.4, 0.2])),
                                         np.array([0.0, 0.0, 3.0])), K)
    low, high = uv.min(axis=0), uv.max(axis=0)
    posing_object_head(network.object_head, (uv - (low + high) / 2) / ((high - low).max() * 1.1) + 0.5)
    return save_checkpoint(tmp_path_factory.mktemp("checkpoint") / "ci_sized.pt", network)


@pytest.fixture(scope="module")
def params_file(tmp_path_factory) -> Path:
    """The shipped config/perception.yaml with another frame_prefix."""
    shipped = yaml.safe_load((REPO / "config" / "perception.yaml").read_text())
    shipped["/**"]["ros__parameters"]["frame_prefix"] = FRAME_PREFIX
    path = tmp_path_factory.mktemp("params") / "perception.yaml"
    path.write_text(yaml.safe_dump(shipped))
    return path


@pytest.fixture(scope="module")
def rviz_prefix(tmp_path_factory) -> Path:
    return rviz_standin(tmp_path_factory.mktemp("rviz2_prefix"))


def rviz_standin(prefix: Path) -> Path:
    """An install prefix holding a stand-in `rviz2` package: it writes its command line to
    <prefix>/rviz2_arguments.yaml and waits for SIGINT."""
    marker = prefix / "share" / "ament_index" / "resource_index" / "packages" / "rviz2"
    marker.parent.mkdir(parents=True)
    marker.touch()
    executable = prefix / "lib" / "rviz2" / "rviz2"
    executable.parent.mkdir(parents=True)
    executable.write_text(
        f"#!{sys.executable}\nimport signal, sys, yaml\n"
        f"open({str(prefix / 'rviz2_arguments.yaml')!r}, 'w').write(yaml.safe_dump(sys.argv[1:]))\n"
        "signal.signal(signal.SIGINT, lambda *_: sys.exit(0))\nsignal.pause()\n")
    executable.chmod(0o755)
    return prefix


class SpunNode:
    """An rclpy node of the test's own on a system's domain (a context of its own), spun on a daemon thread once
    the subclass has made its subscriptions and publishers (`spin`); `close` stops and destroys it."""

    def __init__(self, domain: int, name: str) -> None:
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain, signal_handler_options=SignalHandlerOptions.NO)
        self.node = rclpy.create_node(name, context=self.context)

    def spin(self) -> None:
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.spinner = threading.Thread(target=self.executor.spin, daemon=True)
        self.spinner.start()

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)
        self.spinner.join(5)


class Client(SpunNode):
    """The test's own rclpy node on a system's domain: records the camera_info stamps and the outputs."""

    def __init__(self, domain: int) -> None:
        super().__init__(domain, "hfl_cli_test_client")
        self.outputs = harness.OutputRecorder(self.node, NAMESPACE)
        # Best effort like the camera, but a deep history: on a loaded machine this thread may not take
        # samples for a while, and the sensor-data profile's 5-deep history would drop the stamps meanwhile.
        self.outputs.record(CameraInfo, CAMERA_INFO, "camera_info",
                            QoSProfile(depth=1000, reliability=ReliabilityPolicy.BEST_EFFORT))
        self.spin()

    def camera_stamps(self, until: float = 0.0, timeout: float = 10.0) -> set:
        """(stamp seconds, frame_id) of every camera_info received, once one stamped `until` or later has
        arrived or `timeout` s have passed (the echo of an output can return before this thread has taken
        the camera_info of the same image)."""
        def headers(recorder: harness.OutputRecorder) -> set:
            return {(stamp_seconds(m.header.stamp), m.header.frame_id) for m in recorder.messages("camera_info")}

        self.outputs.wait_for(lambda r: any(stamp >= until for stamp, _ in headers(r)), timeout)
        return headers(self.outputs)

    def results(self, after: float = 0.0) -> List[object]:
        """hand_object messages received after time.time() `after`."""
        return [m for received, m in self.outputs.timed("hand_object") if received > after]


class System:
    """The module's launched system, started on first use and again after a test stopped it."""

    def __init__(self, arguments: Dict[str, str], env: Dict[str, str], log_dir: Path) -> None:
        self.arguments, self.env, self.log_dir = arguments, env, log_dir
        self.launched: Optional[harness.LaunchedSystem] = None
        self.client = Client(int(env["ROS_DOMAIN_ID"]))
        self.starts = 0

    def ensure_running(self) -> harness.LaunchedSystem:
        if self.launched is None or not self.launched.running():
            if self.launched is not None:
                self.launched.close()
            self.starts += 1
            self.launched = harness.LaunchedSystem(self.arguments, self.env, self.log_dir / f"launch{self.starts}.log")
            started = time.time()
            launched = self.launched
            self.client.outputs.wait_for(lambda r: bool(self.client.results(started)) or not launched.running()
                                         or "process has died" in launched.log(), STARTUP_TIMEOUT)
            assert self.client.results(started), f"no hand_object from the launch\n{launched.log()[-4000:]}"
        return self.launched

    def close(self) -> None:
        if self.launched is not None:
            self.launched.close()
        self.client.close()


def _environment(domain_offset: int, rviz_prefix: Path) -> Dict[str, str]:
    env = isolated_environment(1 + (os.getpid() + domain_offset) % 100)
    env["AMENT_PREFIX_PATH"] = os.pathsep.join(filter(None, [env.get("AMENT_PREFIX_PATH", ""), str(rviz_prefix)]))
    return env


@pytest.fixture(scope="module")
def system(mano_dir, checkpoint, params_file, rviz_prefix, tmp_path_factory) -> Iterator[System]:
    arguments = {
        "synthetic_camera": "true", "rviz": "false", "namespace": NAMESPACE, "image": IMAGE,
        "camera_info": CAMERA_INFO, "image_transport": "raw", "camera_frame": CAMERA_FRAME,
        "params_file": str(params_file), "checkpoint": str(checkpoint), "mano_dir": str(mano_dir),
        "object": OBJECTS[0], "device": "cpu",
    }
    shared = System(arguments, _environment(33, rviz_prefix), tmp_path_factory.mktemp("launch"))
    try:
        yield shared
    finally:
        shared.close()


@pytest.fixture()
def launched(system: System) -> harness.LaunchedSystem:
    return system.ensure_running()


# ------------------------------------------------------------------------------------------------ helpers
def _ok(completed) -> str:
    assert completed.returncode == 0, f"{completed.args}\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
    return completed.stdout


def _echo_once(launched: harness.LaunchedSystem, topic: str, msg_type: str, *options: str) -> dict:
    """`ros2 topic echo --once <topic> <type> <options>`: the message as YAML data."""
    out = _ok(launched.ros2("topic", "echo", "--once", *NO_DAEMON, topic, msg_type, *options))
    return next(yaml.safe_load_all(out))


def _param(launched: harness.LaunchedSystem, name: str, node: str = NODE) -> str:
    """`ros2 param get <node> <name>`: the value after "... value is: "."""
    return _ok(launched.ros2("param", "get", *NO_DAEMON, node, name)).strip().split("value is: ", 1)[1]


def _state(launched: harness.LaunchedSystem) -> str:
    """`ros2 lifecycle get`: the state's label."""
    out = _ok(launched.ros2("lifecycle", "get", *NO_DAEMON, NODE))
    states = re.findall(r"^(\w+) \[\d+\]$", out, re.MULTILINE)
    assert len(states) == 1, out
    return states[0]


def _transition(launched: harness.LaunchedSystem, transition: str) -> None:
    """`ros2 lifecycle set <transition>`, which must succeed."""
    assert "Transitioning successful" in _ok(launched.ros2("lifecycle", "set", *NO_DAEMON, NODE, transition))


def _subscriptions(launched: harness.LaunchedSystem, node: str = NODE) -> Dict[str, str]:
    """Topic -> type of the node's subscriptions, from `ros2 node info`."""
    info = _ok(launched.ros2("node", "info", *NO_DAEMON, node))
    section = info.split("Subscribers:", 1)[1].split("Publishers:", 1)[0]
    return dict(line.strip().split(": ", 1) for line in section.splitlines() if ": " in line)


def _node_topics(launched: harness.LaunchedSystem, node: str) -> tuple:
    """(subscriptions, publishers) of the node, each topic -> type, from one `ros2 node info` (asked again while
    its discovery has not seen the node: "Unable to find node" on a loaded machine)."""
    for _ in range(harness.DISCOVERY_ATTEMPTS):
        completed = launched.ros2("node", "info", *NO_DAEMON, node)
        if "Unable to find node" not in completed.stderr:
            break
    info = _ok(completed)
    subscribers, rest = info.split("Subscribers:", 1)[1].split("Publishers:", 1)
    publishers = rest.split("Service Servers:", 1)[0]
    return tuple(dict(line.strip().split(": ", 1) for line in section.splitlines() if ": " in line)
                 for section in (subscribers, publishers))


def _rviz_topics(arguments: List[str]) -> Dict[str, str]:
    """Each topic of the RViz config that the stand-in rviz2 was given (`-d`) -> the name it resolves to under
    the ROS arguments launch gave it (namespace, remappings)."""
    config = yaml.safe_load(Path(arguments[arguments.index("-d") + 1]).read_text())
    topics = {d["Topic"]["Value"] for d in config["Visualization Manager"]["Displays"] if "Topic" in d}
    ros = arguments[arguments.index("--ros-args"):]
    rules = dict(ros[i + 1].split(":=", 1) for i, item in enumerate(ros[:-1]) if item in ("-r", "--remap"))
    namespace = rules.get("__ns", "/")
    remapped = {expand_topic_name(source, "rviz2", namespace): expand_topic_name(target, "rviz2", namespace)
                for source, target in rules.items() if not source.startswith("__")}
    resolved = {topic: expand_topic_name(topic, "rviz2", namespace) for topic in topics}
    return {topic: remapped.get(name, name) for topic, name in resolved.items()}


def _assert_rviz_shows_the_node(launched: harness.LaunchedSystem, rviz_arguments: Path, node: str) -> None:
    """Every topic RViz subscribes is one the perception node `node` publishes (its `image` display: the base
    topic of the image the node subscribes, raw or `<image>/compressed`)."""
    arguments = yaml.safe_load(rviz_arguments.read_text())
    shown = _rviz_topics(arguments)
    subscribed, published = _node_topics(launched, node)
    images = set(subscribed) | {topic[:-len("/compressed")] for topic in subscribed if topic.endswith("/compressed")}
    missing = {topic: name for topic, name in shown.items() if name not in (images if topic == "image" else published)}
    assert missing == {}, f"RViz topics that {node} does not publish: {missing}\npublishers: {published}"


# ------------------------------------------------------------------------------------------------ tests
def test_topic_echo_shows_a_hand_object_stamped_like_a_synthetic_image(system, launched):
    header = _echo_once(launched, *HAND_OBJECT, "--field", "header")
    stamp = header["stamp"]["sec"] + header["stamp"]["nanosec"] * 1e-9
    camera = system.client.camera_stamps(until=stamp)
    assert header["frame_id"] == CAMERA_FRAME
    assert (stamp, CAMERA_FRAME) in camera, "the hand_object's header is not one of the synthetic images'"
    assert _echo_once(launched, *HAND_OBJECT, "--field", "untrained") is False  # a checkpoint was given


def test_topic_list_shows_every_documented_output(launched):
    listed = _ok(launched.ros2("topic", "list", *NO_DAEMON, "--show-types"))
    topics = dict(line.split(" ", 1) for line in listed.splitlines() if line.startswith("/"))
    for topic, msg_type in DOCUMENTED_OUTPUTS.items():
        assert topics.get(topic) == f"[{msg_type}]", f"{topic} missing from `ros2 topic list`:\n{listed}"


def test_tf_carries_the_object_and_wrist_frames(launched):
    message = _echo_once(launched, "/tf", "tf2_msgs/msg/TFMessage", "--filter", "len(m.transforms) == 2")
    frames = {t["child_frame_id"]: t["header"]["frame_id"] for t in message["transforms"]}
    wrist = next((name for name in frames if name != f"{FRAME_PREFIX}object"), "")
    assert wrist in (f"{FRAME_PREFIX}right_wrist", f"{FRAME_PREFIX}left_wrist"), frames
    assert frames == {wrist: CAMERA_FRAME, f"{FRAME_PREFIX}object": CAMERA_FRAME}


@needs_vision_msgs
def test_topic_echo_shows_the_held_object_as_detection_3d_and_the_hand_beside_it_as_detection_2d(launched):
    model = ObjectRegistry.from_yaml(package_config_file("objects.yaml")).model(OBJECTS[0])
    array = _echo_once(launched, f"{NAMESPACE}/detections_3d", "vision_msgs/msg/Detection3DArray", "--full-length",
                       "--filter", "len(m.detections) > 0")
    assert array["header"]["frame_id"] == CAMERA_FRAME
    (detection,) = array["detections"]
    assert detection["header"] == array["header"] and re.fullmatch(r"object-\d+", detection["id"])
    (result,) = detection["results"]
    assert result["hypothesis"]["class_id"] == OBJECTS[0] and 0 < result["hypothesis"]["score"] <= 1
    covariance = np.reshape(result["pose"]["covariance"], (6, 6))
    assert np.allclose(covariance, covariance.T) and np.all(np.linalg.eigvalsh(covariance) > 0)
    size = detection["bbox"]["size"]
    extent = model.vertices.max(axis=0) - model.vertices.min(axis=0)
    np.testing.assert_allclose([size["x"], size["y"], size["z"]], extent, rtol=1e-9)

    array = _echo_once(launched, f"{NAMESPACE}/detections_2d", "vision_msgs/msg/Detection2DArray", "--filter",
                       "len(m.detections) == 2")
    hand, obj = array["detections"]
    assert hand["results"][0]["hypothesis"]["class_id"] in ("right_hand", "left_hand")
    assert re.fullmatch(r"hand-\d+", hand["id"]) and re.fullmatch(r"object-\d+", obj["id"])
    assert obj["results"][0]["hypothesis"]["class_id"] == OBJECTS[0]
    assert hand["header"]["frame_id"] == obj["header"]["frame_id"] == CAMERA_FRAME
    assert hand["bbox"]["size_x"] > 0 and obj["bbox"]["size_y"] > 0


def test_lifecycle_deactivate_stops_the_outputs_and_activate_resumes_them(system, launched):
    assert _state(launched) == "active"
    try:
        _transition(launched, "deactivate")
        # From here on no image reaches the node: a message of a later-stamped image (the synthetic camera
        # stamps with this machine's clock) was processed while inactive. Frames stamped before may still be
        # in flight (the pipeline's frame in progress, DDS delivery on a loaded machine).
        deactivated = time.time()
        assert _state(launched) == "inactive"
        quiet = launched.ros2("topic", "echo", "--once", *NO_DAEMON, "--timeout", "5", *HAND_OBJECT,
                              "--field", "header.stamp")
        late = [stamp for stamp in yaml.safe_load_all(quiet.stdout) if stamp
                and stamp["sec"] + stamp["nanosec"] * 1e-9 > deactivated]
        assert late == [], f"hand_object of images stamped after deactivation:\n{quiet.stdout[:2000]}"
        assert [m.header.stamp for m in system.client.results(after=deactivated)
                if stamp_seconds(m.header.stamp) > deactivated] == []
    finally:
        if _state(launched) == "inactive":
            _transition(launched, "activate")
    resumed = time.time()
    assert system.client.outputs.wait_for(lambda r: bool(system.client.results(resumed)), 60.0), \
        launched.log()[-3000:]


def test_param_set_object_changes_the_messages_and_an_unknown_one_is_refused(system, launched):
    assert _param(launched, "object") == OBJECTS[0]
    try:
        assert "Set parameter successful" in _ok(launched.ros2("param", "set", *NO_DAEMON, NODE, "object",
                                                               OBJECTS[1]))
        assert _echo_once(launched, *HAND_OBJECT, "--field", "object.name") == OBJECTS[1]
        refused = launched.ros2("param", "set", *NO_DAEMON, NODE, "object", "no_such_object")
        assert "Setting parameter failed: unknown object 'no_such_object'" in refused.stderr, refused
        assert _param(launched, "object") == OBJECTS[1]
        after = time.time()
        assert system.client.outputs.wait_for(lambda r: len(system.client.results(after)) >= 2, 60.0)
        assert {m.object.name for m in system.client.results(after)} == {OBJECTS[1]}
    finally:
        launched.ros2("param", "set", *NO_DAEMON, NODE, "object", OBJECTS[0])


def test_launch_arguments_reach_the_running_node(system, launched, mano_dir, checkpoint, rviz_prefix):
    expected = {"checkpoint": str(checkpoint), "mano_dir": str(mano_dir), "device": "cpu", "image_transport": "raw",
                "frame_prefix": FRAME_PREFIX, "use_sim_time": "False"}  # frame_prefix: from params_file
    assert {name: _param(launched, name) for name in expected} == expected
    assert _subscriptions(launched) == {IMAGE: "sensor_msgs/msg/Image", CAMERA_INFO: "sensor_msgs/msg/CameraInfo",
                                        f"{NAMESPACE}/rois": "hfl_ros/msg/HandObjectRois"}
    assert _param(launched, "frame_id", node=f"{NAMESPACE}/synthetic_camera") == CAMERA_FRAME  # camera_frame
    assert not (rviz_prefix / "rviz2_arguments.yaml").exists()  # rviz:=false: the stand-in never started


def test_missing_mano_dir_fails_configure_by_name_and_the_node_stays_up_unconfigured_and_rviz_shows_its_namespace(
        mano_dir, rviz_prefix, tmp_path):
    missing = tmp_path / "no_such_mano_dir"
    env = _environment(66, rviz_prefix)
    launched = harness.LaunchedSystem(
        {"mano_dir": str(missing), "namespace": NAMESPACE, "image": IMAGE, "image_transport": "compressed",
         "rviz": "true", "camera_frame": CAMERA_FRAME}, env, tmp_path / "launch.log")
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while "configure failed" not in launched.log() and time.monotonic() < deadline and launched.running():
            time.sleep(0.5)
        failure = [line for line in launched.log().splitlines() if "configure failed" in line]
        assert failure and str(missing) in failure[0] and "[ERROR]" in failure[0], launched.log()[-3000:]
        assert _state(launched) == "unconfigured"
        diagnostics = _echo_once(launched, "/diagnostics", "diagnostic_msgs/msg/DiagnosticArray",
                                 "--full-length")["status"][0]
        assert NODE in diagnostics["name"] and diagnostics["level"] in (2, b"\x02", "\x02")  # ERROR
        assert str(missing) in diagnostics["message"] and "state unconfigured" in diagnostics["message"]

        # the user fixes the path: the same process configures and subscribes the compressed transport
        assert "Set parameter successful" in _ok(launched.ros2("param", "set", *NO_DAEMON, NODE, "mano_dir",
                                                               str(mano_dir)))
        _transition(launched, "configure")
        _transition(launched, "activate")
        assert _subscriptions(launched)[f"{IMAGE}/compressed"] == "sensor_msgs/msg/CompressedImage"
        rviz = yaml.safe_load((rviz_prefix / "rviz2_arguments.yaml").read_text())  # rviz:=true
        config = rviz[rviz.index("-d") + 1]
        assert Path(config).name == "hfl_ros.rviz" and Path(config).resolve().is_file()
        assert rviz[rviz.index("-f") + 1] == CAMERA_FRAME
        _assert_rviz_shows_the_node(launched, rviz_prefix / "rviz2_arguments.yaml", NODE)  # in the namespace
        assert launched.interrupt(SHUTDOWN_TIMEOUT) == 0, launched.log()[-3000:]
    finally:
        launched.close()


def test_sigint_ends_launch_and_every_node_cleanly(system, launched):
    time.sleep(2.0)  # frames in flight: the shutdown races a frame being processed
    started = time.monotonic()
    code = launched.interrupt(SHUTDOWN_TIMEOUT)
    seconds = time.monotonic() - started
    log = launched.log()
    assert code == 0, f"ros2 launch exit code {code} after SIGINT ({seconds:.1f} s)\n{log[-3000:]}"
    deadline = time.monotonic() + 2.0
    while launched.group_alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not launched.group_alive(), "a node outlived ros2 launch"
    after = log[launched.interrupted_at:]
    assert "process has finished cleanly" in after and "SIGTERM" not in after and "SIGKILL" not in after, after
    noisy = [line for line in after.splitlines() if line.startswith(OUR_NODES)
             and any(word in line for word in ("[ERROR]", "[WARN", "Traceback", "Error", "error"))]
    assert noisy == [], "\n".join(noisy)


# ------------------------------------------------------------------------------------------------ a bag, sim time
#: Bag time (s) of the replayed sequence's first frame: far from this machine's clock.
BAG_START = 1000.0
#: (bag time offset s, content) of the replayed frames: the hand tracked, lost (a frame without it after a
#: gap), found again; then the bag loops back to its start.
BAG_FRAMES = ((0.0, "hand"), (0.1, "hand"), (0.2, "hand"), (0.3, "hand"), (2.0, "blank"),
              (2.1, "hand"), (2.2, "hand"), (2.3, "hand"), (0.0, "hand"), (0.1, "hand"))
#: Index in BAG_FRAMES of the first frame after the loop.
LOOP_INDEX = 8
EXAMPLE = REPO / "examples" / "planner_example.py"


class BagReplay(SpunNode):
    """What `ros2 bag play --clock` does, on a system's domain: /clock, then the frame's camera_info and image
    stamped with the bag's time; and every output of the node (default namespace) recorded."""

    def __init__(self, domain: int) -> None:
        super().__init__(domain, "hfl_cli_bag")
        self.outputs = harness.OutputRecorder(self.node)
        if VISION_MSGS:
            from vision_msgs.msg import Detection3DArray

            self.outputs.record(Detection3DArray, "detections_3d", "detections_3d", 50)
        self.clock = self.node.create_publisher(Clock, "/clock", 10)
        self.image = self.node.create_publisher(Image, "/camera/color/image_raw", 10)
        self.info = self.node.create_publisher(CameraInfo, "/camera/color/camera_info", 10)
        self.spin()

    def connected(self) -> bool:
        return self.image.get_subscription_count() > 0 and self.info.get_subscription_count() > 0

    def play(self, seconds: float, rgb: np.ndarray, K: Optional[np.ndarray]) -> None:
        """The clock at `seconds`, then camera_info (unless K is None) and the image stamped `seconds`."""
        header = Header(stamp=stamp_from_seconds(seconds), frame_id=CAMERA_FRAME)
        self.clock.publish(Clock(clock=header.stamp))
        if K is not None:
            self.info.publish(camera_info_message(K, rgb.shape[1], rgb.shape[0], header))
        self.image.publish(image_message(rgb, header))

    def output(self, topic: str, seconds: float) -> List[object]:
        return [m for m in self.outputs.messages(topic) if abs(stamp_seconds(m.header.stamp) - seconds) < 1e-6]


class Replayed:
    """The replayed bag's launch, its recording, the planner example's output and the stand-in RViz's
    arguments file."""

    def __init__(self, launched: harness.LaunchedSystem, bag: BagReplay,
                 example: Optional[subprocess.CompletedProcess], rviz: Path) -> None:
        self.launched, self.bag, self.example, self.rviz = launched, bag, example, rviz

    def hand_objects(self) -> List[object]:
        """hand_object of each frame of BAG_FRAMES, in order (the loop repeats stamps: order of arrival)."""
        received = self.bag.outputs.messages("hand_object")
        return received[-len(BAG_FRAMES):]


@pytest.fixture(scope="module")
def replayed(mano_dir, checkpoint, params_file, tmp_path_factory) -> Iterator[Replayed]:
    """Launch with use_sim_time:=true, log_level:=warn, the default namespace, RViz; replay BAG_FRAMES while
    the planner example (examples/planner_example.py) listens, each frame once the previous one's output came."""
    rviz = rviz_standin(tmp_path_factory.mktemp("rviz2_bag_prefix"))
    env = _environment(11, rviz)
    log_dir = tmp_path_factory.mktemp("bag_launch")
    launched = harness.LaunchedSystem(
        {"use_sim_time": "true", "log_level": "warn", "rviz": "true", "camera_frame": CAMERA_FRAME,
         "params_file": str(params_file), "checkpoint": str(checkpoint), "mano_dir": str(mano_dir),
         "object": OBJECTS[0], "device": "cpu"}, env, log_dir / "launch.log")
    bag = BagReplay(int(env["ROS_DOMAIN_ID"]))
    example = None
    try:
        frame = render_sequence(18, 1)[0]  # a frame whose procedural hand MediaPipe finds
        images = {"hand": frame.image, "blank": np.full_like(frame.image, 128)}
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not bag.connected() and time.monotonic() < deadline and launched.running():
            time.sleep(0.5)
        assert bag.connected(), f"the node never subscribed the camera\n{launched.log()[-3000:]}"
        # a frame before any camera_info: skipped with a warning (log_level warn keeps warnings)
        bag.play(BAG_START - 1.0, frame.image, None)
        if VISION_MSGS:
            example = subprocess.Popen([sys.executable, str(EXAMPLE), str(len(BAG_FRAMES))], env=env,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                       start_new_session=True)
            # the example's subscription (beside this recorder's) before the first frame
            while bag.node.count_subscribers("/detections_3d") < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
        for count, (offset, content) in enumerate(BAG_FRAMES, start=1):
            bag.play(BAG_START + offset, images[content], frame.annotation.K)
            assert bag.outputs.wait_for(lambda r: len(r.messages("hand_object")) >= count, 120.0), \
                f"no hand_object for bag frame {count} (bag time {BAG_START + offset})\n{launched.log()[-3000:]}"
        finished = None
        if example is not None:
            try:
                out, err = example.communicate(timeout=15)
            except subprocess.TimeoutExpired:  # it did not receive every frame's detections
                os.killpg(example.pid, signal.SIGINT)
                out, err = example.communicate(timeout=20)
            finished = subprocess.CompletedProcess(example.args, example.returncode, out, err)
        yield Replayed(launched, bag, finished, rviz / "rviz2_arguments.yaml")
    finally:
        if example is not None and example.poll() is None:
            os.killpg(example.pid, signal.SIGKILL)
        launched.close()
        bag.close()


def test_sim_time_and_log_level_reach_the_running_nodes(replayed):
    launched = replayed.launched
    assert _param(launched, "use_sim_time", node="/perception_node") == "True"
    # the node's clock is the bag's: /diagnostics (stamped with the node's clock) carries bag times
    stamps = [stamp_seconds(m.header.stamp) for m in replayed.bag.outputs.messages("diagnostics")]
    assert stamps and all(0 < s <= BAG_START + max(o for o, _ in BAG_FRAMES) + 1e-6 for s in stamps), stamps
    ours = [line for line in launched.log().splitlines() if line.startswith("[perception_node-")]
    assert any("[WARN]" in line and "camera_info" in line for line in ours), "\n".join(ours[-20:])
    assert not [line for line in ours if "[INFO]" in line], "log_level:=warn, yet INFO lines"


def test_outputs_carry_the_bag_time_and_a_loop_back_restarts_the_filter(replayed):
    results = replayed.hand_objects()
    assert [stamp_seconds(m.header.stamp) for m in results] == \
        pytest.approx([BAG_START + offset for offset, _ in BAG_FRAMES], abs=1e-6)
    assert [m.hand_found for m in results] == [content == "hand" for _, content in BAG_FRAMES]
    tracked = results[1:4]
    assert all(m.hand_filtered.valid and m.hand_filtered.reset == "" for m in tracked), \
        [m.hand_filtered.reset for m in tracked]
    before, looped, after = results[LOOP_INDEX - 1:LOOP_INDEX + 2]
    assert before.hand_filtered.reset == "" and after.hand_filtered.reset == ""  # filtering on both sides
    # the loop restarts the filter: "time_backwards" when the hand's track survives the loop, "track_lost" when
    # the box policy starts a new track there (a new track restarts its side's filter)
    assert looped.hand_filtered.valid and looped.hand_filtered.reset in ("time_backwards", "track_lost"), \
        looped.hand_filtered.reset


@needs_vision_msgs
def test_planner_example_reads_the_object_pose_class_and_a_track_id_from_vision_msgs_only(replayed):
    example = replayed.example
    assert example.returncode == 0, f"{example.stdout[-2000:]}\n{example.stderr[-3000:]}"
    lines = [json.loads(line) for line in example.stdout.splitlines()]
    # before the loop (its stamps repeat after it); the example may have joined a frame late
    last = BAG_START + BAG_FRAMES[LOOP_INDEX - 1][0]
    lines = lines[:next(i for i, line in enumerate(lines) if abs(line["stamp"] - last) < 1e-6) + 1]
    poses = {round(stamp_seconds(pose.header.stamp), 6): pose
             for pose in reversed(replayed.bag.outputs.messages("object_pose"))}  # the first of a stamp
    launched_object = _param(replayed.launched, "object", node="/perception_node")
    for line in lines:
        pose = poses[round(line["stamp"], 6)]
        assert (line["frame"], line["class"]) == (CAMERA_FRAME, launched_object)
        position, orientation = pose.pose.position, pose.pose.orientation
        assert line["position"] == [position.x, position.y, position.z]
        assert line["orientation_xyzw"] == [orientation.x, orientation.y, orientation.z, orientation.w]
        assert all(variance > 0 for variance in line["position_variance"])
    lost = BAG_START + next(offset for offset, content in BAG_FRAMES if content == "blank")
    assert not [line for line in lines if abs(line["stamp"] - lost) < 1e-6]  # no object without the hand
    before = [line["id"] for line in lines if line["stamp"] < lost]
    after = [line["id"] for line in lines if line["stamp"] > lost]
    assert len(before) >= 2 and len(after) == 3, lines
    assert len(set(before)) == 1 and len(set(after)) == 1, (before, after)  # the same while tracked
    assert before[0] != after[0], (before, after)  # a new id once the object was lost and found again


def test_rviz_in_the_default_namespace_shows_the_node_outputs(replayed):
    _assert_rviz_shows_the_node(replayed.launched, replayed.rviz, "/perception_node")


# ------------------------------------------------------------------------------------------------ two hands
#: Seconds, once the node publishes `hands`, within which both hands must be in one message.
TWO_HANDS_TIMEOUT = 60.0


def test_max_hands_2_on_the_two_hand_synthetic_camera_gives_tf_of_both_wrists_and_hands_right_and_left(
        mano_dir, checkpoint, params_file, rviz_prefix, tmp_path):
    """max_hands:=2 with synthetic_hands:=2 (the rendered right hand on the image's left half, its mirror, a
    left hand, on the right half): the node's built-in detector finds both, /tf carries both wrists in one
    message and `hands` both sides, each hand's box on its own half of the image."""
    env = _environment(77, rviz_prefix)
    launched = harness.LaunchedSystem(
        {"synthetic_camera": "true", "synthetic_hands": "2", "max_hands": "2", "namespace": NAMESPACE,
         "image": IMAGE, "camera_info": CAMERA_INFO, "camera_frame": CAMERA_FRAME, "params_file": str(params_file),
         "checkpoint": str(checkpoint), "mano_dir": str(mano_dir), "object": OBJECTS[0], "device": "cpu"},
        env, tmp_path / "launch.log")
    wrists = {f"{FRAME_PREFIX}right_wrist", f"{FRAME_PREFIX}left_wrist"}
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT

        def echo_hands(*options: str) -> Optional[dict]:
            echoed = launched.ros2("topic", "echo", "--once", *NO_DAEMON, "--timeout", "20", f"{NAMESPACE}/hands",
                                   "hfl_ros/msg/Hands", *options)
            return next((m for m in yaml.safe_load_all(echoed.stdout) if m), None)

        while echo_hands("--field", "header") is None and time.monotonic() < deadline and launched.running():
            pass  # the node is still loading, or the camera still rendering
        # hands flow: two of them within TWO_HANDS_TIMEOUT
        deadline = time.monotonic() + TWO_HANDS_TIMEOUT
        both = None
        while both is None and time.monotonic() < deadline and launched.running():
            both = echo_hands("--filter", "len(m.hands) == 2")
        assert both is not None, f"no `hands` with two hands\n{launched.log()[-4000:]}"
        assert _param(launched, "max_hands") == "2"
        assert _param(launched, "hands", node=f"{NAMESPACE}/synthetic_camera") == "2"
        width = _echo_once(launched, CAMERA_INFO, "sensor_msgs/msg/CameraInfo", "--field", "width")
        centres = {hand["side"]: hand["hand"]["box"]["x_offset"] + hand["hand"]["box"]["width"] / 2
                   for hand in both["hands"]}
        assert set(centres) == {"right", "left"}, both["hands"]
        assert centres["right"] < width / 2 < centres["left"], (centres, width)

        message = _echo_once(launched, "/tf", "tf2_msgs/msg/TFMessage", "--filter",
                             f"{sorted(wrists)!r} == sorted(t.child_frame_id for t in m.transforms"
                             f" if t.child_frame_id.endswith('_wrist'))")
        frames = {t["child_frame_id"]: t["header"]["frame_id"] for t in message["transforms"]}
        assert {name: frames.get(name) for name in wrists} == dict.fromkeys(wrists, CAMERA_FRAME), frames
        assert launched.interrupt(SHUTDOWN_TIMEOUT) == 0, launched.log()[-3000:]
    finally:
        launched.close()
