"""`ros2 launch hfl_ros perception.launch.py` and the ros2 CLI, driven as a user drives them, against the
real nodes over real DDS (Fast DDS, this host only, a DDS domain per launched system).

One launched system (module-scoped, started again only if a test stopped it) serves most checks: the
synthetic camera and the perception node with a CI-sized checkpoint, every per-camera launch argument
set to a value other than its default. A second launch gives a MANO directory that does not exist. The
launch arguments are checked on the running node (`ros2 param get`, `ros2 node info`), not in the file.

`ros2 launch` and the CLI are not on PyPI: scripts/setup_ros.sh installs them from ../shared/ros2_launch;
without that folder these tests are skipped. RViz is not installable here either: a stand-in `rviz2`
package (found through the ament index like the real one) records the command line launch gives it.
"""

import os
import re
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest
import yaml

rclpy = pytest.importorskip("rclpy", exc_type=ImportError,
                            reason="rclpy is not importable: run scripts/setup_ros.sh (ROS 2 Jazzy wheels)")
if shutil.which("ros2") is None:
    pytest.skip("`ros2 launch` and the ros2 CLI are not installed: scripts/setup_ros.sh installs them from "
                "../shared/ros2_launch, which this checkout lacks", allow_module_level=True)

from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from rclpy.signals import SignalHandlerOptions  # noqa: E402
from sensor_msgs.msg import CameraInfo  # noqa: E402

from hfl_ros.config import ModelConfig  # noqa: E402
from hfl_ros.model.checkpoint import save_checkpoint  # noqa: E402
from hfl_ros.model.hflnet import HFLNet  # noqa: E402
from hfl_ros.ros.conversions import stamp_seconds  # noqa: E402
from hfl_ros.ros.demo import isolated_environment  # noqa: E402

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


# ------------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, mano_layer) -> Path:
    """An hfl_ros checkpoint of the CI-sized network (random weights: the node cannot tell them apart)."""
    config = ModelConfig(resnet_width=16, resnet_blocks=(1, 1, 1, 1), feature_channels=64)
    return save_checkpoint(tmp_path_factory.mktemp("checkpoint") / "ci_sized.pt", HFLNet(config, mano_layer))


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
    """An install prefix holding a stand-in `rviz2` package: it writes its command line to
    <prefix>/rviz2_arguments.yaml and waits for SIGINT."""
    prefix = tmp_path_factory.mktemp("rviz2_prefix")
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


class Client:
    """The test's own rclpy node on a system's domain: records the camera_info stamps and the outputs."""

    def __init__(self, domain: int) -> None:
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain, signal_handler_options=SignalHandlerOptions.NO)
        self.node = rclpy.create_node("hfl_cli_test_client", context=self.context)
        self.outputs = harness.OutputRecorder(self.node, NAMESPACE)
        # Best effort like the camera, but a deep history: on a loaded machine this thread may not take
        # samples for a while, and the sensor-data profile's 5-deep history would drop the stamps meanwhile.
        self.outputs.record(CameraInfo, CAMERA_INFO, "camera_info",
                            QoSProfile(depth=1000, reliability=ReliabilityPolicy.BEST_EFFORT))
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.spinner = threading.Thread(target=self.executor.spin, daemon=True)
        self.spinner.start()

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

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)
        self.spinner.join(5)


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
                "frame_prefix": FRAME_PREFIX}  # frame_prefix: from params_file
    assert {name: _param(launched, name) for name in expected} == expected
    assert _subscriptions(launched) == {IMAGE: "sensor_msgs/msg/Image", CAMERA_INFO: "sensor_msgs/msg/CameraInfo",
                                        f"{NAMESPACE}/rois": "hfl_ros/msg/HandObjectRois"}
    assert _param(launched, "frame_id", node=f"{NAMESPACE}/synthetic_camera") == CAMERA_FRAME  # camera_frame
    assert not (rviz_prefix / "rviz2_arguments.yaml").exists()  # rviz:=false: the stand-in never started


def test_missing_mano_dir_fails_configure_by_name_and_the_node_stays_up_unconfigured(
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
