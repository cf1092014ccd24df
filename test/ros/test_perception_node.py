"""Integration tests: perception_node as its own process, driven over real rclpy + Fast DDS.

The node runs with the shipped config/perception.yaml (plus a MANO directory and a few test overrides)
on a DDS domain of its own, discovering peers on this host only. Most tests use the real node process
with a deterministic stand-in for the network (test/ros/standin_node.py: known estimates, fixed delay);
the last one runs the real network (untrained) through the lifecycle.

The stand-in node process is shared, but each test stands alone: the `standin` fixture first brings the
node back to its shipped state (active, raw images, the default object) whatever an earlier test left,
and each test stamps its frames from its own epoch, 100 s past any other test's, so that no tracked box
or external ROI carries over between tests.
"""

import itertools
import math
import os
import threading
import time
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy", exc_type=ImportError,
                            reason="rclpy is not importable: run scripts/setup_ros.sh (ROS 2 Jazzy wheels)")

from lifecycle_msgs.msg import Transition  # noqa: E402
from lifecycle_msgs.srv import ChangeState, GetState  # noqa: E402
from rcl_interfaces.msg import Parameter as ParameterMsg  # noqa: E402
from rcl_interfaces.msg import ParameterType, ParameterValue  # noqa: E402
from rcl_interfaces.srv import GetParameters, SetParameters  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from rclpy.signals import SignalHandlerOptions  # noqa: E402
from sensor_msgs.msg import CameraInfo, CompressedImage, Image  # noqa: E402
from std_msgs.msg import Header  # noqa: E402
from visualization_msgs.msg import Marker  # noqa: E402

from hfl_ros.constants import BOX_EDGES, JOINT_PARENTS, NUM_JOINTS, NUM_MANO_FACES  # noqa: E402
from hfl_ros.ros import conversions  # noqa: E402  (first: makes the generated hfl_ros.msg importable)
from hfl_ros.msg import HandObjectRois  # noqa: E402
from hfl_ros.ros.conversions import box_from_roi, camera_info_message, image_message, roi_from_box, \
    stamp_seconds  # noqa: E402
from hfl_ros.ros.demo import isolated_environment, node_parameters, start_process, stop_process  # noqa: E402
from hfl_ros.ros.image_conversion import encode_rgb  # noqa: E402
from hfl_ros.ros.parameters import PARAMETERS  # noqa: E402

import harness  # noqa: E402  (test/ros/harness.py)

REPO = Path(__file__).resolve().parents[2]
STANDIN = str(Path(__file__).with_name("standin_node.py"))
SHIPPED_YAML = str(REPO / "config" / "perception.yaml")
FRAME = "hfl_test_camera_optical_frame"
WIDTH, HEIGHT = 160, 120
K = np.array([[150.0, 0.0, 80.0], [0.0, 150.0, 60.0], [0.0, 0.0, 1.0]])
STANDIN_DELAY = 0.25
MAX_PIXELS = 200_000
STANDIN_NS = "/standin"
REAL_NS = "/real"
OUTPUT_TIMEOUT = 20.0
#: Start stamps (s) of the tests' frames: each test takes the next one.
EPOCHS = itertools.count(1000.0, 100.0)


@dataclass
class Camera:
    """Publishers of one namespace's camera topics."""

    image: object
    compressed: object
    info: object
    rois: object


@dataclass
class Ros:
    """The test's own ROS client: a node on the test domain spun in a background thread."""

    node: object
    env: Dict[str, str]
    recorders: Dict[str, harness.OutputRecorder]
    cameras: Dict[str, Camera]


@dataclass
class NodeProcess:
    process: object
    log: Path

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else "(no log)"


@pytest.fixture(scope="module")
def ros() -> Iterator[Ros]:
    domain = 1 + os.getpid() % 100
    env = isolated_environment(domain)
    with pytest.MonkeyPatch.context() as patch:
        for key in ("ROS_AUTOMATIC_DISCOVERY_RANGE", "FASTRTPS_DEFAULT_PROFILES_FILE", "RMW_IMPLEMENTATION"):
            if key in env:
                patch.setenv(key, env[key])
        context = rclpy.Context()
        rclpy.init(context=context, domain_id=domain, signal_handler_options=SignalHandlerOptions.NO)
        node = rclpy.create_node("hfl_test_client", context=context)
        recorders, cameras = {}, {}
        for namespace in (STANDIN_NS, REAL_NS):
            recorders[namespace] = harness.OutputRecorder(node, namespace)
            cameras[namespace] = Camera(
                image=node.create_publisher(Image, f"{namespace}/image", qos_profile_sensor_data),
                compressed=node.create_publisher(CompressedImage, f"{namespace}/image/compressed",
                                                 qos_profile_sensor_data),
                info=node.create_publisher(CameraInfo, f"{namespace}/camera_info", qos_profile_sensor_data),
                rois=node.create_publisher(HandObjectRois, f"{namespace}/rois", qos_profile_sensor_data),
            )
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        spinner = threading.Thread(target=executor.spin, daemon=True)
        spinner.start()
        try:
            yield Ros(node, env, recorders, cameras)
        finally:
            executor.shutdown()
            node.destroy_node()
            rclpy.shutdown(context=context)
            spinner.join(5)


def _start_node(ros: Ros, target: str, namespace: str, parameters: Dict[str, object], log: Path,
                extra_env: Optional[Dict[str, str]] = None) -> NodeProcess:
    arguments = ["--params-file", SHIPPED_YAML, "-r", f"__ns:={namespace}"] + node_parameters(parameters)
    return NodeProcess(start_process(target, arguments, dict(ros.env, **(extra_env or {})), log), log)


def _diagnostics(ros: Ros, namespace: str) -> Optional[Dict[str, str]]:
    return ros.recorders[namespace].latest_diagnostics(f"{namespace}/perception_node")


def _fresh_diagnostics(ros: Ros, namespace: str) -> Dict[str, str]:
    """The node's diagnostics from at least two periods after now (so nothing earlier is in flight)."""
    recorder = ros.recorders[namespace]
    seen = len(recorder.messages("diagnostics"))
    assert recorder.wait_for(lambda r: len(r.messages("diagnostics")) >= seen + 4, 10.0)
    return _diagnostics(ros, namespace)


def _wait_state(ros: Ros, namespace: str, state: str, timeout: float = 90.0) -> bool:
    return ros.recorders[namespace].wait_for(
        lambda r: (_diagnostics(ros, namespace) or {}).get("state") == state, timeout)


def _wait_connected(ros: Ros, namespace: str, timeout: float = 20.0) -> None:
    """Until the node's input subscriptions and our output subscriptions are matched both ways."""
    camera = ros.cameras[namespace]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (camera.image.get_subscription_count() + camera.compressed.get_subscription_count() >= 1
                and camera.info.get_subscription_count() >= 1
                and ros.node.count_publishers(f"{namespace}/hand_object") >= 1
                and ros.node.count_publishers(f"{namespace}/debug_image") >= 1):
            time.sleep(0.5)  # let the node see our subscriptions as well
            return
        time.sleep(0.05)
    raise AssertionError(f"{namespace}: node and test client did not discover each other in {timeout} s")


@pytest.fixture(scope="module")
def standin_process(ros: Ros, mano_dir: Path, tmp_path_factory) -> Iterator[NodeProcess]:
    log = tmp_path_factory.mktemp("standin") / "node.log"
    node = _start_node(ros, STANDIN, STANDIN_NS, {"mano_dir": str(mano_dir), "max_image_pixels": MAX_PIXELS,
                                                  "diagnostics_period": 0.2, "log_throttle": 0.0},
                       log, {"HFL_STANDIN_DELAY": str(STANDIN_DELAY)})
    try:
        assert _wait_state(ros, STANDIN_NS, "active"), node.log_tail()
        _wait_connected(ros, STANDIN_NS)
        yield node
    finally:
        stop_process(node.process)


@pytest.fixture()
def standin(ros: Ros, standin_process: NodeProcess) -> NodeProcess:
    """The stand-in node in its shipped state (active, raw images, the default object), whatever an earlier
    test changed."""
    if _get_parameter(ros, STANDIN_NS, "image_transport") != "raw":
        for transition in (Transition.TRANSITION_DEACTIVATE, Transition.TRANSITION_CLEANUP):
            assert _transition(ros, STANDIN_NS, transition)
        assert _set_parameter(ros, STANDIN_NS, "image_transport", "raw").successful
    state = _lifecycle_state(ros, STANDIN_NS)
    if state == "unconfigured":
        assert _transition(ros, STANDIN_NS, Transition.TRANSITION_CONFIGURE), standin_process.log_tail()
        state = "inactive"
    if state == "inactive":
        assert _transition(ros, STANDIN_NS, Transition.TRANSITION_ACTIVATE)
        _wait_connected(ros, STANDIN_NS)
    assert _lifecycle_state(ros, STANDIN_NS) == "active", standin_process.log_tail()
    if _get_parameter(ros, STANDIN_NS, "object") != PARAMETERS["object"].default:
        assert _set_parameter(ros, STANDIN_NS, "object", PARAMETERS["object"].default).successful
    return standin_process


# ------------------------------------------------------------------------------------------------ helpers
def _header(seconds: float, frame_id: str = FRAME) -> Header:
    return Header(stamp=conversions.stamp_from_seconds(seconds), frame_id=frame_id)


def _scene(seed: int = 0) -> np.ndarray:
    """A (HEIGHT, WIDTH, 3) test picture: smooth colours and a bright blob."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    rgb = np.dstack((x * 255 // WIDTH, y * 255 // HEIGHT, np.full_like(x, 40 * seed % 256))).astype(np.uint8)
    rgb[40:80, 60:100] = (230, 190, 160)
    return rgb


def _send(ros: Ros, namespace: str, seconds: float, rgb: Optional[np.ndarray] = None, info: bool = True,
          frame_id: str = FRAME) -> None:
    camera = ros.cameras[namespace]
    rgb = _scene() if rgb is None else rgb
    if info:
        camera.info.publish(camera_info_message(K, rgb.shape[1], rgb.shape[0], _header(seconds, frame_id)))
    camera.image.publish(image_message(rgb, _header(seconds, frame_id)))


def _stamp_is(message: object, seconds: float) -> bool:
    return abs(stamp_seconds(message.header.stamp) - seconds) < 1e-6


def _with_stamp(recorder: harness.OutputRecorder, topic: str, seconds: float) -> List[object]:
    if topic == "tf":
        return [t for m in recorder.messages("tf") for t in m.transforms if _stamp_is(t, seconds)]
    if topic == "markers":  # a MarkerArray has no header of its own: every marker carries it
        return [m for m in recorder.messages(topic) if m.markers and all(_stamp_is(k, seconds) for k in m.markers)]
    return [m for m in recorder.messages(topic) if _stamp_is(m, seconds)]


def _wait_output(recorder: harness.OutputRecorder, topic: str, seconds: float, count: int = 1,
                 timeout: float = OUTPUT_TIMEOUT) -> List[object]:
    recorder.wait_for(lambda r: len(_with_stamp(r, topic, seconds)) >= count, timeout)
    return _with_stamp(recorder, topic, seconds)


def _skipped(ros: Ros, namespace: str, reason: str) -> int:
    return int((_diagnostics(ros, namespace) or {}).get(f"skipped: {reason}", 0))


def _wait_skipped(ros: Ros, namespace: str, reason: str, before: int, timeout: float = OUTPUT_TIMEOUT) -> bool:
    return ros.recorders[namespace].wait_for(lambda r: _skipped(ros, namespace, reason) > before, timeout)


def _unit(q) -> bool:
    return math.isclose(q.x**2 + q.y**2 + q.z**2 + q.w**2, 1.0, abs_tol=1e-9)


def _call(ros: Ros, service_type: type, name: str, request: object, timeout: float = 60.0) -> object:
    client = ros.node.create_client(service_type, name)
    try:
        assert client.wait_for_service(timeout_sec=20.0), f"service {name} not available"
        future = client.call_async(request)
        deadline = time.monotonic() + timeout
        while not future.done() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert future.done(), f"service {name} did not answer in {timeout} s"
        return future.result()
    finally:
        ros.node.destroy_client(client)


def _get_parameter(ros: Ros, namespace: str, name: str) -> str:
    response = _call(ros, GetParameters, f"{namespace}/perception_node/get_parameters",
                     GetParameters.Request(names=[name]))
    return response.values[0].string_value


def _set_parameter(ros: Ros, namespace: str, name: str, value: str):
    parameter = ParameterMsg(name=name, value=ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=value))
    response = _call(ros, SetParameters, f"{namespace}/perception_node/set_parameters",
                     SetParameters.Request(parameters=[parameter]))
    return response.results[0]


def _transition(ros: Ros, namespace: str, transition_id: int) -> bool:
    request = ChangeState.Request(transition=Transition(id=transition_id))
    return _call(ros, ChangeState, f"{namespace}/perception_node/change_state", request, timeout=120.0).success


def _lifecycle_state(ros: Ros, namespace: str) -> str:
    return _call(ros, GetState, f"{namespace}/perception_node/get_state", GetState.Request()).current_state.label


def _floats(message: object) -> Iterator[float]:
    """Every float inside a ROS message (recursively)."""
    if hasattr(message, "get_fields_and_field_types"):
        for field in message.get_fields_and_field_types():
            yield from _floats(getattr(message, field))
    elif isinstance(message, float):
        yield message
    elif isinstance(message, (list, tuple)) or (isinstance(message, np.ndarray) and message.dtype.kind == "f"):
        for item in message:
            yield from _floats(item)
    elif isinstance(message, array) and message.typecode in "fd":
        yield from message


# ------------------------------------------------------------------------------------------------ tests
def test_frames_wait_for_camera_info(ros, standin):
    for transition in (Transition.TRANSITION_DEACTIVATE, Transition.TRANSITION_CLEANUP,  # forgets camera_info
                       Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE):
        assert _transition(ros, STANDIN_NS, transition)
    _wait_connected(ros, STANDIN_NS)
    t = next(EPOCHS)
    before = _skipped(ros, STANDIN_NS, "no camera_info")
    _send(ros, STANDIN_NS, t, info=False)
    assert _wait_skipped(ros, STANDIN_NS, "no camera_info", before), standin.log_tail()
    assert _with_stamp(ros.recorders[STANDIN_NS], "hand_object", t) == []
    assert "no camera_info received yet" in _diagnostics(ros, STANDIN_NS)["last error"]
    _send(ros, STANDIN_NS, t + 1.0)  # with camera_info: processed
    assert _wait_output(ros.recorders[STANDIN_NS], "hand_object", t + 1.0), standin.log_tail()
    assert standin.process.poll() is None


def test_every_output_carries_the_input_header(ros, standin):
    recorder = ros.recorders[STANDIN_NS]
    rgb = _scene(1)
    t = next(EPOCHS)
    _send(ros, STANDIN_NS, t, rgb)
    outputs = {topic: _wait_output(recorder, topic, t) for topic in harness.OUTPUT_TOPICS}
    outputs["tf"] = _wait_output(recorder, "tf", t, count=2)
    for topic, messages in outputs.items():
        assert messages, f"no {topic} for the frame stamped {t}\n{standin.log_tail()}"
        headers = ([k.header for m in messages for k in m.markers] if topic == "markers"
                   else [m.header for m in messages])
        assert all(h.frame_id == FRAME for h in headers), topic

    result = outputs["hand_object"][0]
    assert result.untrained and result.box_source == "initial" and result.object.name == "006_mustard_bottle"
    assert result.network_time == pytest.approx(STANDIN_DELAY) and result.processing_time >= STANDIN_DELAY
    assert result.object.has_pose and result.object.inliers == 21
    assert _unit(result.hand.wrist_pose.orientation) and _unit(result.object.pose.orientation)

    pose = outputs["object_pose"][0].pose
    assert _unit(pose.orientation)
    assert (pose.position.x, pose.position.y, pose.position.z) == pytest.approx(
        (result.object.pose.position.x, result.object.pose.position.y, result.object.pose.position.z))
    joints = outputs["hand_joints"][0].poses
    assert len(joints) == NUM_JOINTS
    assert [p.position.z for p in joints] == pytest.approx([p.z for p in result.hand.joints])

    markers = {m.id: m for m in outputs["markers"][0].markers}
    sizes = {m.type: len(m.points) for m in markers.values()}
    assert sizes[Marker.TRIANGLE_LIST] == 3 * NUM_MANO_FACES
    assert sorted(n for t, n in ((m.type, len(m.points)) for m in markers.values()) if t == Marker.LINE_LIST) == \
        sorted([2 * (len(JOINT_PARENTS) - 1), 2 * len(BOX_EDGES)])
    assert all(_stamp_is(m, t) and m.header.frame_id == FRAME for m in markers.values())

    transforms = {t.child_frame_id: t for t in outputs["tf"]}
    assert set(transforms) == {"hfl/wrist", "hfl/object"}
    assert all(_unit(t.transform.rotation) for t in transforms.values())
    wrist = transforms["hfl/wrist"].transform.translation
    assert (wrist.x, wrist.y, wrist.z) == pytest.approx(
        (result.hand.joints[0].x, result.hand.joints[0].y, result.hand.joints[0].z))

    debug = outputs["debug_image"][0]
    assert (debug.width, debug.height, debug.encoding) == (WIDTH, HEIGHT, "rgb8")
    overlay = np.frombuffer(debug.data, np.uint8).reshape(HEIGHT, WIDTH, 3)
    assert (overlay != rgb).any(axis=2).mean() > 0.01  # the estimate is drawn over the frame


def test_box_sources_tracking_external_initial(ros, standin):
    recorder = ros.recorders[STANDIN_NS]
    t = next(EPOCHS)
    _send(ros, STANDIN_NS, t)
    first = _wait_output(recorder, "hand_object", t)[0]
    assert first.box_source == "initial"
    _send(ros, STANDIN_NS, t + 0.2)
    tracked = _wait_output(recorder, "hand_object", t + 0.2)[0]
    assert tracked.box_source == "tracking"
    joints_2d = np.array([[p.x, p.y] for p in first.hand.joints_2d])
    centre = (joints_2d.min(0) + joints_2d.max(0)) / 2
    half = np.maximum((joints_2d.max(0) - joints_2d.min(0)) * 1.3 / 2, 24.0 / 2)  # shipped expansion, min size
    expected = np.clip(np.concatenate((centre - half, centre + half)), 0, [WIDTH, HEIGHT] * 2)
    np.testing.assert_allclose(box_from_roi(tracked.hand.box), box_from_roi(roi_from_box(expected, WIDTH, HEIGHT)))

    hand_box, object_box = np.array([10.0, 12.0, 70.0, 90.0]), np.array([60.0, 30.0, 120.0, 100.0])
    rois = HandObjectRois(header=_header(t + 0.4), hand=roi_from_box(hand_box, WIDTH, HEIGHT),
                          object=roi_from_box(object_box, WIDTH, HEIGHT))
    ros.cameras[STANDIN_NS].rois.publish(rois)
    time.sleep(0.3)
    _send(ros, STANDIN_NS, t + 0.4)
    external = _wait_output(recorder, "hand_object", t + 0.4)[0]
    assert external.box_source == "external"
    np.testing.assert_array_equal(box_from_roi(external.hand.box), hand_box)
    np.testing.assert_array_equal(box_from_roi(external.object.box), object_box)

    _send(ros, STANDIN_NS, t + 9.0)  # past both ages
    assert _wait_output(recorder, "hand_object", t + 9.0)[0].box_source == "initial"


def test_object_parameter_changes_at_run_time(ros, standin):
    recorder = ros.recorders[STANDIN_NS]
    t = next(EPOCHS)
    assert _set_parameter(ros, STANDIN_NS, "object", "025_mug").successful
    _send(ros, STANDIN_NS, t)
    assert _wait_output(recorder, "hand_object", t)[0].object.name == "025_mug"
    refused = _set_parameter(ros, STANDIN_NS, "object", "no_such_object")
    assert not refused.successful and "unknown object 'no_such_object'" in refused.reason
    assert _get_parameter(ros, STANDIN_NS, "object") == "025_mug"
    _send(ros, STANDIN_NS, t + 1.0)
    assert _wait_output(recorder, "hand_object", t + 1.0)[0].object.name == "025_mug"


def test_burst_of_100_frames_leaves_no_backlog(ros, standin):
    recorder = ros.recorders[STANDIN_NS]
    before = _fresh_diagnostics(ros, STANDIN_NS)
    t = next(EPOCHS)
    stamps = [t + 0.001 * i for i in range(100)]
    camera = ros.cameras[STANDIN_NS]
    camera.info.publish(camera_info_message(K, WIDTH, HEIGHT, _header(stamps[0])))
    rgb = _scene(2)
    start = time.monotonic()
    for seconds in stamps:
        camera.image.publish(image_message(rgb, _header(seconds)))
        time.sleep(0.002)
    burst = time.monotonic() - start
    last = _wait_output(recorder, "hand_object", stamps[-1], timeout=3 * STANDIN_DELAY + 10.0)
    assert last, f"the newest frame of the burst was not processed\n{standin.log_tail()}"
    settle = time.monotonic()
    time.sleep(1.0)
    outputs = [m for m in recorder.messages("hand_object") if t - 1e-6 <= stamp_seconds(m.header.stamp) < t + 1.0]
    assert stamp_seconds(outputs[-1].header.stamp) == pytest.approx(stamps[-1]), "output after the newest frame"
    assert len(outputs) <= burst / STANDIN_DELAY + 2, f"{len(outputs)} outputs for a {burst:.2f} s burst: backlog"
    assert max(m.processing_time for m in outputs) < 2 * STANDIN_DELAY + 1.0
    after = _fresh_diagnostics(ros, STANDIN_NS)
    delta = {key: int(after[key]) - int(before[key])
             for key in ("frames received", "frames published", "frames dropped", "frames skipped")}
    assert delta["frames received"] >= 90, delta  # best-effort transport may lose a few
    assert delta["frames dropped"] >= delta["frames received"] - len(outputs) - 1, delta
    assert delta["frames received"] == delta["frames published"] + delta["frames dropped"] + delta["frames skipped"]
    assert settle - start < burst + 3 * STANDIN_DELAY + 10.0


def _raw(encoding: str = "rgb8", width: int = WIDTH, height: int = HEIGHT, step: Optional[int] = None,
         size: Optional[int] = None) -> Callable[[float], Image]:
    def build(seconds: float) -> Image:
        channels = {"rgb8": 3, "mono8": 1}.get(encoding, 3)
        row = width * channels if step is None else step
        data = array("B", bytes(row * height if size is None else size))
        return Image(header=_header(seconds), encoding=encoding, width=width, height=height, step=row, data=data)

    return build


BAD_IMAGES = {
    "unknown encoding": (_raw(encoding="rgb16"), "bad image", "unsupported encoding 'rgb16'"),
    "step too small": (_raw(step=WIDTH * 3 - 1), "bad image", "step 479 < width 160"),
    "data size mismatch": (_raw(size=WIDTH * 3 * HEIGHT - 7), "bad image", "data size"),
    "zero size": (_raw(width=0, height=0), "bad image", "zero-size image"),
    "huge image": (_raw(encoding="mono8", width=640, height=480), "bad image", "image too large"),
}


@pytest.mark.parametrize("case", list(BAD_IMAGES))
def test_bad_images_are_skipped_with_the_reason(ros, standin, case):
    build, reason, detail = BAD_IMAGES[case]
    seconds = next(EPOCHS)
    before = _skipped(ros, STANDIN_NS, reason)
    ros.cameras[STANDIN_NS].info.publish(camera_info_message(K, 0, 0, _header(seconds)))
    ros.cameras[STANDIN_NS].image.publish(build(seconds))
    assert _wait_skipped(ros, STANDIN_NS, reason, before), standin.log_tail()
    assert detail in _diagnostics(ros, STANDIN_NS)["last error"]
    assert _with_stamp(ros.recorders[STANDIN_NS], "hand_object", seconds) == []
    assert standin.process.poll() is None


BAD_CAMERA_INFO = {
    "zero intrinsics": (lambda h: camera_info_message(np.zeros((3, 3)), WIDTH, HEIGHT, h), "focal lengths"),
    "NaN intrinsics": (lambda h: camera_info_message(np.where(K == 150.0, np.nan, K), WIDTH, HEIGHT, h),
                       "non-finite"),
    "calibrated for another size": (lambda h: camera_info_message(K, 640, 480, h), "is for 640x480"),
}


@pytest.mark.parametrize("case", list(BAD_CAMERA_INFO))
def test_bad_camera_info_is_skipped_with_the_reason(ros, standin, case):
    build, detail = BAD_CAMERA_INFO[case]
    seconds = next(EPOCHS)
    before = _skipped(ros, STANDIN_NS, "bad camera_info")
    ros.cameras[STANDIN_NS].info.publish(build(_header(seconds)))
    time.sleep(0.2)
    _send(ros, STANDIN_NS, seconds, info=False)
    assert _wait_skipped(ros, STANDIN_NS, "bad camera_info", before), standin.log_tail()
    assert detail in _diagnostics(ros, STANDIN_NS)["last error"]
    assert _with_stamp(ros.recorders[STANDIN_NS], "hand_object", seconds) == []
    assert standin.process.poll() is None
    _send(ros, STANDIN_NS, seconds + 0.5)  # valid intrinsics again: processed again
    assert _wait_output(ros.recorders[STANDIN_NS], "hand_object", seconds + 0.5)


def test_empty_frame_id_and_nan_estimates_are_skipped(ros, standin):
    t = next(EPOCHS)
    before = _skipped(ros, STANDIN_NS, "no frame_id")
    _send(ros, STANDIN_NS, t, frame_id="")
    assert _wait_skipped(ros, STANDIN_NS, "no frame_id", before)
    before = _skipped(ros, STANDIN_NS, "non-finite estimate")
    poisoned = _scene()
    poisoned[0, 0] = (255, 0, 255)  # the stand-in answers NaN joints
    _send(ros, STANDIN_NS, t + 1.0, poisoned)
    assert _wait_skipped(ros, STANDIN_NS, "non-finite estimate", before), standin.log_tail()
    assert "hand.joints" in _diagnostics(ros, STANDIN_NS)["last error"]
    for seconds in (t, t + 1.0):
        for topic in (*harness.OUTPUT_TOPICS, "tf"):
            assert _with_stamp(ros.recorders[STANDIN_NS], topic, seconds) == [], (topic, seconds)
    assert standin.process.poll() is None


def test_compressed_transport_after_a_lifecycle_round_trip(ros, standin):
    for transition in (Transition.TRANSITION_DEACTIVATE, Transition.TRANSITION_CLEANUP):
        assert _transition(ros, STANDIN_NS, transition)
    assert _lifecycle_state(ros, STANDIN_NS) == "unconfigured"
    assert _set_parameter(ros, STANDIN_NS, "image_transport", "compressed").successful
    for transition in (Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE):
        assert _transition(ros, STANDIN_NS, transition)
    assert _lifecycle_state(ros, STANDIN_NS) == "active"
    _wait_connected(ros, STANDIN_NS)
    camera, recorder = ros.cameras[STANDIN_NS], ros.recorders[STANDIN_NS]
    t = next(EPOCHS)
    for seconds, image_format in ((t, "jpeg"), (t + 0.5, "png")):
        camera.info.publish(camera_info_message(K, WIDTH, HEIGHT, _header(seconds)))
        camera.compressed.publish(CompressedImage(header=_header(seconds), format=image_format,
                                                  data=array("B", encode_rgb(_scene(3), image_format))))
        result = _wait_output(recorder, "hand_object", seconds)
        assert result and result[0].header.frame_id == FRAME, standin.log_tail()
    before = _skipped(ros, STANDIN_NS, "bad image")
    camera.compressed.publish(CompressedImage(header=_header(t + 1.0), format="jpeg", data=array("B", b"garbage")))
    assert _wait_skipped(ros, STANDIN_NS, "bad image", before)
    assert "could not decode" in _diagnostics(ros, STANDIN_NS)["last error"]
    assert standin.process.poll() is None


def test_nothing_published_is_nan(ros, standin):
    recorder = ros.recorders[STANDIN_NS]
    t = next(EPOCHS)
    stamps = (t, t + 0.2, t + 0.4)  # initial boxes, then tracking
    for seconds in stamps:
        _send(ros, STANDIN_NS, seconds, _scene(4))
        assert _wait_output(recorder, "hand_object", seconds), standin.log_tail()
    for topic, count in (("hand_object", 1), ("object_pose", 1), ("hand_joints", 1), ("markers", 1), ("tf", 2)):
        for seconds in stamps:
            messages = _wait_output(recorder, topic, seconds, count)
            assert len(messages) == count, (topic, seconds)
            for message in messages:
                values = np.fromiter(_floats(message), dtype=np.float64)
                assert values.size > 0 and np.all(np.isfinite(values)), (topic, seconds)


def test_real_network_configure_failure_then_lifecycle(ros, mano_dir, tmp_path):
    missing = tmp_path / "no_such_checkpoint.pth"
    node = _start_node(ros, "hfl_ros.ros.perception_node", REAL_NS,
                       {"mano_dir": str(mano_dir), "checkpoint": str(missing), "diagnostics_period": 0.2},
                       tmp_path / "real.log")
    try:
        recorder = ros.recorders[REAL_NS]
        assert recorder.wait_for(lambda r: "configure failed" in (_diagnostics(ros, REAL_NS) or {}).get(
            "message", ""), 90.0), node.log_tail()
        diagnostics = _diagnostics(ros, REAL_NS)
        assert diagnostics["level"] == "2" and str(missing) in diagnostics["message"]
        assert _lifecycle_state(ros, REAL_NS) == "unconfigured" and node.process.poll() is None

        assert _set_parameter(ros, REAL_NS, "checkpoint", "").successful  # untrained weights
        assert _transition(ros, REAL_NS, Transition.TRANSITION_CONFIGURE), node.log_tail()
        assert _transition(ros, REAL_NS, Transition.TRANSITION_ACTIVATE)
        _wait_connected(ros, REAL_NS)
        t = next(EPOCHS)
        _send(ros, REAL_NS, t)
        outputs = {topic: _wait_output(recorder, topic, t, timeout=120.0) for topic in harness.OUTPUT_TOPICS}
        for topic, messages in outputs.items():
            assert messages, f"no {topic} from the real network for the frame stamped {t}\n{node.log_tail()}"
        for message in outputs["hand_object"]:
            assert message.untrained and message.header.frame_id == FRAME
            assert np.all(np.isfinite(np.fromiter(_floats(message), dtype=np.float64)))
            assert _unit(message.hand.wrist_pose.orientation)
        assert node.process.poll() is None
    finally:
        stop_process(node.process)
