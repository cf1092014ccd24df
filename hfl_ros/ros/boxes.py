"""Hand and object boxes without ground truth, in order of preference (pure logic, no ROS):

1. external: the latest ROIs from an external detector whose stamp is within `external_max_age` of
   the image's stamp;
2. tracking: the previous processed frame's projected hand joints and object control points, expanded,
   while that frame is at most `tracking_max_age` older and its scores passed the thresholds;
3. initial: a configured box, as fractions of the image size.

Times are seconds (header stamps); boxes are [x1, y1, x2, y2] pixels of the image.
"""

from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np

from hfl_ros.geometry.camera import points_box, project_points, transform_points
from hfl_ros.results import HandObjectEstimate

SOURCE_EXTERNAL = "external"
SOURCE_TRACKING = "tracking"
SOURCE_INITIAL = "initial"
BOX_SOURCES = (SOURCE_EXTERNAL, SOURCE_TRACKING, SOURCE_INITIAL)


def _fraction_box(name: str, values: Sequence[float]) -> Tuple[float, ...]:
    box = tuple(float(v) for v in values)
    if len(box) != 4 or not all(0.0 <= v <= 1.0 for v in box) or box[2] <= box[0] or box[3] <= box[1]:
        raise ValueError(f"{name} must be [x1, y1, x2, y2] fractions of the image in [0, 1] with x2 > x1, "
                         f"y2 > y1, got {list(values)}")
    return box


@dataclass(frozen=True)
class BoxSettings:
    """How boxes are chosen.

    initial_hand_box, initial_object_box: (4,) fractions of the image width / height.
    external_max_age: s, largest |image stamp - ROI stamp| for an external ROI to apply.
    tracking_max_age: s, largest image stamp - previous frame stamp for tracking to apply.
    hand_expansion, object_expansion: box scale about its centre when tracking (motion margin; the hand box
        is the box of the 2D joints, the object box the box of the projected control points).
    tracking_min_hand_score, tracking_min_object_score: scores a prediction needs to seed tracking.
    min_box_size: px, smallest side of a tracked box (smaller ones are grown about their centre).
    """

    initial_hand_box: Tuple[float, ...] = (0.3, 0.25, 0.7, 0.75)
    initial_object_box: Tuple[float, ...] = (0.35, 0.3, 0.65, 0.7)
    external_max_age: float = 0.1
    tracking_max_age: float = 0.5
    hand_expansion: float = 1.3
    object_expansion: float = 1.2
    tracking_min_hand_score: float = 0.0
    tracking_min_object_score: float = 0.0
    min_box_size: float = 24.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "initial_hand_box", _fraction_box("initial_hand_box", self.initial_hand_box))
        object.__setattr__(self, "initial_object_box", _fraction_box("initial_object_box", self.initial_object_box))
        for name in ("external_max_age", "tracking_max_age", "min_box_size"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value}")
        for name in ("hand_expansion", "object_expansion"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 1.0:
                raise ValueError(f"{name} must be a finite number >= 1, got {value}")


@dataclass(frozen=True)
class FrameBoxes:
    """The boxes used for one frame: hand (4,) px, object (4,) px, and where they came from."""

    hand: np.ndarray
    object: np.ndarray
    source: str


def fit_box(box: np.ndarray, width: int, height: int, min_size: float) -> Optional[np.ndarray]:
    """Grow `box` (4,) px to at least `min_size` per side, then clip it to the image; None if nothing remains."""
    box = np.asarray(box, dtype=np.float64)
    if box.shape != (4,) or not np.all(np.isfinite(box)):
        return None
    centre = (box[:2] + box[2:]) / 2
    half = np.maximum((box[2:] - box[:2]) / 2, min_size / 2)
    low = np.clip(centre - half, 0.0, (width, height))
    high = np.clip(centre + half, 0.0, (width, height))
    if np.any(high - low < 1.0):
        return None
    return np.concatenate((low, high))


def tracking_boxes(estimate: HandObjectEstimate, K: np.ndarray, control_points: np.ndarray,
                   settings: BoxSettings) -> Tuple[Optional[np.ndarray], Optional[np.ndarray]]:
    """Boxes (4,) px predicted for the next frame from one estimate, or None where it is not trusted.

    K: (3, 3) intrinsics of the estimate's image; control_points: (21, 3) m, object frame.
    Hand: the box of the estimated 2D joints. Object: the box of the control points projected with the
    estimated pose, else of the decoder's 2D control points. Each is expanded by its tracking factor.
    """
    hand_box = object_box = None
    hand, obj = estimate.hand, estimate.object
    if hand.score >= settings.tracking_min_hand_score and np.all(np.isfinite(hand.joints_2d)):
        hand_box = points_box(hand.joints_2d, settings.hand_expansion)
    if obj.score >= settings.tracking_min_object_score:
        points = obj.control_points_2d
        if obj.has_pose:
            camera_points = transform_points(control_points, obj.rotation, obj.translation)
            if np.all(camera_points[:, 2] > 0):
                points = project_points(camera_points, K)
        if np.all(np.isfinite(points)):
            object_box = points_box(points, settings.object_expansion)
    return hand_box, object_box


class BoxSelector:
    """Keeps the external ROIs and the tracked boxes, and picks the boxes of each frame."""

    def __init__(self, settings: BoxSettings) -> None:
        self.settings = settings
        self._external: Optional[Tuple[float, np.ndarray, np.ndarray]] = None
        self._tracked: Optional[Tuple[float, Optional[np.ndarray], Optional[np.ndarray]]] = None

    def set_external(self, stamp: float, hand_box: np.ndarray, object_box: np.ndarray) -> None:
        """ROIs from an external detector for the image stamped `stamp` (s); boxes (4,) px."""
        self._external = (float(stamp), np.asarray(hand_box, dtype=np.float64),
                          np.asarray(object_box, dtype=np.float64))

    def set_tracked(self, stamp: float, hand_box: Optional[np.ndarray], object_box: Optional[np.ndarray]) -> None:
        """Boxes (4,) px (None = not trusted) predicted from the frame stamped `stamp` (s)."""
        self._tracked = (float(stamp), hand_box, object_box)

    def reset(self) -> None:
        """Forget external ROIs and tracking (e.g. when the object or the camera changes)."""
        self._external = None
        self._tracked = None

    def select(self, stamp: float, width: int, height: int) -> FrameBoxes:
        """Boxes for the image stamped `stamp` (s) of size width x height px."""
        settings = self.settings
        if self._external is not None and abs(stamp - self._external[0]) <= settings.external_max_age:
            hand = fit_box(self._external[1], width, height, 1.0)
            obj = fit_box(self._external[2], width, height, 1.0)
            if hand is not None and obj is not None:
                return FrameBoxes(hand, obj, SOURCE_EXTERNAL)
        if self._tracked is not None and 0.0 <= stamp - self._tracked[0] <= settings.tracking_max_age:
            hand = None if self._tracked[1] is None else fit_box(self._tracked[1], width, height,
                                                                 settings.min_box_size)
            obj = None if self._tracked[2] is None else fit_box(self._tracked[2], width, height,
                                                                settings.min_box_size)
            if hand is not None and obj is not None:
                return FrameBoxes(hand, obj, SOURCE_TRACKING)
        scale = np.array([width, height, width, height], dtype=np.float64)
        return FrameBoxes(np.asarray(settings.initial_hand_box) * scale,
                          np.asarray(settings.initial_object_box) * scale, SOURCE_INITIAL)
