"""Integration tests: perception_node as its own process, driven over real rclpy + Fast DDS.

The node runs with the shipped config/perception.yaml (plus a MANO directory and a few test overrides)
on a DDS domain of its own, discovering peers on this host only. Most tests use the real node process
with a deterministic stand-in for the network (test/ros/standin_node.py: known estimates, fixed delay),
the real box policy, hand detector (MediaPipe) and temporal filter; the last one runs the real network
(untrained) through the lifecycle.

The stand-in node process is shared, but each test stands alone: the `standin` fixture first brings the
node back to its start state (active, STANDIN_PARAMETERS, the default object) whatever an earlier test
left, and each test stamps its frames from its own epoch, 100 s past any other test's, so that no track,
external ROI or filter state carries over between tests (the filter restarts after a gap).
"""

import itertools
import math
import os
import threading
import time
from array import array
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional

import numpy as np
import pytest
import torch
import yaml

rclpy = pytest.importorskip("rclpy", exc_type=ImportError,
                            reason="rclpy is not importable: run scripts/setup_ros.sh (ROS 2 Jazzy wheels)")

from geometry_msgs.msg import PoseArray  # noqa: E402
from lifecycle_msgs.msg import Transition  # noqa: E402
from lifecycle_msgs.srv import ChangeState, GetState  # noqa: E402
from rcl_interfaces.msg import Parameter as ParameterMsg  # noqa: E402
from rcl_interfaces.msg import ParameterType, ParameterValue  # noqa: E402
from rcl_interfaces.srv import GetParameters, SetParameters  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data  # noqa: E402
from rclpy.signals import SignalHandlerOptions  # noqa: E402
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, RegionOfInterest  # noqa: E402
from std_msgs.msg import Header  # noqa: E402
from visualization_msgs.msg import Marker  # noqa: E402

from hfl_ros.constants import BOX_EDGES, JOINT_NAMES, JOINT_PARENTS, NUM_JOINTS, NUM_MANO_FACES  # noqa: E402
from hfl_ros.evaluation.tracking_scenes import render_sequence  # noqa: E402
from hfl_ros.geometry.boxes import box_iou  # noqa: E402
from hfl_ros.geometry.object_pose import ObjectPoseSettings  # noqa: E402
from hfl_ros.geometry.rotations import quaternion_to_matrix  # noqa: E402
from hfl_ros.ros import conversions  # noqa: E402  (first: makes the generated hfl_ros.msg importable)
from hfl_ros.msg import HandObjectRois, Hands  # noqa: E402
from hfl_ros.ros import outputs  # noqa: E402
from hfl_ros.ros.conversions import box_from_roi, camera_info_message, image_message, roi_from_box, \
    stamp_seconds  # noqa: E402
from hfl_ros.ros.demo import isolated_environment, node_parameters, start_process, stop_process  # noqa: E402
from hfl_ros.ros.image_conversion import encode_rgb  # noqa: E402
from hfl_ros.ros.parameters import PARAMETERS, NodeSettings  # noqa: E402
from hfl_ros.apps import video  # noqa: E402
from hfl_ros.data.io import write_rgb  # noqa: E402
from hfl_ros.filtering.trajectory import read_trajectory  # noqa: E402

import harness  # noqa: E402  (test/ros/harness.py)
from standin_node import StandInEstimator  # noqa: E402  (test/ros/standin_node.py)

REPO = Path(__file__).resolve().parents[2]
STANDIN = str(Path(__file__).with_name("standin_node.py"))
SHIPPED_YAML = str(REPO / "config" / "perception.yaml")
FRAME = "hfl_test_camera_optical_frame"
WIDTH, HEIGHT = 160, 120
K = np.array([[150.0, 0.0, 80.0], [0.0, 150.0, 60.0], [0.0, 0.0, 1.0]])
STANDIN_DELAY = 0.25
MAX_PIXELS = 400_000
#: Parameters the stand-in node starts with (over the shipped file) and that tests change; the `standin`
#: fixture restores them. Boxes from the fixed ROI unless a test turns the detector on.
STANDIN_PARAMETERS = {"image_transport": "raw", "detector": False, "use_initial_roi": True, "filter": True,
                      "outputs_filtered": True, "publish_joint_tf": False, "pipeline": True, "max_hands": 1,
                      # the stand-in's flat hand boxes to ~57 x 8 px in the 64 x 60 px initial ROI: the
                      # policy's plausibility bounds (area and aspect change x1.5 per frame against the box
                      # the network was given) would end every ROI track before the joints box the hand
                      "track_max_area_change": 10.0, "track_max_aspect_change": 10.0}
#: The stand-in's hand and object depths (test/ros/standin_node.py).
STANDIN_HAND_DEPTH = 0.5
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
                                                  "diagnostics_period": 0.2, "log_throttle": 0.0,
                                                  **STANDIN_PARAMETERS},
                       log, {"HFL_STANDIN_DELAY": str(STANDIN_DELAY)})
    try:
        assert _wait_state(ros, STANDIN_NS, "active"), node.log_tail()
        _wait_connected(ros, STANDIN_NS)
        yield node
    finally:
        stop_process(node.process)


@pytest.fixture()
def standin(ros: Ros, standin_process: NodeProcess) -> NodeProcess:
    """The stand-in node in its start state (active, STANDIN_PARAMETERS, the default object), whatever an
    earlier test changed."""
    current = _get_parameters(ros, STANDIN_NS, list(STANDIN_PARAMETERS))
    changed = {name: value for name, value in STANDIN_PARAMETERS.items() if current[name] != value}
    if changed:
        _reconfigure(ros, STANDIN_NS, **changed)
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


def _get_parameters(ros: Ros, namespace: str, names: List[str]) -> Dict[str, object]:
    """Name -> value (bool or str parameters)."""
    response = _call(ros, GetParameters, f"{namespace}/perception_node/get_parameters",
                     GetParameters.Request(names=names))
    return {name: value.bool_value if value.type == ParameterType.PARAMETER_BOOL else value.string_value
            for name, value in zip(names, response.values)}


def _get_parameter(ros: Ros, namespace: str, name: str) -> object:
    return _get_parameters(ros, namespace, [name])[name]


def _set_parameters(ros: Ros, namespace: str, **values: object) -> list:
    """Set bool, int, float or str parameters in one call; the SetParametersResult of each."""
    def value_of(value: object) -> ParameterValue:
        if isinstance(value, bool):
            return ParameterValue(type=ParameterType.PARAMETER_BOOL, bool_value=value)
        if isinstance(value, int):
            return ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=value)
        if isinstance(value, float):
            return ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=value)
        return ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=value)

    parameters = [ParameterMsg(name=name, value=value_of(value)) for name, value in values.items()]
    response = _call(ros, SetParameters, f"{namespace}/perception_node/set_parameters",
                     SetParameters.Request(parameters=parameters))
    return list(response.results)


def _set_parameter(ros: Ros, namespace: str, name: str, value: object):
    return _set_parameters(ros, namespace, **{name: value})[0]


def _transition(ros: Ros, namespace: str, transition_id: int) -> bool:
    request = ChangeState.Request(transition=Transition(id=transition_id))
    return _call(ros, ChangeState, f"{namespace}/perception_node/change_state", request, timeout=120.0).success


def _lifecycle_state(ros: Ros, namespace: str) -> str:
    return _call(ros, GetState, f"{namespace}/perception_node/get_state", GetState.Request()).current_state.label


def _reconfigure(ros: Ros, namespace: str, **values: object) -> None:
    """Bring the node down to unconfigured, set parameters read at configure, configure and activate."""
    state = _lifecycle_state(ros, namespace)
    if state == "active":
        assert _transition(ros, namespace, Transition.TRANSITION_DEACTIVATE)
    if state in ("active", "inactive"):
        assert _transition(ros, namespace, Transition.TRANSITION_CLEANUP)
    assert all(result.successful for result in _set_parameters(ros, namespace, **values))
    for transition in (Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE):
        assert _transition(ros, namespace, transition)
    _wait_connected(ros, namespace)


def _send_with_rois(ros: Ros, namespace: str, seconds: float, hand_box, object_box=None, object_class: str = "",
                    side: str = "") -> object:
    """External ROIs for the frame stamped `seconds` (None = a box not given), then the frame; its
    hand_object."""
    def roi(box):
        return RegionOfInterest() if box is None else roi_from_box(np.asarray(box, float), WIDTH, HEIGHT)

    ros.cameras[namespace].rois.publish(HandObjectRois(header=_header(seconds), hand=roi(hand_box),
                                                       object=roi(object_box), object_class=object_class,
                                                       side=side))
    time.sleep(0.2)
    _send(ros, namespace, seconds)
    results = _wait_output(ros.recorders[namespace], "hand_object", seconds)
    assert results, f"no hand_object for the frame stamped {seconds}"
    return results[0]


def _position(pose) -> np.ndarray:
    return np.array([pose.position.x, pose.position.y, pose.position.z])


def _xyz(points) -> np.ndarray:
    return np.array([[p.x, p.y, p.z] for p in points])


def _transforms(recorder: harness.OutputRecorder, seconds: float, count: int = 1) -> Dict[str, object]:
    """Child frame -> TransformStamped of the TF published for the frame stamped `seconds`."""
    return {t.child_frame_id: t for t in _wait_output(recorder, "tf", seconds, count)}


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
        assert all(h.frame_id == FRAME for h in headers) or topic == "hand_joints_wrist", topic

    result = outputs["hand_object"][0]
    assert result.untrained and result.hand_found and result.object.name == "006_mustard_bottle"
    assert (result.hand_box_source, result.object_box_source, result.hand.side) == ("roi", "roi", "right")
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

    wrist_joints = outputs["hand_joints_wrist"][0]
    assert wrist_joints.header.frame_id == "hfl/right_wrist" and len(wrist_joints.poses) == NUM_JOINTS

    transforms = {t.child_frame_id: t for t in outputs["tf"]}
    assert set(transforms) == {"hfl/right_wrist", "hfl/object"}
    assert all(_unit(t.transform.rotation) for t in transforms.values())
    wrist = transforms["hfl/right_wrist"].transform.translation
    assert (wrist.x, wrist.y, wrist.z) == pytest.approx(
        (result.hand.joints[0].x, result.hand.joints[0].y, result.hand.joints[0].z))

    debug = outputs["debug_image"][0]
    assert (debug.width, debug.height, debug.encoding) == (WIDTH, HEIGHT, "rgb8")
    overlay = np.frombuffer(debug.data, np.uint8).reshape(HEIGHT, WIDTH, 3)
    assert (overlay != rgb).any(axis=2).mean() > 0.01  # the estimate is drawn over the frame


def test_box_sources_roi_tracking_external_then_roi_again(ros, standin):
    recorder = ros.recorders[STANDIN_NS]
    t = next(EPOCHS)
    _send(ros, STANDIN_NS, t)
    first = _wait_output(recorder, "hand_object", t)[0]
    assert (first.hand_box_source, first.object_box_source) == ("roi", "roi")
    _send(ros, STANDIN_NS, t + 0.2)
    tracked = _wait_output(recorder, "hand_object", t + 0.2)[0]
    assert (tracked.hand_box_source, tracked.object_box_source) == ("tracking", "tracking")
    joints_2d = np.array([[p.x, p.y] for p in first.hand.joints_2d])
    centre = (joints_2d.min(0) + joints_2d.max(0)) / 2
    half = np.maximum((joints_2d.max(0) - joints_2d.min(0)) * 1.1 * 1.2 / 2, 24.0 / 2)  # x1.1 x margin, min size
    expected = np.clip(np.concatenate((centre - half, centre + half)), 0, [WIDTH, HEIGHT] * 2)
    np.testing.assert_allclose(box_from_roi(tracked.hand.box), box_from_roi(roi_from_box(expected, WIDTH, HEIGHT)))

    hand_box, object_box = np.array([10.0, 12.0, 70.0, 90.0]), np.array([60.0, 30.0, 120.0, 100.0])
    external = _send_with_rois(ros, STANDIN_NS, t + 0.4, hand_box, object_box)
    assert (external.hand_box_source, external.object_box_source) == ("external", "external")
    np.testing.assert_array_equal(box_from_roi(external.hand.box), hand_box)
    np.testing.assert_array_equal(box_from_roi(external.object.box), object_box)

    _send(ros, STANDIN_NS, t + 9.0)  # past both ages
    assert _wait_output(recorder, "hand_object", t + 9.0)[0].hand_box_source == "roi"


def test_external_rois_give_the_object_class_and_the_left_hand_in_messages_and_tf(ros, standin):
    recorder = ros.recorders[STANDIN_NS]
    t = next(EPOCHS)
    hand_box = np.array([30.0, 20.0, 90.0, 100.0])
    left = _send_with_rois(ros, STANDIN_NS, t, hand_box, object_class="025_mug", side="left")
    assert (left.hand.side, left.object.name, left.hand_box_source) == ("left", "025_mug", "external")
    assert left.object_box_source in ("hand", "refined") and 1 <= left.passes <= 3  # no object box given
    # the stand-in puts the wrist on the ray through the hand box's centre of the image it is given: the
    # mirrored image for a left hand; mirrored back, the wrist lies on the ray through this box's centre
    u, v = (hand_box[:2] + hand_box[2:]) / 2
    expected = STANDIN_HAND_DEPTH * np.array([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], 1.0])
    np.testing.assert_allclose(_position(left.hand.wrist_pose), expected, atol=1e-9)
    transforms = _transforms(recorder, t, count=2)
    assert set(transforms) == {"hfl/left_wrist", "hfl/object"}
    assert _wait_output(recorder, "hand_joints_wrist", t)[0].header.frame_id == "hfl/left_wrist"

    unknown = _send_with_rois(ros, STANDIN_NS, t + 0.2, hand_box, object_class="no_such_object")
    assert (unknown.hand.side, unknown.object.name) == ("right", PARAMETERS["object"].default)
    assert "external ROI object class 'no_such_object' is not registered" in standin.log.read_text()


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


@pytest.fixture(scope="module")
def rendered_hand():
    """A 640x480 rendered frame whose procedural hand MediaPipe finds (the detector tests' seed 18)."""
    return render_sequence(18, 1)[0]


def test_detector_boxes_the_hand_each_frame_and_a_frame_without_hand_has_no_outputs(ros, standin,
                                                                                  rendered_hand):
    _reconfigure(ros, STANDIN_NS, detector=True, use_initial_roi=False)
    recorder, camera = ros.recorders[STANDIN_NS], ros.cameras[STANDIN_NS]
    image, K_rendered = rendered_hand.image, rendered_hand.annotation.K
    height, width = image.shape[:2]
    blank = np.full_like(image, 128)
    t = next(EPOCHS)
    results = {}
    for seconds, rgb in ((t, image), (t + 0.1, image), (t + 10.0, blank), (t + 20.0, image)):
        camera.info.publish(camera_info_message(K_rendered, width, height, _header(seconds)))
        camera.image.publish(image_message(rgb, _header(seconds)))
        found = _wait_output(recorder, "hand_object", seconds)
        assert found, f"no hand_object for the frame stamped {seconds}\n{standin.log_tail()}"
        results[seconds] = found[0]
    detected, followed, nothing, again = results.values()
    assert (detected.hand_found, detected.hand_box_source) == (True, "detector")
    assert box_iou(box_from_roi(detected.hand.box), rendered_hand.hand_box) > 0.5
    assert detected.object_box_source in ("hand", "refined")
    # detect_every 1: the landmarks box the hand again; the object box follows from the previous frame
    assert (followed.hand_found, followed.hand_box_source, followed.object_box_source) == (True, "detector", "tracking")
    assert followed.track_id == detected.track_id > 0 and followed.object_track_id == detected.object_track_id
    assert not nothing.hand_found and (nothing.hand_box_source, nothing.object.name) == ("", "")
    assert (again.hand_found, again.hand_box_source) == (True, "detector")  # re-acquired
    time.sleep(1.0)  # anything published for the frame without hand would have arrived
    for topic in ("object_pose", "hand_joints", "hand_joints_wrist", "tf"):
        assert _with_stamp(recorder, topic, t + 10.0) == [], topic
        assert _with_stamp(recorder, topic, t + 20.0), topic
    diagnostics = _fresh_diagnostics(ros, STANDIN_NS)
    assert (diagnostics["detector runs"], diagnostics["track losses"], diagnostics["reacquisitions"],
            diagnostics["track ends"]) == ("4", "1", "1", "stale:1"), diagnostics
    assert int(diagnostics["frames without hand"]) >= 1 and float(diagnostics["detector p50 (s)"]) > 0


def _moving_hand(ros: Ros, t: float, frames: int) -> List[object]:
    """hand_object of `frames` frames 0.1 s apart whose external hand box moves 3 px right per frame
    (the stand-in's wrist then moves 10 mm per frame at its depth)."""
    return [_send_with_rois(ros, STANDIN_NS, t + 0.1 * k, [10.0 + 3 * k, 40.0, 50.0 + 3 * k, 80.0])
            for k in range(frames)]


def _pose_matrix(pose) -> np.ndarray:
    q = pose.orientation
    matrix = np.eye(4)
    rotation = quaternion_to_matrix(torch.tensor([q.w, q.x, q.y, q.z], dtype=torch.float64)).numpy()
    matrix[:3, :3], matrix[:3, 3] = rotation, _position(pose)
    return matrix


def test_filtered_hand_and_object_on_tf_pose_topics_and_the_wrist_frame_then_gate_and_time_reset(ros, standin):
    recorder = ros.recorders[STANDIN_NS]
    t = next(EPOCHS)
    results = _moving_hand(ros, t, 5)
    assert results[0].hand_filtered.reset == "start" and results[0].object_filtered.reset == "start"
    last, stamp = results[-1], t + 0.4
    hand, obj = last.hand_filtered, last.object_filtered
    assert hand.valid and obj.valid and not hand.gated and hand.reset == ""
    wrist = _pose_matrix(hand.wrist_pose)
    np.testing.assert_allclose(_xyz(hand.joints_wrist) @ wrist[:3, :3].T + wrist[:3, 3], _xyz(hand.joints),
                               atol=1e-9)
    lag = np.linalg.norm(_position(hand.wrist_pose) - _position(last.hand.wrist_pose))
    assert lag > 1e-3, f"filtered and raw wrist are {lag} m apart: nothing to tell them by"
    tf_wrist = _transforms(recorder, stamp, count=2)["hfl/right_wrist"].transform.translation
    np.testing.assert_allclose([tf_wrist.x, tf_wrist.y, tf_wrist.z], _position(hand.wrist_pose), atol=1e-9)
    np.testing.assert_allclose(_position(_wait_output(recorder, "object_pose", stamp)[0].pose), _position(obj.pose),
                               atol=1e-9)
    np.testing.assert_allclose([[p.position.x, p.position.y, p.position.z] for p in
                                _wait_output(recorder, "hand_joints", stamp)[0].poses], _xyz(hand.joints), atol=1e-9)
    in_wrist = _wait_output(recorder, "hand_joints_wrist", stamp)[0]
    assert in_wrist.header.frame_id == "hfl/right_wrist" and len(in_wrist.poses) == NUM_JOINTS
    np.testing.assert_allclose([[p.position.x, p.position.y, p.position.z] for p in in_wrist.poses],
                               _xyz(hand.joints_wrist), atol=1e-9)

    before = int(_fresh_diagnostics(ros, STANDIN_NS)["filter hand gated"])
    jump = _send_with_rois(ros, STANDIN_NS, t + 0.5, [90.0, 40.0, 130.0, 80.0])  # the wrist jumps 0.23 m
    assert jump.hand_filtered.gated
    held = _position(jump.hand_filtered.wrist_pose)
    np.testing.assert_allclose(held, _position(hand.wrist_pose), atol=1e-12)  # the last filtered pose, held
    tf_wrist = _transforms(recorder, t + 0.5, count=1)["hfl/right_wrist"].transform.translation
    np.testing.assert_allclose([tf_wrist.x, tf_wrist.y, tf_wrist.z], held, atol=1e-9)
    assert np.linalg.norm(_position(jump.hand.wrist_pose) - held) > 0.2  # the raw estimate did jump
    assert int(_fresh_diagnostics(ros, STANDIN_NS)["filter hand gated"]) == before + 1

    replayed = _send_with_rois(ros, STANDIN_NS, t + 0.05, [10.0, 40.0, 50.0, 80.0])
    assert replayed.hand_filtered.reset == "time_backwards" and not replayed.hand_filtered.gated


def test_raw_outputs_joint_tf_and_filter_off_by_parameter(ros, standin):
    _reconfigure(ros, STANDIN_NS, outputs_filtered=False, publish_joint_tf=True)
    recorder = ros.recorders[STANDIN_NS]
    t = next(EPOCHS)
    last, stamp = _moving_hand(ros, t, 3)[-1], t + 0.2
    transforms = _transforms(recorder, stamp, count=NUM_JOINTS + 1)
    assert set(transforms) == {"hfl/right_wrist", "hfl/object"} | {f"hfl/right_{name}" for name in JOINT_NAMES[1:]}
    wrist = transforms["hfl/right_wrist"].transform.translation
    np.testing.assert_allclose([wrist.x, wrist.y, wrist.z], _position(last.hand.wrist_pose), atol=1e-9)  # raw
    assert last.hand_filtered.valid
    assert np.linalg.norm(_position(last.hand_filtered.wrist_pose) - _position(last.hand.wrist_pose)) > 1e-3
    thumb = transforms["hfl/right_thumb4"]
    assert thumb.header.frame_id == "hfl/right_wrist"
    raw_wrist = _pose_matrix(last.hand.wrist_pose)
    tip = thumb.transform.translation
    np.testing.assert_allclose(raw_wrist[:3, :3] @ [tip.x, tip.y, tip.z] + raw_wrist[:3, 3],
                               _xyz(last.hand.joints)[JOINT_NAMES.index("thumb4")], atol=1e-9)

    _reconfigure(ros, STANDIN_NS, filter=False)
    unfiltered = _send_with_rois(ros, STANDIN_NS, t + 1.0, [10.0, 40.0, 50.0, 80.0])
    assert not unfiltered.hand_filtered.valid and not unfiltered.object_filtered.valid
    assert _fresh_diagnostics(ros, STANDIN_NS)["filter"] == "off"


@pytest.mark.parametrize("pipeline", [True, False], ids=["pipeline", "one stage"])
def test_burst_of_100_frames_leaves_no_backlog_and_outputs_in_order(ros, standin, pipeline):
    if not pipeline:
        _reconfigure(ros, STANDIN_NS, pipeline=False)
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
    published = [stamp_seconds(m.header.stamp) for m in outputs]
    assert published == sorted(set(published)), "outputs out of order or repeated"
    # Beyond what the burst's duration lets the network run: the newest frame, and with the pipeline the one
    # prepared frame that waits between the stages.
    in_flight = 3 if pipeline else 2
    assert len(outputs) <= burst / STANDIN_DELAY + in_flight, \
        f"{len(outputs)} outputs for a {burst:.2f} s burst: backlog"
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
    "huge image": (_raw(encoding="mono8", width=1000, height=500), "bad image", "image too large"),
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


def test_untrained_notice_is_one_warning_also_after_a_reconfigure(ros, standin):
    """Without a checkpoint the node works as designed: the notice is a WARN line, logged once per process."""
    _reconfigure(ros, STANDIN_NS, log_throttle=0.0)  # a second configure of the same node
    log = standin.log.read_text(errors="replace")
    notices = [line for line in log.splitlines() if "no checkpoint given (parameter `checkpoint`)" in line]
    assert len(notices) == 1, standin.log_tail()
    assert notices[0].startswith("[WARN]"), notices[0]


def test_real_network_configure_fails_naming_the_detector_extra_then_the_checkpoint_then_lifecycle(
        ros, mano_dir, tmp_path):
    hidden = tmp_path / "no_mediapipe" / "mediapipe"  # `import mediapipe` fails in the node process
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text('raise ImportError("mediapipe is hidden by the test")\n')
    missing = tmp_path / "no_such_checkpoint.pth"
    node = _start_node(ros, "hfl_ros.ros.perception_node", REAL_NS,
                       {"mano_dir": str(mano_dir), "checkpoint": str(missing), "diagnostics_period": 0.2,
                        "use_initial_roi": True, "min_object_inliers": 0},  # detector: true, as shipped
                       tmp_path / "real.log",
                       {"PYTHONPATH": os.pathsep.join((str(hidden.parent), ros.env.get("PYTHONPATH", "")))})
    try:
        recorder = ros.recorders[REAL_NS]
        assert recorder.wait_for(lambda r: "configure failed" in (_diagnostics(ros, REAL_NS) or {}).get(
            "message", ""), 90.0), node.log_tail()
        diagnostics = _diagnostics(ros, REAL_NS)
        assert diagnostics["level"] == "2" and 'install the "detector" extra' in diagnostics["message"]
        assert "DetectorUnavailableError" in diagnostics["message"]
        assert _lifecycle_state(ros, REAL_NS) == "unconfigured" and node.process.poll() is None

        assert _set_parameter(ros, REAL_NS, "detector", False).successful
        assert not _transition(ros, REAL_NS, Transition.TRANSITION_CONFIGURE)
        assert recorder.wait_for(lambda r: str(missing) in (_diagnostics(ros, REAL_NS) or {}).get("message", ""),
                                 30.0), node.log_tail()
        assert _lifecycle_state(ros, REAL_NS) == "unconfigured"

        assert _set_parameter(ros, REAL_NS, "checkpoint", "").successful  # untrained weights
        assert _transition(ros, REAL_NS, Transition.TRANSITION_CONFIGURE), node.log_tail()
        # the untrained notice is the node's one WARN line; the estimator's own Python warning stays off
        log = node.log.read_text(errors="replace")
        notices = [line for line in log.splitlines() if "UNTRAINED" in line]
        assert len(notices) == 1 and notices[0].startswith("[WARN]"), node.log_tail()
        # the shipped default runtime (auto) runs the exported network on ONNX Runtime on the CPU
        assert "network on onnx" in log, node.log_tail()
        assert _transition(ros, REAL_NS, Transition.TRANSITION_ACTIVATE)
        _wait_connected(ros, REAL_NS)
        t = next(EPOCHS)
        _send(ros, REAL_NS, t)
        always = [topic for topic in harness.OUTPUT_TOPICS if topic != "object_pose"]
        outputs = {topic: _wait_output(recorder, topic, t, timeout=120.0) for topic in always}
        for topic, messages in outputs.items():
            assert messages, f"no {topic} from the real network for the frame stamped {t}\n{node.log_tail()}"
        # Untrained maps give PnP random correspondences: a pose or none (a far-off solution is none). With
        # min_object_inliers 0, object_pose goes out exactly when the frame's estimate has a pose, in range.
        has_pose = outputs["hand_object"][0].object.has_pose
        poses = _wait_output(recorder, "object_pose", t, timeout=120.0 if has_pose else 3.0)
        assert len(poses) == int(has_pose), f"has_pose {has_pose}, object_pose messages {len(poses)}"
        for pose in poses:
            assert pose.header.frame_id == FRAME and 0.0 < pose.pose.position.z <= ObjectPoseSettings().max_depth
        for message in outputs["hand_object"]:
            assert message.untrained and message.header.frame_id == FRAME
            assert np.all(np.isfinite(np.fromiter(_floats(message), dtype=np.float64)))
            assert _unit(message.hand.wrist_pose.orientation)
        assert node.process.poll() is None
    finally:
        stop_process(node.process)


#: Frames of the clip that the node and hfl-video both process, and its rate (Hz).
CLIP_FRAMES, CLIP_FPS = 6, 10.0
#: hfl-video writes metres, pixels and rotation entries to 6 decimals: half a unit of the last one, plus
#: float64 round-off of the node's quaternion <-> matrix conversions.
VIDEO_ROUNDING = 5e-7 + 1e-9


def _shipped_parameters() -> dict:
    """config/perception.yaml's parameters, as the node reads them."""
    return yaml.safe_load(Path(SHIPPED_YAML).read_text())["/**"]["ros__parameters"]


def _rotation(orientation) -> np.ndarray:
    return quaternion_to_matrix(torch.tensor([orientation.w, orientation.x, orientation.y, orientation.z],
                                             dtype=torch.float64)).numpy()


def _pose_of(pose) -> np.ndarray:
    matrix = np.eye(4)
    matrix[:3, :3] = _rotation(pose.orientation)
    matrix[:3, 3] = (pose.position.x, pose.position.y, pose.position.z)
    return matrix


def _xyz_of(points) -> np.ndarray:
    return np.array([[p.x, p.y, p.z] for p in points])


def test_node_over_dds_and_hfl_video_give_the_same_raw_and_filtered_outputs(ros, standin, mano_dir, tmp_path):
    """One rendered clip through the node (real DDS, real detector, policy, gate and filter; the stand-in
    network) and through hfl-video (in this process, the same stand-in): equal frame for frame."""
    sequence = render_sequence(18, CLIP_FRAMES)
    K_clip = sequence[0].annotation.K
    clip = tmp_path / "clip"
    clip.mkdir()
    for index, frame in enumerate(sequence):
        write_rgb(clip / f"{index:03d}.png", frame.image)  # lossless: both see the same pixels
    args = video.parse_args([str(clip), "--output", str(tmp_path / "out"), "--fps", str(CLIP_FPS), "--no-overlay",
                             "--fx", str(K_clip[0, 0]), "--fy", str(K_clip[1, 1]), "--cx", str(K_clip[0, 2]),
                             "--cy", str(K_clip[1, 2])])
    same_settings = {"detector": True, "use_initial_roi": False, "track_max_area_change": 1.5,
                     "track_max_aspect_change": 1.5}
    node_settings = NodeSettings.from_values({**_shipped_parameters(), **STANDIN_PARAMETERS, **same_settings,
                                              "mano_dir": str(mano_dir)})
    assert node_settings.perception_settings() == video.perception_settings(args)  # one pipeline, one setting

    standin_estimator = StandInEstimator.from_files(None, str(mano_dir))
    standin_estimator.delay = 0.0
    assert video.run(args, estimator=standin_estimator) == 0
    records = read_trajectory(tmp_path / "out" / video.TRAJECTORY)

    _reconfigure(ros, STANDIN_NS, **same_settings)
    recorder, camera = ros.recorders[STANDIN_NS], ros.cameras[STANDIN_NS]
    t = next(EPOCHS)
    messages = []
    for index, frame in enumerate(sequence):  # one at a time: each frame's stage 1 after the previous stage 2
        seconds = t + index / CLIP_FPS
        height, width = frame.image.shape[:2]
        camera.info.publish(camera_info_message(K_clip, width, height, _header(seconds)))
        camera.image.publish(image_message(frame.image, _header(seconds)))
        found = _wait_output(recorder, "hand_object", seconds)
        assert found, f"no hand_object for frame {index}\n{standin.log_tail()}"
        messages.append(found[0])

    assert len(records) == len(messages) == CLIP_FRAMES
    assert sum(message.hand_found for message in messages) >= CLIP_FRAMES - 1  # the clip shows the hand
    for index, (record, message) in enumerate(zip(records, messages)):
        assert (record["hand"] is not None) == message.hand_found, index
        if not message.hand_found:
            continue
        hand, obj = record["hand"], record["object"]
        assert (hand["side"], hand["box_source"], obj["box_source"], record["passes"]) == \
            (message.side, message.hand_box_source, message.object_box_source, message.passes), index
        assert (hand["track_id"], obj["track_id"]) == (message.track_id, message.object_track_id), index
        assert box_from_roi(message.hand.box).tolist() == box_from_roi(roi_from_box(
            np.array(hand["box"]), frame.image.shape[1], frame.image.shape[0])).tolist(), index
        np.testing.assert_allclose(_xyz_of(message.hand.joints), hand["joints"], rtol=0, atol=VIDEO_ROUNDING)
        np.testing.assert_allclose([[p.x, p.y] for p in message.hand.joints_2d], hand["joints_2d"], rtol=0,
                                   atol=VIDEO_ROUNDING * 1e3)  # px of ~1e2: 6 decimals of a 3-digit number
        np.testing.assert_allclose(_pose_of(message.hand.wrist_pose), hand["wrist_pose"], rtol=0,
                                   atol=VIDEO_ROUNDING)
        assert message.object.has_pose == (obj["pose"] is not None), index
        if obj["pose"] is not None:
            np.testing.assert_allclose(_pose_of(message.object.pose), obj["pose"], rtol=0, atol=VIDEO_ROUNDING)
        filtered = message.hand_filtered
        assert filtered.valid == (hand["filtered"] is not None), index
        if filtered.valid:
            assert (filtered.gated, filtered.reset or None) == (hand["filtered"]["gated"], hand["filtered"]["reset"])
            np.testing.assert_allclose(_xyz_of(filtered.joints), hand["filtered"]["joints"], rtol=0,
                                       atol=VIDEO_ROUNDING)
            np.testing.assert_allclose(_xyz_of(filtered.joints_wrist), hand["filtered"]["joints_wrist"], rtol=0,
                                       atol=VIDEO_ROUNDING)
            np.testing.assert_allclose(_pose_of(filtered.wrist_pose), hand["filtered"]["wrist_pose"], rtol=0,
                                       atol=VIDEO_ROUNDING)
        filtered_object = message.object_filtered
        assert filtered_object.valid == (obj["filtered"] is not None), index
        if filtered_object.valid:
            np.testing.assert_allclose(_pose_of(filtered_object.pose), obj["filtered"]["pose"], rtol=0,
                                       atol=VIDEO_ROUNDING)


def test_two_hands_each_get_their_message_entry_tf_frames_joint_topics_and_markers(ros, standin, mano_dir,
                                                                                   tmp_path):
    """max_hands 2 over DDS: a right hand and its mirror image (a left hand) side by side in one frame; the
    same frame through `hfl-video --max-hands 2 --mcap` (the same stand-in) records the same topics, TF frames
    and marker namespaces."""
    frame = render_sequence(18, 1)[0]
    width = frame.image.shape[1]
    top, bottom = 120, 420  # the rows with the hands: 1280 x 300 px, under the node's max_image_pixels
    image = np.ascontiguousarray(np.concatenate((frame.image[top:bottom, ::-1], frame.image[top:bottom]), axis=1))
    K_pair = frame.annotation.K.copy()
    K_pair[0, 2] += width
    K_pair[1, 2] -= top
    recorder, camera = ros.recorders[STANDIN_NS], ros.cameras[STANDIN_NS]
    reliable = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
    recorder.record(Hands, f"{STANDIN_NS}/hands", "hands", reliable)
    for side in ("right", "left"):
        for topic in ("hand_joints", "hand_joints_wrist"):
            recorder.record(PoseArray, f"{STANDIN_NS}/{side}/{topic}", f"{side}/{topic}", reliable)
    if outputs.vision is not None:
        for topic in (outputs.DETECTIONS_3D, outputs.DETECTIONS_2D):
            recorder.record(outputs.topic_types(2)[topic], f"{STANDIN_NS}/{topic}", topic, reliable)
    _reconfigure(ros, STANDIN_NS, detector=True, use_initial_roi=False, max_hands=2)
    t = next(EPOCHS)
    camera.info.publish(camera_info_message(K_pair, 2 * width, image.shape[0], _header(t)))
    camera.image.publish(image_message(image, _header(t)))
    hands = _wait_output(recorder, "hands", t)
    assert hands, standin.log_tail()
    entries = {entry.side: entry for entry in hands[0].hands}
    assert sorted(entries) == ["left", "right"] and all(entry.hand_found for entry in hands[0].hands)
    assert entries["right"].track_id != entries["left"].track_id
    assert entries["right"].hand.box.x_offset > width > entries["left"].hand.box.x_offset + entries["left"].hand.box.width
    primary = _wait_output(recorder, "hand_object", t)[0]
    assert (primary.side, primary.track_id) == (hands[0].hands[0].side, hands[0].hands[0].track_id)
    for side in ("right", "left"):
        joints = _wait_output(recorder, f"{side}/hand_joints_wrist", t)
        assert joints and joints[0].header.frame_id == f"hfl/{side}_wrist" and len(joints[0].poses) == NUM_JOINTS
    recorder.wait_for(lambda r: len({transform.child_frame_id for transform in _with_stamp(r, "tf", t)}) >= 4,
                      OUTPUT_TIMEOUT)
    frames = {transform.child_frame_id: transform for transform in _with_stamp(recorder, "tf", t)}
    assert set(frames) == {"hfl/right_wrist", "hfl/left_wrist", "hfl/right_object", "hfl/left_object"}
    for side in ("right", "left"):  # each wrist where its hand's message puts it
        wrist, joint = frames[f"hfl/{side}_wrist"].transform.translation, entries[side].hand.joints[0]
        assert (wrist.x, wrist.y, wrist.z) == pytest.approx((joint.x, joint.y, joint.z))
    recorder.wait_for(lambda r: len({m.ns for a in _with_stamp(r, "markers", t) for m in a.markers}) >= 2,
                      OUTPUT_TIMEOUT)
    namespaces = {marker.ns for array in _with_stamp(recorder, "markers", t) for marker in array.markers}
    assert namespaces == {"hfl_ros/right", "hfl_ros/left"}

    still = tmp_path / "pair"
    still.mkdir()
    write_rgb(still / "000.png", image)
    args = video.parse_args([str(still), "--output", str(tmp_path / "out"), "--no-overlay", "--max-hands", "2",
                             "--mcap", "--fx", str(K_pair[0, 0]), "--fy", str(K_pair[1, 1]),
                             "--cx", str(K_pair[0, 2]), "--cy", str(K_pair[1, 2])])
    standin_estimator = StandInEstimator.from_files(None, str(mano_dir))
    standin_estimator.delay = 0.0
    assert video.run(args, estimator=standin_estimator) == 0
    with pytest.importorskip("rosbags.highlevel").AnyReader([tmp_path / "out" / "outputs.mcap"]) as reader:
        recorded = [(connection.topic, reader.deserialize(raw, connection.msgtype))
                    for connection, _, raw in reader.messages()]
    node_counts = {f"/{topic}": len(_with_stamp(recorder, topic, t)) for topic in outputs.topic_types(2)
                   if topic != outputs.TF and _with_stamp(recorder, topic, t)}
    bag_counts = Counter(topic for topic, _ in recorded if topic != outputs.TF)
    assert dict(bag_counts) == node_counts
    bag_frames = {transform.child_frame_id for topic, message in recorded if topic == outputs.TF
                  for transform in message.transforms}
    assert bag_frames == set(frames)
    assert {m.ns for topic, array in recorded if topic == "/markers" for m in array.markers} == namespaces
    bag_hands = next(message for topic, message in recorded if topic == "/hands")
    assert [entry.side for entry in bag_hands.hands] == [entry.side for entry in hands[0].hands]
