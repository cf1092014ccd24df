"""Parameters of the perception node in one table, and the typed settings read from them (pure, no ROS).

`NodeSettings` is the table: each field is one ROS parameter, with its default, its description and the
check its value must pass (`parameter(...)`). The node declares the fields as parameters, reads them back
into a `NodeSettings` at configure, and config/perception.yaml sets every one. To add a parameter, add a
field here and its line to config/perception.yaml.
"""

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, NamedTuple, Optional, Tuple

from hfl_ros.detection.hand_detector import DetectorSettings
from hfl_ros.detection.policy import HAND_SELECTIONS, HAND_SIDES, PolicySettings, roi_fractions
from hfl_ros.filtering import FilterSettings
from hfl_ros.inference.estimator import RUNTIMES, InferenceConfig
from hfl_ros.model.optimize import BF16_ERROR_NOTE, PRECISIONS
from hfl_ros.resources import package_config_file  # the default registry; also imported from here
from hfl_ros.perception import GateSettings, PerceptionSettings
from hfl_ros.ros.camera_info import INTRINSICS_SOURCES

IMAGE_TRANSPORTS = ("raw", "compressed")
#: Parameter name of a FilterSettings field: this prefix + the field name.
FILTER_PREFIX = "filter_"

#: check(name, value) -> the value to keep; raises ValueError naming the parameter.
Check = Callable[[str, Any], Any]


def parameter(default: Any, description: str, check: Optional[Check] = None, dynamic: bool = False) -> Any:
    """One row of the table: a NodeSettings field that is also a ROS parameter.

    default: its ROS value (bool, int, float, str, or a tuple of floats for a double array).
    dynamic: it applies while the node runs (the node must handle its change); every other parameter is
    read at configure.
    """
    return field(default=default, metadata={"description": description, "check": check, "dynamic": dynamic})


def one_of(*choices: str) -> Check:
    def check(name: str, value: Any) -> Any:
        if value not in choices:
            raise ValueError(f"parameter {name} must be one of {choices}, got {value!r}")
        return value

    return check


def at_least(minimum: float, exclusive: bool = False) -> Check:
    def check(name: str, value: Any) -> Any:
        if value != value or value < minimum or (exclusive and value == minimum):
            raise ValueError(f"parameter {name} must be {'>' if exclusive else '>='} {minimum}, got {value}")
        return value

    return check


def between(low: float, high: float) -> Check:
    def check(name: str, value: Any) -> Any:
        if not low <= value <= high:
            raise ValueError(f"parameter {name} must be in [{low}, {high}], got {value}")
        return value

    return check


def required(name: str, value: str) -> str:
    if not value:
        raise ValueError(f"parameter {name} is empty: it must be set")
    return value


def levels(name: str, value: Any) -> Tuple[int, ...]:
    if len(value) == 0 or any(int(v) != v or v < 1 for v in value):
        raise ValueError(f"parameter {name} must be a non-empty list of integers >= 1, got {list(value)}")
    return tuple(int(v) for v in value)


@dataclass(frozen=True)
class NodeSettings:
    """Every parameter of the perception node, typed and checked: the one table of them."""

    # --- model
    checkpoint: str = parameter("", "HFL-Net checkpoint file (ours or the published one); empty = UNTRAINED "
                                    "random weights, announced in every output")
    mano_dir: str = parameter("", "directory holding MANO_RIGHT.pkl (or the file itself); required", required)
    device: str = parameter("auto", "auto | cpu | cuda | cuda:N")
    optimize: bool = parameter(True, "run the network through the inference path (hfl_ros.optimize_for_inference: "
                                     "folded batch norms, channels_last; equal outputs); false = the plain network")
    precision: str = parameter("fp32", "backbone precision of the inference path: fp32 (equal outputs; IEEE "
                                       "float32 on CUDA), tf32 (CUDA, not exact), bf16 (CPUs with AVX512-BF16 / "
                                       "AMX), fp16 (CUDA). " + BF16_ERROR_NOTE, one_of(*PRECISIONS))
    runtime: str = parameter("auto", "auto: on the CPU, ONNX Runtime when installed, on the network exported once "
                                     "per checkpoint and checked against torch at export (cached, see "
                                     "onnx_cache_dir), else torch; onnx: ONNX Runtime or fail at configure; "
                                     "torch: never ONNX Runtime", one_of(*RUNTIMES))
    onnx_cache_dir: str = parameter("", "directory of the cached ONNX exports; empty = $HFL_ROS_CACHE/onnx, else "
                                        "$XDG_CACHE_HOME/hfl_ros/onnx, else ~/.cache/hfl_ros/onnx")
    onnx_model: str = parameter("", "an hfl-export ONNX file run by ONNX Runtime instead of torch (the `onnx` "
                                    "extra); empty = as `runtime` says")
    # --- object
    object_registry: str = parameter("", "object registry YAML; empty = the package's config/objects.yaml")
    object: str = parameter("006_mustard_bottle", "registry name of the object in the hand; can change at run "
                                                  "time", dynamic=True)
    # --- input
    image_transport: str = parameter("raw", "raw: sensor_msgs/Image on `image`; compressed: "
                                            "sensor_msgs/CompressedImage on `image/compressed`",
                                     one_of(*IMAGE_TRANSPORTS))
    intrinsics_source: str = parameter("k", "camera_info matrix giving the image's intrinsics: k (raw image) or "
                                            "p (rectified image)", one_of(*INTRINSICS_SOURCES))
    max_image_pixels: int = parameter(3840 * 2160, "larger frames are skipped", at_least(0, exclusive=True))
    # --- boxes: external ROIs, else the detector (no track, and every detect_every frames), else tracking,
    # else the initial ROI (hfl_ros.detection.policy; PolicySettings checks these too)
    use_external_rois: bool = parameter(True, "subscribe `rois` (hfl_ros/HandObjectRois) from an external detector")
    external_roi_max_age: float = parameter(0.1, "s, largest |image stamp - ROI stamp| for an external ROI to "
                                                 "apply", at_least(0))
    detector: bool = parameter(True, "built-in MediaPipe hand detector (the `detector` extra; configure fails "
                                     "naming it when it is missing)")
    detector_model: str = parameter("", "Hand Landmarker .task file; empty = the one of the `detector` extra")
    detector_min_confidence: float = parameter(0.3, "palm-detection and hand-presence thresholds of the "
                                                    "detector, in [0, 1]", between(0.0, 1.0))
    detector_crop_size: int = parameter(256, "px, side the detector's square crops are resized to", at_least(32))
    detector_grid_levels: Tuple[int, ...] = parameter((1, 2), "grid searched when the full frame and the crops "
                                                      "around the last hand find nothing (level n: square tiles "
                                                      "of min(W, H) / n px, overlapping by half)", levels)
    max_hands: int = parameter(PolicySettings.max_hands, "hands followed at once, 1 or 2 (one right and one "
                               "left: each gets its box, network pass, object, filter and outputs); 1 = the "
                               "primary hand only", one_of(1, 2))
    detect_every: int = parameter(PolicySettings.detect_every, "frames between detector runs while every wanted "
                                  "hand is tracked (1 = every frame: the landmarks box the hand; 0 = only when a "
                                  "hand is missing)", at_least(0))
    search_every: int = parameter(PolicySettings.search_every, "frames between grid searches for a missing hand "
                                  "while another is tracked", at_least(0))
    hand_selection: str = parameter("larger", "hand to follow when several are seen: right, left, larger, or "
                                              "holding (overlaps the object box most)", one_of(*HAND_SELECTIONS))
    hand_side: str = parameter("auto", "auto = the detector's handedness (the subject's own hand), or right / "
                                       "left for every hand", one_of(*HAND_SIDES))
    track_min_iou: float = parameter(0.3, "IoU of the tracked box with a detection that confirms the track",
                                     between(0.0, 1.0))
    max_unconfirmed: int = parameter(3, "detector runs in a row that see no hand at the track before it ends",
                                     at_least(0))
    tracking_max_age: float = parameter(0.5, "s, largest stamp gap over which a track lasts; 0 = no tracking",
                                        at_least(0))
    side_decay: float = parameter(PolicySettings.side_decay, "handedness votes of a track decay by this factor "
                                  "per detection, in (0, 1]", between(0.0, 1.0))
    side_hysteresis: float = parameter(PolicySettings.side_hysteresis, "a track changes side when the other side's "
                                       "votes lead by more than this (about that many confident detections)",
                                       at_least(0))
    track_max_area_change: float = parameter(PolicySettings.track_max_area_change, "the network's joints box a "
                                             "hand the detector does not see only while the box area changes by at "
                                             "most this factor per frame", at_least(1.0))
    track_max_aspect_change: float = parameter(PolicySettings.track_max_aspect_change, "... and its aspect ratio "
                                               "by at most this factor", at_least(1.0))
    track_min_spread: float = parameter(PolicySettings.track_min_spread, "... and the joints' RMS distance from "
                                        "their mean is at least this fraction of the larger side of the box they "
                                        "were estimated in", at_least(0))
    track_max_landmark_error: float = parameter(PolicySettings.track_max_landmark_error, "... and their mean "
                                                "distance from the detector's landmarks (frames with both) is at "
                                                "most this fraction of the landmarks' box's larger side",
                                                at_least(0))
    tracking_margin: float = parameter(1.2, "tracked hand box = 2D joints' box x 1.1 (training crops) x this",
                                       at_least(0, exclusive=True))
    object_tracking_margin: float = parameter(1.1, "tracked object box = box of the control points x this",
                                              at_least(0, exclusive=True))
    tracking_min_hand_score: float = parameter(0.0, "hand score an estimate needs to keep the track")
    tracking_min_object_score: float = parameter(0.0, "object score an estimate needs to track the object box")
    object_from_hand_scale: float = parameter(2.0, "without an object box: a region centred on the hand box, "
                                                   "this times its size", at_least(0, exclusive=True))
    object_refine_passes: int = parameter(3, "most network passes per frame while refining a hand-centred object "
                                             "box from the object decoder's control points", at_least(1))
    object_refine_min_iou: float = parameter(0.7, "another pass when the refined box's IoU with the box used is "
                                                  "below this", between(0.0, 1.0))
    object_refine_min_score: float = parameter(0.5, "decoder confidence a control point needs to count for the "
                                                    "refined box (when PnP found no pose)", between(0.0, 1.0))
    min_box_size: float = parameter(24.0, "px, smallest side of a box given to the network", at_least(0))
    use_initial_roi: bool = parameter(False, "when no other source gives a hand box, use the initial ROIs (the "
                                             "hand must be held there); false = the frame has no hand")
    initial_hand_roi: Tuple[float, ...] = parameter((0.3, 0.25, 0.7, 0.75), "[x1, y1, x2, y2] fractions of the "
                                                    "image: the last-resort hand box", roi_fractions)
    initial_object_roi: Tuple[float, ...] = parameter((0.35, 0.3, 0.65, 0.7), "[x1, y1, x2, y2] fractions of the "
                                                      "image: the object box with the initial hand ROI", roi_fractions)
    # --- temporal filter and outlier gate (hfl_ros.filtering; filter_<name> is FilterSettings.<name>)
    filter: bool = parameter(True, "temporal filter and outlier gate of the hand and the object; off = the "
                                   "filtered fields of hand_object are invalid and every output is raw")
    outputs_filtered: bool = parameter(True, "TF, object_pose, hand_joints, hand_joints_wrist and markers carry "
                                             "the filtered poses (false: the raw ones); hand_object has both")
    filter_position_min_cutoff: float = parameter(1.0, "Hz, One-Euro cut-off of still wrist / object positions "
                                                       "(lower = smoother, more lag)")
    filter_position_beta: float = parameter(20.0, "Hz per m/s, cut-off increase with speed (higher = less lag "
                                                  "when moving)")
    filter_rotation_min_cutoff: float = parameter(1.0, "Hz, the same for wrist / object rotations")
    filter_rotation_beta: float = parameter(2.0, "Hz per rad/s")
    filter_joints_min_cutoff: float = parameter(1.0, "Hz, the same for the 21 joints in the wrist frame")
    filter_joints_beta: float = parameter(5.0, "Hz per m/s")
    filter_derivative_cutoff: float = parameter(1.0, "Hz, cut-off of the speed estimates")
    filter_gating: bool = parameter(True, "hold back jumps larger than the gate")
    filter_gate_translation: float = parameter(0.2, "m, largest accepted jump of the wrist / object position from "
                                                    "the filtered pose")
    filter_gate_rotation_deg: float = parameter(30.0, "deg, largest accepted jump of the rotation")
    filter_gate_persist_frames: int = parameter(3, "a jump persisting this many frames is accepted (the filter "
                                                   "restarts there)")
    filter_max_gap: float = parameter(0.5, "s without frames after which the filter restarts")
    # --- outputs
    frame_prefix: str = parameter("hfl/", "TF child frames are <prefix><side>_wrist (side: right or left) and "
                                          "<prefix>object (max_hands 2: <prefix><side>_object)")
    min_hand_score: float = parameter(0.0, "hand outputs (joints, wrist TF, hand markers) need this score")
    min_object_score: float = parameter(0.0, "object outputs (pose, TF, box marker) need this score")
    min_object_inliers: int = parameter(4, "object outputs need this many PnP inliers", at_least(0))
    publish_hands: bool = parameter(True, "publish the per-frame hfl_ros/Hands (every hand, primary first) on "
                                          "`hands`")
    publish_hand_object: bool = parameter(True, "publish the per-frame hfl_ros/HandObject on `hand_object`")
    publish_object_pose: bool = parameter(True, "publish geometry_msgs/PoseStamped on `object_pose`")
    publish_hand_joints: bool = parameter(True, "publish geometry_msgs/PoseArray (21 joints) on `hand_joints`")
    publish_hand_joints_wrist: bool = parameter(True, "publish geometry_msgs/PoseArray (21 joints in the wrist "
                                                      "frame <prefix><side>_wrist) on `hand_joints_wrist`")
    publish_joint_tf: bool = parameter(False, "add TF <prefix><side>_wrist -> <prefix><side>_<joint> for the 20 "
                                              "other joints (constants.JOINT_NAMES)")
    publish_markers: bool = parameter(True, "publish visualization_msgs/MarkerArray on `markers`")
    publish_tf: bool = parameter(True, "publish TF (camera frame -> <prefix><side>_wrist, <prefix>object) on /tf")
    publish_debug_image: bool = parameter(True, "publish the overlay on `debug_image` (rendered only while "
                                                "subscribed)")
    marker_lifetime: float = parameter(0.5, "s, marker lifetime in RViz; 0 = until replaced", at_least(0))
    # --- node
    pipeline: bool = parameter(True, "decode the next frame (and run the hand detector on it) while the network "
                                     "runs the current one; false = one stage, one frame at a time")
    diagnostics_period: float = parameter(1.0, "s between /diagnostics messages", at_least(0, exclusive=True))
    log_throttle: float = parameter(5.0, "s between two log lines about the same kind of skipped frame",
                                    at_least(0))
    autostart: bool = parameter(True, "configure and activate at start (without a lifecycle manager)")

    def __post_init__(self) -> None:
        for row in fields(self):
            check = row.metadata["check"]
            if check is not None:
                object.__setattr__(self, row.name, check(row.name, getattr(self, row.name)))
        self.perception_settings()  # PolicySettings, FilterSettings and GateSettings check theirs as a whole
        self.filter_settings  # noqa: B018  (checked with the filter off too)

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> "NodeSettings":
        """Settings from parameter name -> value (missing names keep their defaults).

        Raises ValueError naming the parameter for an unknown name or a bad value.
        """
        unknown = sorted(set(values) - set(PARAMETERS))
        if unknown:
            raise ValueError(f"unknown parameter(s) {unknown}")
        return cls(**values)

    @property
    def policy(self) -> PolicySettings:
        """Where boxes come from (hfl_ros.detection.policy)."""
        return PolicySettings(
            detect_every=self.detect_every, max_hands=self.max_hands, search_every=self.search_every,
            hand_selection=self.hand_selection, hand_side=self.hand_side, side_decay=self.side_decay,
            side_hysteresis=self.side_hysteresis, track_max_area_change=self.track_max_area_change,
            track_max_aspect_change=self.track_max_aspect_change, track_min_spread=self.track_min_spread,
            track_max_landmark_error=self.track_max_landmark_error,
            track_min_iou=self.track_min_iou, max_unconfirmed=self.max_unconfirmed,
            tracking_max_age=self.tracking_max_age, tracking_min_hand_score=self.tracking_min_hand_score,
            tracking_min_object_score=self.tracking_min_object_score, tracking_margin=self.tracking_margin,
            object_tracking_margin=self.object_tracking_margin, object_from_hand_scale=self.object_from_hand_scale,
            refine_max_passes=self.object_refine_passes, refine_min_iou=self.object_refine_min_iou,
            refine_min_score=self.object_refine_min_score, external_max_age=self.external_roi_max_age,
            initial_hand_roi=self.initial_hand_roi if self.use_initial_roi else None,
            initial_object_roi=self.initial_object_roi if self.use_initial_roi else None,
            min_box_size=self.min_box_size,
        )

    @property
    def inference(self) -> InferenceConfig:
        """How the estimator runs the network (hfl_ros.inference.estimator.InferenceConfig)."""
        return InferenceConfig(optimize=self.optimize, precision=self.precision, onnx_model=self.onnx_model or None,
                               runtime=self.runtime, onnx_cache_dir=self.onnx_cache_dir or None)

    @property
    def detector_settings(self) -> DetectorSettings:
        """The built-in hand detector's settings (used when `detector` is true)."""
        return DetectorSettings(model_path=self.detector_model, min_detection_confidence=self.detector_min_confidence,
                                min_presence_confidence=self.detector_min_confidence,
                                crop_size=self.detector_crop_size, grid_levels=self.detector_grid_levels)

    @property
    def filter_settings(self) -> FilterSettings:
        """The temporal filter's settings: FilterSettings.<name> is the parameter filter_<name>."""
        return FilterSettings(**{row.name: getattr(self, FILTER_PREFIX + row.name) for row in fields(FilterSettings)})

    @property
    def gate(self) -> GateSettings:
        """What a hand or object needs to be shown and filtered (min_hand_score, min_object_score, ...)."""
        return GateSettings(min_hand_score=self.min_hand_score, min_object_score=self.min_object_score,
                            min_object_inliers=self.min_object_inliers)

    def perception_settings(self) -> PerceptionSettings:
        """The perception pipeline's settings (hfl_ros.perception): policy, detector (None with `detector`
        off), filter (None with `filter` off), quality gate, outputs_filtered."""
        return PerceptionSettings(policy=self.policy, detector=self.detector_settings if self.detector else None,
                                  filter=self.filter_settings if self.filter else None, gate=self.gate,
                                  outputs_filtered=self.outputs_filtered)

    @property
    def registry_file(self) -> Path:
        """The object registry: `object_registry`, else the package's config/objects.yaml."""
        return Path(self.object_registry) if self.object_registry else package_config_file("objects.yaml")


class ParameterRow(NamedTuple):
    """One parameter as the node declares it: default (its ROS value) and description."""

    default: Any
    description: str
    dynamic: bool


#: Name -> row, in table order.
PARAMETERS: Dict[str, ParameterRow] = {
    row.name: ParameterRow(row.default, row.metadata["description"], row.metadata["dynamic"])
    for row in fields(NodeSettings)
}
