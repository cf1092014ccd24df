"""Where each frame's hand and object boxes come from (pure logic: no ROS, no model, no detector import).

Hand box, in order of preference:

1. ``external``: the latest ROIs of an external detector, when their stamp is within `external_max_age`;
2. ``detector``: the built-in hand detector, run when there is no track, and every `detect_every` frames
   while there is one (to re-acquire, to catch a second hand, and to judge the track: a detection that
   overlaps the tracked box confirms it; detections elsewhere and none at the track end it; a track no
   detection has seen for `max_unconfirmed` runs in a row ends too);
3. ``tracking``: the previous frame's 2D joints, boxed as the network was trained (joints' box x1.1, here
   also x `tracking_margin`) and moved by the box's velocity, while the hand score stays above
   `tracking_min_hand_score` and the previous frame is at most `tracking_max_age` old;
4. ``roi``: a configured initial box (fractions of the image), the last resort; without one, a frame with
   nothing found has no hand.

Which hand: `hand_selection` among the detections: "right" or "left" (that side only), "larger", or
"holding" (the hand whose box overlaps the tracked or external object box most; else the larger).
A detection's side is the detector's handedness unless `hand_side` forces "right" or "left".

Object box: ``external``; else ``tracking`` (the previous frame's control points, while the hand is tracked);
else ``hand``: a region centred on the hand box, `object_from_hand_scale` times its size (a held object
overlaps the hand), refined in the same frame from the object decoder's own control points (``refined``):
another pass when the refined box's IoU with the one used is below `refine_min_iou`, at most
`refine_max_passes` passes (`refine_object_box`).

Times are seconds (image stamps); boxes are [x1, y1, x2, y2] px of the image.
"""

from dataclasses import dataclass, field
from typing import Callable, Collection, Dict, List, Optional, Sequence, Tuple, TypeVar

import numpy as np

from hfl_ros.constants import HAND_BOX_EXPANSION
from hfl_ros.detection.hand_detector import HandDetection
from hfl_ros.geometry.boxes import box_area, box_centre, box_iou, clip_box, fraction_box, resize_box
from hfl_ros.geometry.camera import points_box, project_points, transform_points
from hfl_ros.results import HandObjectEstimate, ObjectEstimate

SOURCE_EXTERNAL = "external"
SOURCE_DETECTOR = "detector"
SOURCE_TRACKING = "tracking"
SOURCE_ROI = "roi"
SOURCE_HAND = "hand"
SOURCE_REFINED = "refined"
HAND_BOX_SOURCES = (SOURCE_EXTERNAL, SOURCE_DETECTOR, SOURCE_TRACKING, SOURCE_ROI)
OBJECT_BOX_SOURCES = (SOURCE_EXTERNAL, SOURCE_TRACKING, SOURCE_HAND, SOURCE_REFINED, SOURCE_ROI)
HAND_SELECTIONS = ("right", "left", "larger", "holding")
HAND_SIDES = ("auto", "right", "left")

Result = TypeVar("Result")


def roi_fractions(name: str, value: Optional[Sequence[float]]) -> Optional[Tuple[float, ...]]:
    """A box given as fractions of the image, checked (ValueError naming `name`); None for none or empty."""
    if value is None or len(value) == 0:
        return None
    box = tuple(float(v) for v in value)
    if len(box) != 4 or not all(0.0 <= v <= 1.0 for v in box) or box[2] <= box[0] or box[3] <= box[1]:
        raise ValueError(f"{name} must be [x1, y1, x2, y2] fractions of the image in [0, 1] with x2 > x1, "
                         f"y2 > y1 (or empty for none), got {list(value)}")
    return box


@dataclass(frozen=True)
class PolicySettings:
    """How boxes are chosen (see the module docstring for the order).

    detect_every: frames between detector runs while a hand is tracked (0 = only when there is no track).
    hand_selection: one of HAND_SELECTIONS; hand_side: one of HAND_SIDES.
    track_min_iou: IoU of the tracked box with a detection that confirms the track.
    max_unconfirmed: detector runs in a row that see no hand at the track before it ends.
    tracking_max_age: s; tracking_min_hand_score, tracking_min_object_score: scores that keep a track.
    tracking_margin: the tracked hand box is the joints' box x HAND_BOX_EXPANSION x this (room for motion).
    object_tracking_margin: the tracked object box is the control points' box x this.
    object_from_hand_scale: size of the hand-centred object region, relative to the hand box.
    refine_max_passes, refine_min_iou: the same-frame refinement of a hand-centred object box.
    refine_min_score, refine_min_points: control points (decoder confidence >= min score) needed to box
        the object when PnP found no pose.
    external_max_age: s, largest |image stamp - ROI stamp|.
    initial_hand_roi, initial_object_roi: fractions of the image; None = no last-resort box.
    min_box_size: px, smallest side of a box given to the network.
    """

    detect_every: int = 10
    hand_selection: str = "larger"
    hand_side: str = "auto"
    track_min_iou: float = 0.3
    max_unconfirmed: int = 3
    tracking_max_age: float = 0.5
    tracking_min_hand_score: float = 0.0
    tracking_min_object_score: float = 0.0
    tracking_margin: float = 1.2
    object_tracking_margin: float = 1.1
    object_from_hand_scale: float = 2.0
    refine_max_passes: int = 3
    refine_min_iou: float = 0.7
    refine_min_score: float = 0.5
    refine_min_points: int = 4
    external_max_age: float = 0.1
    initial_hand_roi: Optional[Tuple[float, ...]] = None
    initial_object_roi: Optional[Tuple[float, ...]] = None
    min_box_size: float = 24.0

    def __post_init__(self) -> None:
        if self.hand_selection not in HAND_SELECTIONS:
            raise ValueError(f"hand_selection must be one of {HAND_SELECTIONS}, got {self.hand_selection!r}")
        if self.hand_side not in HAND_SIDES:
            raise ValueError(f"hand_side must be one of {HAND_SIDES}, got {self.hand_side!r}")
        for name in ("detect_every", "max_unconfirmed"):
            if int(getattr(self, name)) != getattr(self, name) or getattr(self, name) < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {getattr(self, name)}")
        if int(self.refine_max_passes) != self.refine_max_passes or self.refine_max_passes < 1:
            raise ValueError(f"refine_max_passes must be an integer >= 1, got {self.refine_max_passes}")
        for name in ("track_min_iou", "refine_min_iou", "refine_min_score"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("tracking_margin", "object_tracking_margin", "object_from_hand_scale"):
            value = getattr(self, name)
            if not np.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a positive number, got {value}")
        for name in ("tracking_max_age", "external_max_age", "min_box_size"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value}")
        object.__setattr__(self, "initial_hand_roi", roi_fractions("initial_hand_roi", self.initial_hand_roi))
        object.__setattr__(self, "initial_object_roi", roi_fractions("initial_object_roi", self.initial_object_roi))


@dataclass(frozen=True)
class SourcedBox:
    """A box (4,) px and where it came from (one of HAND_BOX_SOURCES or OBJECT_BOX_SOURCES)."""

    box: np.ndarray
    source: str


@dataclass(frozen=True)
class HandTarget:
    """The hand to estimate in a frame: its box, its side ("right" / "left"), and the detection behind it."""

    box: SourcedBox
    side: str
    detection: Optional[HandDetection] = None


@dataclass(frozen=True)
class ExternalRois:
    """Boxes from an external detector for the image stamped `stamp` (s); each (4,) px or None.

    object_class: registry name of the object ("" = not given); side: "right" / "left" ("" = not given).
    """

    stamp: float
    hand_box: Optional[np.ndarray]
    object_box: Optional[np.ndarray]
    object_class: str = ""
    side: str = ""


@dataclass
class _Track:
    stamp: float
    side: str
    hand_box: Optional[np.ndarray]
    object_box: Optional[np.ndarray]
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))
    unconfirmed: int = 0


def object_box_from_estimate(obj: ObjectEstimate, K: np.ndarray, control_points: np.ndarray,
                             min_score: float = 0.5, min_points: int = 4) -> Optional[np.ndarray]:
    """The object box (4,) px seen by an estimate, as the network's object boxes are made (unexpanded).

    With a pose: the box of the 21 control points (21, 3) m, object frame, projected with K (3, 3) (when all
    lie in front of the camera). Without: the box of the decoder's 2D control points whose confidence is at
    least `min_score`, if there are `min_points` of them. Else None.
    """
    if obj.has_pose:
        camera_points = transform_points(np.asarray(control_points, dtype=np.float64), obj.rotation, obj.translation)
        if np.all(camera_points[:, 2] > 0):
            return points_box(project_points(camera_points, K))
    confident = np.asarray(obj.control_point_scores) >= min_score
    points = np.asarray(obj.control_points_2d)[confident]
    if len(points) < max(min_points, 1) or not np.all(np.isfinite(points)):
        return None
    return points_box(points)


def refine_object_box(run: Callable[[np.ndarray], Result], start: SourcedBox,
                      box_of: Callable[[Result], Optional[np.ndarray]],
                      settings: PolicySettings) -> Tuple[Result, SourcedBox, int]:
    """Run the network with an object box and, for a hand-centred or refined start, refine it in the frame.

    run(object_box (4,) px) -> a result; box_of(result) -> the object box (4,) px it predicts, or None.
    A new pass runs with the predicted box (source "refined") while that box's IoU with the box used is
    below `refine_min_iou`, at most `refine_max_passes` passes in all. Boxes from other sources get one pass.
    Returns (the last result, the box it was made with, the number of passes).
    """
    box, passes = start, 0
    while True:
        result = run(box.box)
        passes += 1
        if box.source not in (SOURCE_HAND, SOURCE_REFINED) or passes >= settings.refine_max_passes:
            return result, box, passes
        predicted = box_of(result)
        if predicted is None or box_iou(predicted, box.box) >= settings.refine_min_iou:
            return result, box, passes
        box = SourcedBox(predicted, SOURCE_REFINED)


def select_hand(detections: Sequence[HandDetection], selection: str, side_of: Callable[[HandDetection], str],
                object_box: Optional[np.ndarray] = None) -> Optional[HandDetection]:
    """The detection to follow: by side ("right" / "left": that side only, the larger), "larger", or
    "holding" (largest overlap with `object_box` (4,) px relative to the hand's area; the larger without one)."""
    candidates = list(detections)
    if selection in ("right", "left"):
        candidates = [detection for detection in candidates if side_of(detection) == selection]
    if not candidates:
        return None
    if selection == "holding" and object_box is not None:
        def held(detection: HandDetection) -> float:
            box = detection.box
            overlap = np.clip(np.minimum(box[2:], object_box[2:]) - np.maximum(box[:2], object_box[:2]), 0, None)
            return float(overlap.prod()) / max(box_area(box), 1e-9)
        best = max(candidates, key=held)
        if held(best) > 0:
            return best
    return max(candidates, key=lambda detection: box_area(detection.box))


def frame_object_name(external: Optional[ExternalRois], parameter: str, known: Collection[str]) -> Tuple[str, Optional[str]]:
    """The object of a frame: the external ROI's class when given and registered, else the `object` parameter.

    Returns (name, warning): warning names an external class that is not in `known` (None otherwise).
    """
    if external is None or not external.object_class:
        return parameter, None
    if external.object_class in known:
        return external.object_class, None
    return parameter, (f"external ROI object class {external.object_class!r} is not registered; "
                       f"using {parameter!r}")


class BoxPolicy:
    """Keeps external ROIs and the track, and picks each frame's hand and object boxes (module docstring).

    Per frame: `detection_due` (run the detector?), `hints` (where to search), `choose_hand`, `object_start`,
    then `observe` with the estimate. `counts` holds detector_runs, track_losses and reacquisitions.
    """

    def __init__(self, settings: PolicySettings = PolicySettings(), detector: bool = False) -> None:
        self.settings = settings
        self.detector = bool(detector)
        self._external: Optional[ExternalRois] = None
        self._track: Optional[_Track] = None
        self._since_detection = 0
        self._lost = False
        self.counts: Dict[str, int] = {"detector_runs": 0, "track_losses": 0, "reacquisitions": 0}

    def set_external(self, rois: ExternalRois) -> None:
        self._external = rois

    def reset(self) -> None:
        """Forget external ROIs and the track (e.g. when the object or the camera changes)."""
        self._external = None
        self._track = None
        self._since_detection = 0

    def external(self, stamp: float) -> Optional[ExternalRois]:
        """The external ROIs that apply to the image stamped `stamp` (s), or None."""
        rois = self._external
        if rois is not None and abs(stamp - rois.stamp) <= self.settings.external_max_age:
            return rois
        return None

    def _live_track(self, stamp: float) -> Optional[_Track]:
        track = self._track
        if track is None or track.hand_box is None:
            return None
        if not 0.0 <= stamp - track.stamp <= self.settings.tracking_max_age:
            self._end_track()
            return None
        return track

    def _end_track(self) -> None:
        if self._track is not None:
            self.counts["track_losses"] += 1
            self._lost = True
        self._track = None

    def detection_due(self, stamp: float) -> bool:
        """Whether the detector should run on the image stamped `stamp` (s)."""
        if not self.detector or (self.external(stamp) is not None and self.external(stamp).hand_box is not None):
            return False
        if self._live_track(stamp) is None:
            return True
        every = self.settings.detect_every
        return every > 0 and self._since_detection + 1 >= every

    def hints(self, stamp: float) -> List[np.ndarray]:
        """Boxes (4,) px where a hand is expected in the image stamped `stamp` (for the detector's crops)."""
        track = self._live_track(stamp)
        return [] if track is None else [self._predicted_hand_box(track, stamp)]

    def _fitter(self, image_size: Tuple[int, int]) -> Callable[[np.ndarray], Optional[np.ndarray]]:
        """box (4,) px -> the box grown to min_box_size and clipped to the image (None when outside it)."""
        width, height = image_size
        return lambda box: clip_box(box, width, height, self.settings.min_box_size)

    def _external_box(self, stamp: float, part: str,
                      fit: Callable[[np.ndarray], Optional[np.ndarray]]) -> Optional[np.ndarray]:
        """The fitted `part` ("hand_box" / "object_box") of the external ROIs for `stamp`, or None."""
        external = self.external(stamp)
        box = None if external is None else getattr(external, part)
        return None if box is None else fit(box)

    def _side_of(self, detection: HandDetection) -> str:
        return detection.handedness if self.settings.hand_side == "auto" else self.settings.hand_side

    def _default_side(self) -> str:
        return "right" if self.settings.hand_side == "auto" else self.settings.hand_side

    @staticmethod
    def _moved(box: np.ndarray, track: _Track, stamp: float) -> np.ndarray:
        """A tracked box (4,) px moved by the hand's velocity to the image stamped `stamp` (s)."""
        shift = track.velocity * (stamp - track.stamp)
        return box + np.concatenate((shift, shift))

    def _predicted_hand_box(self, track: _Track, stamp: float) -> np.ndarray:
        return self._moved(track.hand_box, track, stamp)

    def choose_hand(self, stamp: float, image_size: Tuple[int, int],
                    detections: Optional[Sequence[HandDetection]] = None) -> Optional[HandTarget]:
        """The hand of the image stamped `stamp` (s) of size (W, H) px; detections: this frame's detector
        output (None when the detector did not run). None when no hand is to be estimated."""
        width, height = image_size
        fit = self._fitter(image_size)
        box = self._external_box(stamp, "hand_box", fit)
        if box is not None:
            return HandTarget(SourcedBox(box, SOURCE_EXTERNAL), self.external(stamp).side or self._default_side())
        track = self._live_track(stamp)
        self._since_detection += 1
        if detections is not None:
            self.counts["detector_runs"] += 1
            self._since_detection = 0
            target = self._judge_track(stamp, track, detections, fit)
            if target is not None or self._track is not None:
                return target
            track = None
        if track is not None:
            box = fit(self._predicted_hand_box(track, stamp))
            if box is not None:
                return HandTarget(SourcedBox(box, SOURCE_TRACKING), track.side)
        if self.settings.initial_hand_roi is not None:
            return HandTarget(SourcedBox(fraction_box(self.settings.initial_hand_roi, width, height), SOURCE_ROI),
                              self._default_side())
        return None

    def _judge_track(self, stamp: float, track: Optional[_Track], detections: Sequence[HandDetection],
                     fit: Callable[[np.ndarray], Optional[np.ndarray]]) -> Optional[HandTarget]:
        """Update the track with this frame's detections; the target they give (None: keep the track or none)."""
        match = None
        if track is not None:
            predicted = self._predicted_hand_box(track, stamp)
            scored = [(box_iou(predicted, detection.box), detection) for detection in detections]
            best = max(scored, key=lambda pair: pair[0], default=(0.0, None))
            if best[0] >= self.settings.track_min_iou:
                match, track.unconfirmed = best[1], 0
            elif detections:
                self._end_track()
                track = None
            else:
                track.unconfirmed += 1
                if track.unconfirmed >= self.settings.max_unconfirmed:
                    self._end_track()
                    track = None
        object_hint = None if track is None else track.object_box
        external = self.external(stamp)
        if object_hint is None and external is not None:
            object_hint = external.object_box
        chosen = select_hand(detections, self.settings.hand_selection, self._side_of, object_hint)
        if track is not None and (chosen is None or chosen is match):
            box = fit(self._predicted_hand_box(track, stamp))
            if box is not None:
                return HandTarget(SourcedBox(box, SOURCE_TRACKING), track.side, match)
        if chosen is None:
            return None
        box = fit(chosen.box)
        if box is None:
            return None
        if track is not None:
            self._track = None
        if self._lost:
            self.counts["reacquisitions"] += 1
            self._lost = False
        return HandTarget(SourcedBox(box, SOURCE_DETECTOR), self._side_of(chosen), chosen)

    def object_start(self, stamp: float, image_size: Tuple[int, int], hand: HandTarget) -> SourcedBox:
        """The object box to start from in the image stamped `stamp` (s), given the frame's hand."""
        width, height = image_size
        fit = self._fitter(image_size)
        box = self._external_box(stamp, "object_box", fit)
        if box is not None:
            return SourcedBox(box, SOURCE_EXTERNAL)
        track = self._track
        if hand.box.source == SOURCE_TRACKING and track is not None and track.object_box is not None:
            box = fit(self._moved(track.object_box, track, stamp))
            if box is not None:
                return SourcedBox(box, SOURCE_TRACKING)
        if hand.box.source == SOURCE_ROI and self.settings.initial_object_roi is not None:
            return SourcedBox(fraction_box(self.settings.initial_object_roi, width, height), SOURCE_ROI)
        hand_box = hand.box.box
        size = (hand_box[2:] - hand_box[:2]) * self.settings.object_from_hand_scale
        box = fit(resize_box(hand_box, size))
        return SourcedBox(hand_box if box is None else box, SOURCE_HAND)

    def observe(self, stamp: float, hand: Optional[HandTarget], estimate: Optional[HandObjectEstimate],
                K: np.ndarray, control_points: np.ndarray) -> None:
        """Seed the next frame's tracking from this frame's estimate (None = nothing estimated).

        K: (3, 3) intrinsics of the image; control_points: (21, 3) m, object frame, of the frame's object.
        """
        settings = self.settings
        if estimate is None or hand is None:
            if self._track is not None and hand is None:
                self._end_track()
            return
        hand_box = None
        if estimate.hand.score >= settings.tracking_min_hand_score and np.all(np.isfinite(estimate.hand.joints_2d)):
            hand_box = points_box(estimate.hand.joints_2d, HAND_BOX_EXPANSION * settings.tracking_margin)
        if hand_box is None:
            self._end_track()
            return
        object_box = None
        if estimate.object.score >= settings.tracking_min_object_score:
            object_box = object_box_from_estimate(estimate.object, K, control_points, settings.refine_min_score,
                                                  settings.refine_min_points)
        if object_box is not None:
            object_box = resize_box(object_box, (object_box[2:] - object_box[:2]) * settings.object_tracking_margin)
        previous = self._track
        velocity = np.zeros(2)
        if previous is not None and previous.hand_box is not None and stamp > previous.stamp:
            velocity = (box_centre(hand_box) - box_centre(previous.hand_box)) / (stamp - previous.stamp)
        unconfirmed = 0 if previous is None else previous.unconfirmed
        self._track = _Track(float(stamp), hand.side, hand_box, object_box, velocity, unconfirmed)
