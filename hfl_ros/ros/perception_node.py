"""`perception_node`: the HFL-Net hand-object perception lifecycle node.

Subscribes (relative names, remappable): `image` (sensor_msgs/Image, or `image/compressed` with
image_transport:=compressed), `camera_info`, and optionally `rois` (hfl_ros/HandObjectRois).
Publishes: `hand_object` (hfl_ros/HandObject: raw and filtered estimate, box sources), `object_pose`
(geometry_msgs/PoseStamped), `hand_joints` and `hand_joints_wrist` (geometry_msgs/PoseArray, camera and
wrist frame), `markers` (visualization_msgs/MarkerArray) and `debug_image` (sensor_msgs/Image), both built
only while subscribed, TF on /tf (tf2_msgs/TFMessage: <prefix><side>_wrist, <prefix>object) and /diagnostics;
`hands` (hfl_ros/Hands: every hand of the frame, primary first, each a HandObject with its side, track ids
and its object). With max_hands 2 (one right and one left hand) every hand also gets TF
<prefix><side>_wrist and <prefix><side>_object (its object; an object in both hands is published under
both names with one pose), `<side>/hand_joints` and `<side>/hand_joints_wrist`, and markers in the
namespace hfl_ros/<side>; `hand_object`, `object_pose`, `hand_joints` and `hand_joints_wrist` carry the
primary hand (the one `hand_selection` picks), as with max_hands 1;
with vision_msgs installed, `detections_3d` (vision_msgs/Detection3DArray: every held object) and
`detections_2d` (vision_msgs/Detection2DArray: hands and object boxes), see hfl_ros.ros.vision.

Frames are processed off the callback, newest first: a frame arriving while another waits replaces it
(counted as dropped). With `pipeline` (hfl_ros.ros.worker.PipelineWorker) stage 1 decodes the newest
frame, checks its intrinsics and runs the hand detector when due (PerceptionPipeline.detect) while
stage 2 runs the rest on the previous frame; without it one thread does both. Stage 2 runs the perception
pipeline's second stage (hfl_ros.perception: box sources, either hand, the network, object box
refinement, finiteness check, quality gate, temporal filter) and publishes; this module only decodes,
converts and publishes; which messages a frame gives is decided in hfl_ros.ros.outputs (`frame_messages`,
the function `hfl-video --mcap` records with). Every output carries the input image's header. A
frame without a hand gives a hand_object with hand_found = false, an empty `hands` and empty detections. A frame that cannot be
processed is skipped, counted by reason in /diagnostics and logged (throttled per reason); nothing
non-finite is published. Parameters: hfl_ros/ros/parameters.py. Run: `ros2 launch hfl_ros perception.launch.py`,
`ros2 run hfl_ros perception_node --ros-args --params-file config/perception.yaml` or
`python -m hfl_ros.ros.perception_node --ros-args ...`. With `autostart`, `main` configures and activates
the node; SIGINT or SIGTERM stop it after the frame in progress is published, then rclpy shuts down.
"""

import functools
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Union

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.lifecycle import Node as LifecycleNode
from rclpy.lifecycle import State, TransitionCallbackReturn
from rclpy.parameter import Parameter as RosParameter
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from hfl_ros.device import release_host_memory
from hfl_ros.detection.hand_detector import HandDetector
from hfl_ros.inference.estimator import HandObjectEstimator
from hfl_ros.inference.overlay import draw_hands
from hfl_ros.msg import HandObjectRois
from hfl_ros.objects import ObjectRegistry
from hfl_ros.perception import FrameResult
from hfl_ros.perception.pipeline import DetectionStep, PerceptionPipeline
from hfl_ros.ros import conversions, outputs
from hfl_ros.ros.camera_info import IntrinsicsError, check_image_size, intrinsics_from_camera_info
from hfl_ros.ros.diagnostics import FrameStatistics, PublishedFrame, diagnostic_status
from hfl_ros.ros.executable import spin_until_stopped, stop_on_signals
from hfl_ros.ros.image_conversion import ImageConversionError, compressed_to_rgb, image_to_rgb
from hfl_ros.ros.parameters import PARAMETERS, NodeSettings
from hfl_ros.ros.worker import LatestFrameWorker, PipelineWorker

NODE_NAME = "perception_node"
#: The overlay topic (the node's alone: not in hfl_ros.ros.outputs).
DEBUG_IMAGE = "debug_image"
UNTRAINED_BANNER = "UNTRAINED WEIGHTS: outputs are meaningless"
#: s to wait for the frame in progress when the node is cleaned up or destroyed.
WORKER_STOP_TIMEOUT = 30.0

#: (checkpoint or None, mano_dir, device, pose_settings, inference) -> an estimator with HandObjectEstimator's
#: `estimate`, `untrained`, `device` and `pose_settings`; called at configure.
EstimatorFactory = Callable[..., HandObjectEstimator]
#: The node's default factory: the node logs the untrained notice itself (one ROS WARN line), so the
#: estimator's own Python-logging warning, which would print unformatted beside it, is off.
LOAD_ESTIMATOR: EstimatorFactory = functools.partial(HandObjectEstimator.from_files, warn_untrained=False)

#: Skip reasons (diagnostics keys) of the decoding stage; the pipeline adds its own (hfl_ros.perception.pipeline).
SKIP_NO_CAMERA_INFO = "no camera_info"
SKIP_BAD_CAMERA_INFO = "bad camera_info"
SKIP_BAD_IMAGE = "bad image"
SKIP_NO_FRAME_ID = "no frame_id"
SKIP_INTERNAL = "internal error"
#: Throttled log keys of conditions that do not skip the frame.
LOG_OBJECT_CLASS = "object class"


@dataclass
class Frame:
    """One received image waiting for the worker; arrival: time.monotonic() at the callback."""

    message: Union[Image, CompressedImage]
    arrival: float


@dataclass(frozen=True)
class DecodedFrame:
    """A frame's first stage: rgb (H, W, 3) uint8; K (3, 3) its intrinsics; stamp: s, the header's;
    detected: the hand detector's step on it."""

    rgb: np.ndarray
    K: np.ndarray
    stamp: float
    detected: DetectionStep


class SkippedFrame(Exception):
    """A frame that is not processed: `reason` is the diagnostics key, the message the detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class PerceptionNode(LifecycleNode):
    """Lifecycle node around HandObjectEstimator; see the module docstring for its interface.

    estimator_factory: builds the estimator at configure (LOAD_ESTIMATOR by default).
    """

    def __init__(self, node_name: str = NODE_NAME,
                 estimator_factory: EstimatorFactory = LOAD_ESTIMATOR, **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        for name, row in PARAMETERS.items():
            self.declare_parameter(name, row.default, ParameterDescriptor(description=row.description))
        self.add_on_set_parameters_callback(self._on_set_parameters)

        self.stats = FrameStatistics()
        self._estimator_factory = estimator_factory
        self._config_error = ""
        self._settings: Optional[NodeSettings] = None
        self._estimator = None
        self._registry: Optional[ObjectRegistry] = None
        self._object = ""  # the `object` parameter, changed at run time by _set_object
        self._camera_info: Optional[CameraInfo] = None
        self._pipeline: Optional[PerceptionPipeline] = None
        self._worker: Optional[Union[LatestFrameWorker[Frame], PipelineWorker[Frame, DecodedFrame]]] = None
        self._outputs: Dict[str, Any] = {}  # topic -> publisher
        self._output_settings = outputs.OutputSettings()
        self._inputs: List[Any] = []
        self._last_log: Dict[str, float] = {}
        self._lock = threading.Lock()

        # /diagnostics is not a lifecycle output: it also reports why the node is not active.
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        period = float(self.get_parameter("diagnostics_period").value)
        self._diagnostics_timer = self.create_timer(period if period > 0 else 1.0, self._publish_diagnostics)

    @property
    def lifecycle_state(self) -> str:
        """The current lifecycle state's label, as rclpy's state machine holds it ("active", ...)."""
        return self._state_machine.current_state[1]

    # ----------------------------------------------------------------------------------------- lifecycle
    def on_configure(self, state: State) -> TransitionCallbackReturn:
        values = {name: self.get_parameter(name).value for name in PARAMETERS}
        try:
            settings = NodeSettings.from_values(values)
            registry = ObjectRegistry.from_yaml(settings.registry_file)
            registry.model(settings.object)
            # first the detector: a missing `detector` extra fails before the network loads
            detector = HandDetector(settings.detector_settings) if settings.detector else None
            try:
                estimator = self._estimator_factory(settings.checkpoint or None, settings.mano_dir, settings.device,
                                                    inference=settings.inference)
            except Exception:
                if detector is not None:
                    detector.close()
                raise
        except Exception as error:  # every configure failure must be reported, whatever raised it
            self._config_error = f"configure failed: {type(error).__name__}: {error}"
            self.get_logger().error(self._config_error)
            return TransitionCallbackReturn.FAILURE
        self._config_error = ""
        self._settings, self._registry, self._object = settings, registry, settings.object
        self._estimator = estimator
        self._pipeline = PerceptionPipeline(estimator, settings.perception_settings(), detector, registry)
        self._create_publishers(settings)
        if settings.pipeline:
            self._worker = PipelineWorker(self._decode_frame, self._finish_frame, self._on_worker_error,
                                          on_drop=lambda frame: self.stats.frame_dropped())
        else:
            self._worker = LatestFrameWorker(lambda frame: self._finish_frame(frame, self._decode_frame(frame)),
                                             self._on_worker_error, on_drop=lambda frame: self.stats.frame_dropped())
        if estimator.untrained:
            self.get_logger().warning(f"{UNTRAINED_BANNER}: no checkpoint given (parameter `checkpoint`); every "
                                      "message is marked untrained", once=True)
        self.get_logger().info(f"configured: object {settings.object!r}, device {estimator.device}, network on "
                               f"{getattr(estimator, 'runtime', 'torch')}, "
                               f"checkpoint {settings.checkpoint or '(none: untrained)'}, hand detector "
                               f"{'on' if detector is not None else 'off'}, "
                               f"filter {'on' if settings.filter else 'off'}, "
                               f"pipeline {'on' if settings.pipeline else 'off'}")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        settings = self._settings
        sensor = qos_profile_sensor_data
        if settings.image_transport == "compressed":
            self._inputs.append(self.create_subscription(CompressedImage, "image/compressed", self._on_image, sensor))
        else:
            self._inputs.append(self.create_subscription(Image, "image", self._on_image, sensor))
        self._inputs.append(self.create_subscription(CameraInfo, "camera_info", self._on_camera_info, sensor))
        if settings.use_external_rois:
            self._inputs.append(self.create_subscription(HandObjectRois, "rois", self._on_rois, sensor))
        self.get_logger().info("active")
        return super().on_activate(state)

    def on_deactivate(self, state: State) -> TransitionCallbackReturn:
        self._destroy_subscriptions()
        if self._worker is not None:
            self._worker.clear()
        return super().on_deactivate(state)

    def on_cleanup(self, state: State) -> TransitionCallbackReturn:
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: State) -> TransitionCallbackReturn:
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def _release(self) -> None:
        self._destroy_subscriptions()
        if self._worker is not None:
            self._worker.stop(timeout=WORKER_STOP_TIMEOUT)
            self._worker = None
        for publisher in self._outputs.values():
            self.destroy_lifecycle_publisher(publisher)
        self._outputs = {}
        if self._pipeline is not None:
            self._pipeline.close()
        self._settings = self._registry = self._pipeline = self._estimator = None
        self._camera_info = None
        release_host_memory()

    def _destroy_subscriptions(self) -> None:
        for subscription in self._inputs:
            self.destroy_subscription(subscription)
        self._inputs = []

    def _create_publishers(self, settings: NodeSettings) -> None:
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        tf_qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)  # as tf2_ros' broadcaster
        if outputs.vision is None:
            self.get_logger().warning("vision_msgs is not installed: no detections_3d / detections_2d")
        self._output_settings = outputs.OutputSettings.from_node(settings)
        types = outputs.topic_types(settings.max_hands)
        self._outputs = {topic: self.create_lifecycle_publisher(types[topic], topic,
                                                                tf_qos if topic == outputs.TF else reliable)
                         for topic in sorted(self._output_settings.topics)}
        if settings.publish_debug_image:
            self._outputs[DEBUG_IMAGE] = self.create_lifecycle_publisher(
                Image, DEBUG_IMAGE, QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))

    # ----------------------------------------------------------------------------------------- parameters
    def _on_set_parameters(self, parameters: List[RosParameter]) -> SetParametersResult:
        """Dynamic parameters apply now (or are refused with the reason); the others at the next configure."""
        appliers = {"object": self._set_object}
        for parameter in parameters:
            if PARAMETERS[parameter.name].dynamic and self._settings is not None:
                try:
                    appliers[parameter.name](parameter.value)
                except Exception as error:  # refused with the reason, whatever raised it
                    return SetParametersResult(successful=False, reason=str(error))
        return SetParametersResult(successful=True)

    def _set_object(self, name: str) -> None:
        self._registry.model(name)  # refuses an unknown object or an unreadable mesh
        with self._lock:
            self._object = name
        self.get_logger().info(f"object is now {name!r}")

    # ----------------------------------------------------------------------------------------- callbacks
    def _on_image(self, message: Union[Image, CompressedImage]) -> None:
        self.stats.frame_received()
        self._worker.submit(Frame(message, time.monotonic()))

    def _on_camera_info(self, message: CameraInfo) -> None:
        self._camera_info = message

    def _on_rois(self, message: HandObjectRois) -> None:
        pipeline = self._pipeline
        if pipeline is not None:
            pipeline.set_external(conversions.external_rois(message))  # applies from the next frame's stage 2

    def _on_worker_error(self, frame: Frame, error: BaseException) -> None:
        if self._pipeline is not None:  # no observation in this frame: the filters restart at the next one
            self._pipeline.lose(conversions.stamp_seconds(frame.message.header.stamp))
        if isinstance(error, SkippedFrame):
            self._skip(error.reason, str(error))
        else:
            detail = f"{type(error).__name__}: {error}"
            self._skip(SKIP_INTERNAL, detail)
            self.get_logger().debug(traceback.format_exc())

    def _skip(self, reason: str, detail: str) -> None:
        self.stats.frame_skipped(reason, detail)
        self._warn(reason, f"frame skipped ({reason}): {detail}")

    def _warn(self, key: str, text: str) -> None:
        """Log a warning, at most once per `log_throttle` seconds for the same key."""
        now = time.monotonic()
        throttle = self._settings.log_throttle if self._settings is not None else 5.0
        if now - self._last_log.get(key, -np.inf) >= throttle:
            self._last_log[key] = now
            self.get_logger().warning(text)

    # ----------------------------------------------------------------------------------------- processing
    def _decode(self, message: Union[Image, CompressedImage], max_pixels: int) -> np.ndarray:
        try:
            if isinstance(message, CompressedImage):
                return compressed_to_rgb(message.data, max_pixels)
            return image_to_rgb(message.encoding, message.height, message.width, message.step, message.data,
                                max_pixels)
        except ImageConversionError as error:
            raise SkippedFrame(SKIP_BAD_IMAGE, str(error)) from error

    def _intrinsics(self, info: CameraInfo, width: int, height: int) -> np.ndarray:
        try:
            K = intrinsics_from_camera_info(info.k, info.p, self._settings.intrinsics_source)
            check_image_size(info.width, info.height, width, height)
        except IntrinsicsError as error:
            raise SkippedFrame(SKIP_BAD_CAMERA_INFO, str(error)) from error
        return K

    def _decode_frame(self, frame: Frame) -> DecodedFrame:
        """Stage 1: the image, its intrinsics and the hand detector's step (which runs when due)."""
        header = frame.message.header
        if not header.frame_id:
            raise SkippedFrame(SKIP_NO_FRAME_ID, "image header has an empty frame_id")
        info = self._camera_info
        if info is None:
            raise SkippedFrame(SKIP_NO_CAMERA_INFO, "no camera_info received yet")
        rgb = self._decode(frame.message, self._settings.max_image_pixels)
        K = self._intrinsics(info, rgb.shape[1], rgb.shape[0])
        stamp = conversions.stamp_seconds(header.stamp)
        return DecodedFrame(rgb, K, stamp, self._pipeline.detect(rgb, stamp))

    def _finish_frame(self, frame: Frame, decoded: DecodedFrame) -> None:
        """Stage 2: the pipeline's second stage, then publish (a frame the pipeline skipped is counted)."""
        with self._lock:
            object_model = self._registry.model(self._object)
        result = self._pipeline.finish(decoded.rgb, decoded.K, decoded.stamp, object_model, decoded.detected,
                                       camera=frame.message.header.frame_id)
        for note in result.notes:
            self._warn(LOG_OBJECT_CLASS, note)
        if result.skipped is not None:
            self._skip(result.skipped, result.detail)
            return
        self._publish(frame, result, decoded.rgb, decoded.K)

    def _publish(self, frame: Frame, result: FrameResult, rgb: np.ndarray, K: np.ndarray) -> None:
        """The frame's messages (hfl_ros.ros.outputs.frame_messages: the markers only while subscribed),
        then the debug image while subscribed."""
        publishers = self._outputs
        header = frame.message.header
        height, width = rgb.shape[:2]
        hand = result.hand
        markers = publishers.get(outputs.MARKERS)
        for topic, message in outputs.frame_messages(
                result, header, K, (width, height), self._estimator.untrained, self._registry.model,
                time.monotonic() - frame.arrival, self._output_settings, self._estimator.pose_settings,
                markers=markers is not None and markers.get_subscription_count() > 0):
            publishers[topic].publish(message)
        debug = publishers.get(DEBUG_IMAGE)
        if debug is not None and debug.get_subscription_count() > 0:
            banner = UNTRAINED_BANNER if self._estimator.untrained else ""
            overlay = draw_hands(rgb, K, [(shown.side, shown.estimate, self._registry.model(shown.object_name))
                                          for shown in result.hands], banner)
            debug.publish(conversions.image_message(overlay, header))
        now = self.get_clock().now().nanoseconds * 1e-9
        self.stats.frame_published(PublishedFrame(
            latency=time.monotonic() - frame.arrival, stamp_age=now - conversions.stamp_seconds(header.stamp),
            network_time=result.network_time, detector_time=result.detector_time,
            hand_source="" if hand is None else hand.hand_source,
            object_source="" if hand is None else hand.object_source or "",
            gated=hand is not None and hand.gated, tracking_counts=self._pipeline.tracking_counts,
            filter_counts=self._pipeline.filter_counts,
        ))

    # ----------------------------------------------------------------------------------------- diagnostics
    def _problems(self) -> tuple:
        problems = []
        if self._config_error:
            problems.append(self._config_error)
        if self._estimator is not None and self._estimator.untrained:
            problems.append(f"warn: {UNTRAINED_BANNER}")
        if self.lifecycle_state == "active" and self._camera_info is None:
            problems.append("warn: no camera_info received yet")
        return tuple(problems)

    def _publish_diagnostics(self) -> None:
        status = diagnostic_status(self.stats.snapshot(), f"hfl_ros: {self.get_fully_qualified_name()}",
                                   "hfl_ros", self.lifecycle_state, self._problems())
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self._diagnostics_pub.publish(array)

    def destroy_node(self) -> None:
        if self._worker is not None:
            self._worker.stop(timeout=WORKER_STOP_TIMEOUT)
            self._worker = None
        super().destroy_node()


def main(args: Optional[List[str]] = None,
         estimator_factory: EstimatorFactory = LOAD_ESTIMATOR) -> int:
    """Entry point of the `perception_node` executable: with `autostart`, configure and activate, then spin
    until SIGINT / SIGTERM (hfl_ros.ros.executable: the frame in progress is published before rclpy shuts
    down)."""
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stop = stop_on_signals()
    node = PerceptionNode(estimator_factory=estimator_factory)
    if node.get_parameter("autostart").value and node.trigger_configure() == TransitionCallbackReturn.SUCCESS:
        node.trigger_activate()
    spin_until_stopped(node, stop)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
