"""Parameters of the perception node in one table, and the typed settings read from them (pure, no ROS).

`NodeSettings` is the table: each field is one ROS parameter, with its default, its description and the
check its value must pass (`parameter(...)`). The node declares the fields as parameters, reads them back
into a `NodeSettings` at configure, and config/perception.yaml sets every one. To add a parameter, add a
field here and its line to config/perception.yaml.
"""

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, NamedTuple, Optional, Tuple

from hfl_ros.ros.boxes import BoxSettings
from hfl_ros.ros.camera_info import INTRINSICS_SOURCES

IMAGE_TRANSPORTS = ("raw", "compressed")

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


def required(name: str, value: str) -> str:
    if not value:
        raise ValueError(f"parameter {name} is empty: it must be set")
    return value


def as_tuple(name: str, value: Any) -> Tuple[float, ...]:
    return tuple(float(v) for v in value)


@dataclass(frozen=True)
class NodeSettings:
    """Every parameter of the perception node, typed and checked: the one table of them."""

    # --- model
    checkpoint: str = parameter("", "HFL-Net checkpoint file (ours or the published one); empty = UNTRAINED "
                                    "random weights, announced in every output")
    mano_dir: str = parameter("", "directory holding MANO_RIGHT.pkl (or the file itself); required", required)
    device: str = parameter("auto", "auto | cpu | cuda | cuda:N")
    fp16: bool = parameter(False, "half-precision inference (CUDA only)")
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
    # --- boxes: external ROIs, else tracking, else the initial ROI (BoxSettings checks these)
    use_external_rois: bool = parameter(True, "subscribe `rois` (hfl_ros/HandObjectRois) from an external detector")
    external_roi_max_age: float = parameter(0.1, "s, largest |image stamp - ROI stamp| for an external ROI to "
                                                 "apply")
    tracking: bool = parameter(True, "seed each frame's boxes from the previous frame's predictions")
    tracking_max_age: float = parameter(0.5, "s, largest stamp gap over which tracking applies")
    tracking_hand_expansion: float = parameter(1.3, "scale of the tracked hand box (box of the 2D joints)")
    tracking_object_expansion: float = parameter(1.2, "scale of the tracked object box (box of the control "
                                                      "points)")
    tracking_min_hand_score: float = parameter(0.0, "hand score a prediction needs to seed tracking")
    tracking_min_object_score: float = parameter(0.0, "object score a prediction needs to seed tracking")
    tracking_min_box_size: float = parameter(24.0, "px, smallest side of a tracked box")
    initial_hand_roi: Tuple[float, ...] = parameter((0.3, 0.25, 0.7, 0.75), "[x1, y1, x2, y2] fractions of the "
                                                    "image: hand box without external ROI or tracking", as_tuple)
    initial_object_roi: Tuple[float, ...] = parameter((0.35, 0.3, 0.65, 0.7), "[x1, y1, x2, y2] fractions of the "
                                                      "image: object box without external ROI or tracking", as_tuple)
    # --- outputs
    frame_prefix: str = parameter("hfl/", "TF child frames are <prefix>wrist and <prefix>object")
    min_hand_score: float = parameter(0.0, "hand outputs (joints, wrist TF, hand markers) need this score")
    min_object_score: float = parameter(0.0, "object outputs (pose, TF, box marker) need this score")
    min_object_inliers: int = parameter(4, "object outputs need this many PnP inliers", at_least(0))
    publish_hand_object: bool = parameter(True, "publish the per-frame hfl_ros/HandObject on `hand_object`")
    publish_object_pose: bool = parameter(True, "publish geometry_msgs/PoseStamped on `object_pose`")
    publish_hand_joints: bool = parameter(True, "publish geometry_msgs/PoseArray (21 joints) on `hand_joints`")
    publish_markers: bool = parameter(True, "publish visualization_msgs/MarkerArray on `markers`")
    publish_tf: bool = parameter(True, "publish TF (camera frame -> <prefix>wrist, <prefix>object) on /tf")
    publish_debug_image: bool = parameter(True, "publish the overlay on `debug_image` (rendered only while "
                                                "subscribed)")
    marker_lifetime: float = parameter(0.5, "s, marker lifetime in RViz; 0 = until replaced", at_least(0))
    # --- node
    diagnostics_period: float = parameter(1.0, "s between /diagnostics messages", at_least(0, exclusive=True))
    log_throttle: float = parameter(5.0, "s between two log lines about the same kind of skipped frame",
                                    at_least(0))
    autostart: bool = parameter(True, "configure and activate at start (without a lifecycle manager)")

    def __post_init__(self) -> None:
        for row in fields(self):
            check = row.metadata["check"]
            if check is not None:
                object.__setattr__(self, row.name, check(row.name, getattr(self, row.name)))
        self.boxes  # noqa: B018  (BoxSettings checks the box parameters)

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
    def boxes(self) -> BoxSettings:
        return BoxSettings(
            initial_hand_box=self.initial_hand_roi, initial_object_box=self.initial_object_roi,
            external_max_age=self.external_roi_max_age, tracking_max_age=self.tracking_max_age,
            hand_expansion=self.tracking_hand_expansion, object_expansion=self.tracking_object_expansion,
            tracking_min_hand_score=self.tracking_min_hand_score,
            tracking_min_object_score=self.tracking_min_object_score, min_box_size=self.tracking_min_box_size,
        )

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
