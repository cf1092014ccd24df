"""Parameters of the perception node: names, defaults, descriptions, and their typed form (pure).

config/perception.yaml sets every one of them; `PARAMETERS` is the single source of their defaults.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, NamedTuple, Optional

from hfl_ros.ros.boxes import BoxSettings
from hfl_ros.ros.camera_info import INTRINSICS_SOURCES

IMAGE_TRANSPORTS = ("raw", "compressed")
#: The one parameter that applies while the node runs; every other one is read at configure.
DYNAMIC_PARAMETERS = ("object",)


class Parameter(NamedTuple):
    default: Any
    description: str


PARAMETERS: Dict[str, Parameter] = {
    "checkpoint": Parameter("", "HFL-Net checkpoint file (ours or the published one); empty = UNTRAINED random "
                                "weights, announced in every output"),
    "mano_dir": Parameter("", "directory holding MANO_RIGHT.pkl (or the file itself); required"),
    "device": Parameter("auto", "auto | cpu | cuda | cuda:N"),
    "fp16": Parameter(False, "half-precision inference (CUDA only)"),
    "object_registry": Parameter("", "object registry YAML; empty = the package's config/objects.yaml"),
    "object": Parameter("006_mustard_bottle", "registry name of the object in the hand; can change at run time"),
    "image_transport": Parameter("raw", "raw: sensor_msgs/Image on `image`; compressed: "
                                        "sensor_msgs/CompressedImage on `image/compressed`"),
    "intrinsics_source": Parameter("k", "camera_info matrix giving the image's intrinsics: k (raw image) or "
                                        "p (rectified image)"),
    "max_image_pixels": Parameter(3840 * 2160, "larger frames are skipped"),
    "use_external_rois": Parameter(True, "subscribe `rois` (hfl_ros/HandObjectRois) from an external detector"),
    "external_roi_max_age": Parameter(0.1, "s, largest |image stamp - ROI stamp| for an external ROI to apply"),
    "tracking": Parameter(True, "seed each frame's boxes from the previous frame's predictions"),
    "tracking_max_age": Parameter(0.5, "s, largest stamp gap over which tracking applies"),
    "tracking_hand_expansion": Parameter(1.3, "scale of the tracked hand box (box of the 2D joints)"),
    "tracking_object_expansion": Parameter(1.2, "scale of the tracked object box (box of the control points)"),
    "tracking_min_hand_score": Parameter(0.0, "hand score a prediction needs to seed tracking"),
    "tracking_min_object_score": Parameter(0.0, "object score a prediction needs to seed tracking"),
    "tracking_min_box_size": Parameter(24.0, "px, smallest side of a tracked box"),
    "initial_hand_roi": Parameter([0.3, 0.25, 0.7, 0.75], "[x1, y1, x2, y2] fractions of the image: hand box "
                                                          "without external ROI or tracking"),
    "initial_object_roi": Parameter([0.35, 0.3, 0.65, 0.7], "[x1, y1, x2, y2] fractions of the image: object box "
                                                            "without external ROI or tracking"),
    "frame_prefix": Parameter("hfl/", "TF child frames are <prefix>wrist and <prefix>object"),
    "min_hand_score": Parameter(0.0, "hand outputs (joints, wrist TF, hand markers) need this score"),
    "min_object_score": Parameter(0.0, "object outputs (pose, TF, box marker) need this score"),
    "min_object_inliers": Parameter(4, "object outputs need this many PnP inliers"),
    "publish_hand_object": Parameter(True, "publish the per-frame hfl_ros/HandObject on `hand_object`"),
    "publish_object_pose": Parameter(True, "publish geometry_msgs/PoseStamped on `object_pose`"),
    "publish_hand_joints": Parameter(True, "publish geometry_msgs/PoseArray (21 joints) on `hand_joints`"),
    "publish_markers": Parameter(True, "publish visualization_msgs/MarkerArray on `markers`"),
    "publish_tf": Parameter(True, "publish TF (camera frame -> <prefix>wrist, <prefix>object) on /tf"),
    "publish_debug_image": Parameter(True, "publish the overlay on `debug_image` (rendered only while subscribed)"),
    "marker_lifetime": Parameter(0.5, "s, marker lifetime in RViz; 0 = until replaced"),
    "diagnostics_period": Parameter(1.0, "s between /diagnostics messages"),
    "log_throttle": Parameter(5.0, "s between two log lines about the same kind of skipped frame"),
    "autostart": Parameter(True, "configure and activate at start (without a lifecycle manager)"),
}


def _positive(name: str, value: float, allow_zero: bool = True) -> float:
    value = float(value)
    if value != value or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"parameter {name} must be {'>=' if allow_zero else '>'} 0, got {value}")
    return value


@dataclass(frozen=True)
class NodeSettings:
    """Everything the node reads at configure, typed and checked (see PARAMETERS for the meaning)."""

    checkpoint: Optional[str]
    mano_dir: str
    device: str
    fp16: bool
    object_registry: str
    object: str
    image_transport: str
    intrinsics_source: str
    max_image_pixels: int
    use_external_rois: bool
    tracking: bool
    boxes: BoxSettings
    frame_prefix: str
    min_hand_score: float
    min_object_score: float
    min_object_inliers: int
    publish_hand_object: bool
    publish_object_pose: bool
    publish_hand_joints: bool
    publish_markers: bool
    publish_tf: bool
    publish_debug_image: bool
    marker_lifetime: float
    diagnostics_period: float
    log_throttle: float


def settings_from_values(values: Mapping[str, Any], default_registry: Path) -> NodeSettings:
    """NodeSettings from parameter name -> value (missing names take PARAMETERS' defaults).

    default_registry: the registry file used when `object_registry` is empty.
    Raises ValueError naming the parameter for an unknown name or a bad value.
    """
    unknown = sorted(set(values) - set(PARAMETERS))
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown}")
    v = {name: values.get(name, parameter.default) for name, parameter in PARAMETERS.items()}
    if not v["mano_dir"]:
        raise ValueError("parameter mano_dir is empty: set it to the directory holding MANO_RIGHT.pkl")
    if v["image_transport"] not in IMAGE_TRANSPORTS:
        raise ValueError(f"parameter image_transport must be one of {IMAGE_TRANSPORTS}, got {v['image_transport']!r}")
    if v["intrinsics_source"] not in INTRINSICS_SOURCES:
        raise ValueError(f"parameter intrinsics_source must be one of {INTRINSICS_SOURCES}, "
                         f"got {v['intrinsics_source']!r}")
    if int(v["max_image_pixels"]) <= 0:
        raise ValueError(f"parameter max_image_pixels must be > 0, got {v['max_image_pixels']}")
    if int(v["min_object_inliers"]) < 0:
        raise ValueError(f"parameter min_object_inliers must be >= 0, got {v['min_object_inliers']}")
    boxes = BoxSettings(
        initial_hand_box=tuple(v["initial_hand_roi"]), initial_object_box=tuple(v["initial_object_roi"]),
        external_max_age=_positive("external_roi_max_age", v["external_roi_max_age"]),
        tracking_max_age=_positive("tracking_max_age", v["tracking_max_age"]),
        hand_expansion=float(v["tracking_hand_expansion"]), object_expansion=float(v["tracking_object_expansion"]),
        tracking_min_hand_score=float(v["tracking_min_hand_score"]),
        tracking_min_object_score=float(v["tracking_min_object_score"]),
        min_box_size=_positive("tracking_min_box_size", v["tracking_min_box_size"]),
    )
    return NodeSettings(
        checkpoint=v["checkpoint"] or None, mano_dir=v["mano_dir"], device=v["device"], fp16=bool(v["fp16"]),
        object_registry=v["object_registry"] or str(default_registry), object=v["object"],
        image_transport=v["image_transport"], intrinsics_source=v["intrinsics_source"],
        max_image_pixels=int(v["max_image_pixels"]), use_external_rois=bool(v["use_external_rois"]),
        tracking=bool(v["tracking"]), boxes=boxes, frame_prefix=v["frame_prefix"],
        min_hand_score=float(v["min_hand_score"]), min_object_score=float(v["min_object_score"]),
        min_object_inliers=int(v["min_object_inliers"]),
        publish_hand_object=bool(v["publish_hand_object"]), publish_object_pose=bool(v["publish_object_pose"]),
        publish_hand_joints=bool(v["publish_hand_joints"]), publish_markers=bool(v["publish_markers"]),
        publish_tf=bool(v["publish_tf"]), publish_debug_image=bool(v["publish_debug_image"]),
        marker_lifetime=_positive("marker_lifetime", v["marker_lifetime"]),
        diagnostics_period=_positive("diagnostics_period", v["diagnostics_period"], allow_zero=False),
        log_throttle=_positive("log_throttle", v["log_throttle"]),
    )


def package_config_file(name: str) -> Path:
    """A file of the package's config/ directory: the installed share/hfl_ros/config (colcon), else the
    source tree's config/ (a development checkout)."""
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

        try:
            installed = Path(get_package_share_directory("hfl_ros")) / "config" / name
            if installed.is_file():
                return installed
        except (PackageNotFoundError, OSError):  # OSError: AMENT_PREFIX_PATH unset
            pass
    except ImportError:
        pass
    return Path(__file__).resolve().parents[2] / "config" / name
